/**
 * Turns a model name into a local checkpoint folder and finds Mamba's tokenizer, looking in
 * order at: a local folder, the mirror, the Hugging Face cache, and finally the hub.
 *
 * @module
 */

import { nearestName } from "../util/suggest.ts";
import { NotFoundError } from "../util/errors.ts";
import { parseSafetensorsIndex } from "../model/safetensors.ts";
import {
  downloadToHfCache,
  findInHfCache,
  hfHubCacheDir,
  isDir,
  isFile,
  isOffline,
  mirrorDir,
  PROJECT_ROOT,
  type SourceOptions,
} from "./sources.ts";

/** The tokenizer every Mamba checkpoint of state-spaces uses. */
export const MAMBA_TOKENIZER_REPO = "EleutherAI/gpt-neox-20b";

/** Options of {@link resolveModelDir}. */
export interface ResolveOptions extends SourceOptions {
  /** Hub revision (branch, tag or commit). @default "main" */
  revision?: string;
  /** Called with a line of progress (downloads). @default prints to stderr */
  onProgress?: (line: string) => void;
}

/**
 * Checkpoints shipped inside this repository, by the name `--model` takes: `organism` is the
 * project's model organism (`data/models/organism/`, trained by `tools/organism/train.py`), a
 * small Mamba that learns Todd et al.'s tasks in context.
 *
 * @example
 * ```ts
 * import { BUNDLED_MODELS } from "./resolve.ts";
 * if (!BUNDLED_MODELS.organism.endsWith("/data/models/organism")) throw new Error();
 * ```
 */
export const BUNDLED_MODELS: Readonly<Record<string, string>> = Object.freeze({
  organism: `${PROJECT_ROOT}/data/models/organism`,
});

const looksLikePath = (s: string) => /^(\.{0,2}\/|~)/.test(s) || s.split("/").length > 2;

/**
 * A checkpoint folder holding `config.json` and safetensors weights for `model`: a folder path,
 * the name of a checkpoint shipped with the project ({@link BUNDLED_MODELS}: `organism`), or a
 * hub id such as `state-spaces/mamba-130m-hf` found in the mirror (`models/<id>/`), in the HF
 * cache, or downloaded into the HF cache.
 *
 * @example
 * ```ts
 * import { resolveModelDir } from "./resolve.ts";
 * import { tinyMambaConfig, writeRandomCheckpoint } from "../model/random_checkpoint.ts";
 * const dir = await Deno.makeTempDir();
 * await writeRandomCheckpoint(dir, tinyMambaConfig());
 * if (await resolveModelDir(dir) !== dir) throw new Error("a folder is used as it is");
 * ```
 */
export async function resolveModelDir(
  model: string,
  options: ResolveOptions = {},
): Promise<string> {
  if (isDir(model)) {
    if (!isFile(`${model}/config.json`)) {
      throw new NotFoundError(`Cannot use "${model}" as a model: it has no config.json`, {
        file: model,
      });
    }
    return model.replace(/\/$/, "");
  }
  const bundled = Object.hasOwn(BUNDLED_MODELS, model) ? BUNDLED_MODELS[model] : undefined;
  if (bundled !== undefined) {
    if (!isFile(`${bundled}/config.json`) || !isFile(`${bundled}/model.safetensors`)) {
      throw new NotFoundError(
        `Cannot use the bundled model "${model}": "${bundled}" lacks config.json or ` +
          `model.safetensors (a partial clone? the file is committed in the repository)`,
        { file: bundled },
      );
    }
    return bundled;
  }
  if (looksLikePath(model)) {
    throw new NotFoundError(`Cannot use "${model}" as a model: no such directory`, { file: model });
  }
  // A bare name near a bundled one is a misspelling, not a hub id (Mamba's are org/name).
  const near = model.includes("/") ? undefined : nearestName(model, Object.keys(BUNDLED_MODELS));
  if (near !== undefined) {
    throw new NotFoundError(
      `Cannot use "${model}" as a model (did you mean "${near}"?): it is no folder, no model ` +
        `shipped with the project, and a hub id has the form org/name`,
    );
  }
  const mirror = mirrorDir(options);
  if (mirror !== undefined && isFile(`${mirror}/models/${model}/config.json`)) {
    return `${mirror}/models/${model}`;
  }
  const cachedConfig = findInHfCache(model, "config.json", options);
  if (cachedConfig !== undefined) {
    const snapshot = cachedConfig.slice(0, -"/config.json".length);
    if (isFile(`${snapshot}/model.safetensors`)) return snapshot;
    const index = `${snapshot}/model.safetensors.index.json`;
    if (isFile(index) && shardsOf(index).every((s) => isFile(`${snapshot}/${s}`))) return snapshot;
  }
  return await download(model, options);
}

async function download(model: string, options: ResolveOptions): Promise<string> {
  const say = options.onProgress ?? ((line: string) => console.error(line));
  const get = async (file: string) => {
    if (isOffline(options)) return await downloadToHfCache(model, file, options); // throws
    say(`Fetching ${model}/${file} into ${hfHubCacheDir(options)}`);
    return await downloadToHfCache(model, file, options);
  };
  const config = await get("config.json");
  const snapshot = config.slice(0, -"/config.json".length);
  let index: string | undefined;
  try {
    index = await get("model.safetensors.index.json");
  } catch {
    index = undefined;
  }
  if (index === undefined) {
    await get("model.safetensors");
  } else {
    for (const shard of shardsOf(index)) await get(shard);
  }
  return snapshot;
}

function shardsOf(indexFile: string): string[] {
  return parseSafetensorsIndex(Deno.readFileSync(indexFile), indexFile).shards;
}

/**
 * The path of a GPT-NeoX-20B `tokenizer.json` for a model: the model folder's own, else the
 * mirror's `tokenizer/gpt-neox-20b/tokenizer.json`, else the HF cache, else a download.
 *
 * @example
 * ```ts ignore
 * const path = await resolveTokenizerFile("state-spaces/mamba-2.8b-hf");
 * ```
 */
export async function resolveTokenizerFile(
  model?: string,
  options: ResolveOptions = {},
): Promise<string> {
  if (model !== undefined && isDir(model)) {
    if (isFile(`${model}/tokenizer.json`)) return `${model}/tokenizer.json`;
  }
  const mirror = mirrorDir(options);
  if (mirror !== undefined) {
    const inMirror = `${mirror}/tokenizer/gpt-neox-20b/tokenizer.json`;
    if (isFile(inMirror)) return inMirror;
  }
  const repos = [model, MAMBA_TOKENIZER_REPO].filter((r): r is string =>
    r !== undefined && !isDir(r) && !looksLikePath(r)
  );
  for (const repo of repos) {
    const cached = findInHfCache(repo, "tokenizer.json", options);
    if (cached !== undefined) return cached;
  }
  let lastError: unknown;
  for (const repo of repos) {
    try {
      return await downloadToHfCache(repo, "tokenizer.json", options);
    } catch (err) {
      lastError = err;
    }
  }
  throw new NotFoundError(
    `Cannot find tokenizer.json: not beside the model, not in the mirror${
      mirror ? ` "${mirror}"` : " (none set: SOUP_MIRROR)"
    }, not in the Hugging Face cache "${hfHubCacheDir(options)}"${
      lastError ? ` and the download failed (${(lastError as Error).message})` : ""
    }`,
    { cause: lastError },
  );
}
