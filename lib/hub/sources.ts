/**
 * Where models, tokenizers and data come from: a local mirror folder, the standard Hugging Face
 * cache (so a checkpoint a user already downloaded with Python is reused), or the hub itself.
 *
 * The mirror is laid out like `../shared/data/` of this project's CI:
 * `tokenizer/gpt-neox-20b/tokenizer.json`, `function_vectors/...`, `news/...`, and optionally
 * `models/<org>/<name>/` checkpoint folders.
 *
 * @module
 */

import { NotFoundError, SoupError } from "../util/errors.ts";

/** Options shared by everything that locates files. */
export interface SourceOptions {
  /**
   * Mirror folder. @default `$SOUP_MIRROR`, else `../shared/data` beside the project when that
   * folder exists, else none
   */
  mirror?: string | null;
  /** HF hub cache folder. @default `$HF_HUB_CACHE`, `$HF_HOME/hub`, `~/.cache/huggingface/hub` */
  cacheDir?: string;
  /** Never touch the network. @default `$HF_HUB_OFFLINE` is "1" or "true" */
  offline?: boolean;
  /** Hub endpoint to download from. @default `$HF_ENDPOINT`, else `https://huggingface.co` */
  hubUrl?: string;
}

/** The project's root folder (beside which `../shared/data` is looked for). */
export const PROJECT_ROOT: string = decodeURIComponent(
  new URL("../../", import.meta.url).pathname,
).replace(/\/$/, "");

/**
 * A folder of the project's cache: `$SOUP_CACHE/<name>` when SOUP_CACHE is set, else
 * `<project>/data/cache/<name>` (ignored by git). Task files, the state store and the
 * experiments' partial results live there.
 *
 * @example
 * ```ts
 * import { soupCacheDir } from "./sources.ts";
 * if (!soupCacheDir("states").endsWith("/states")) throw new Error(soupCacheDir("states"));
 * ```
 */
export function soupCacheDir(name: string): string {
  const env = Deno.env.get("SOUP_CACHE");
  return env ? `${env.replace(/(.)\/+$/, "$1")}/${name}` : `${PROJECT_ROOT}/data/cache/${name}`;
}

/** A path inside the project as a path relative to its root (others unchanged), for messages. *
 * @example
 * ```ts
 * import { projectPath } from "./sources.ts";
 * const readme = new URL("../../README.md", import.meta.url).pathname;
 * if (projectPath(readme) !== "README.md") throw new Error(projectPath(readme));
 * if (projectPath("/elsewhere/x") !== "/elsewhere/x") throw new Error();
 * ```
 */
export function projectPath(path: string): string {
  return path.startsWith(`${PROJECT_ROOT}/`) ? path.slice(PROJECT_ROOT.length + 1) : path;
}

/**
 * The mirror folder in use, or undefined. An explicit folder that does not exist is an error.
 *
 * @example
 * ```ts
 * import { mirrorDir } from "./sources.ts";
 * if (mirrorDir({ mirror: null }) !== undefined) throw new Error("null turns the mirror off");
 * ```
 */
export function mirrorDir(options: SourceOptions = {}): string | undefined {
  if (options.mirror === null) return undefined;
  const explicit = options.mirror ?? Deno.env.get("SOUP_MIRROR");
  if (explicit) {
    if (!isDir(explicit)) {
      throw new NotFoundError(`Cannot use the mirror "${explicit}": no such directory`, {
        file: explicit,
      });
    }
    return explicit.replace(/\/$/, "");
  }
  const beside = `${PROJECT_ROOT}/../shared/data`;
  return isDir(beside) ? beside : undefined;
}

/** The Hugging Face hub cache folder, resolved the way `huggingface_hub` does. */
export function hfHubCacheDir(options: SourceOptions = {}): string {
  if (options.cacheDir) return options.cacheDir;
  const env = (k: string) => Deno.env.get(k) || undefined;
  const hubCache = env("HF_HUB_CACHE") ?? env("HUGGINGFACE_HUB_CACHE");
  if (hubCache) return hubCache;
  const home = env("HF_HOME") ??
    `${env("XDG_CACHE_HOME") ?? `${env("HOME") ?? "."}/.cache`}/huggingface`;
  return `${home}/hub`;
}

/** Whether the network must not be used. */
export function isOffline(options: SourceOptions = {}): boolean {
  if (options.offline !== undefined) return options.offline;
  const v = (Deno.env.get("HF_HUB_OFFLINE") ?? "").toLowerCase();
  return v === "1" || v === "true" || v === "yes";
}

/**
 * Finds `file` of a hub repo in the HF cache (`models--org--name/snapshots/<rev>/file`),
 * preferring the revision `refs/<revision>` points at.
 */
export function findInHfCache(
  repoId: string,
  file: string,
  options: SourceOptions & { revision?: string; repoType?: "model" | "dataset" } = {},
): string | undefined {
  const kind = options.repoType === "dataset" ? "datasets" : "models";
  const folder = `${hfHubCacheDir(options)}/${kind}--${repoId.replaceAll("/", "--")}`;
  const revision = options.revision ?? "main";
  let commits: string[] = [];
  try {
    const ref = Deno.readTextFileSync(`${folder}/refs/${revision}`).trim();
    commits.push(ref);
  } catch { /* no ref: a commit hash or any snapshot */ }
  if (/^[0-9a-f]{40}$/.test(revision)) commits.push(revision);
  try {
    for (const e of Deno.readDirSync(`${folder}/snapshots`)) {
      if (e.isDirectory && !commits.includes(e.name)) commits.push(e.name);
    }
  } catch {
    return undefined;
  }
  if (options.revision !== undefined && !/^[0-9a-f]{40}$/.test(revision)) {
    commits = commits.slice(0, 1);
  }
  for (const commit of commits) {
    const path = `${folder}/snapshots/${commit}/${file}`;
    if (isFile(path)) return path;
  }
  return undefined;
}

/**
 * Downloads one file of a hub model repo into the HF cache (through `@huggingface/hub`, loaded
 * only when needed) and returns its path. Fails with a clear message when offline.
 */
export async function downloadToHfCache(
  repoId: string,
  file: string,
  options: SourceOptions & { revision?: string; repoType?: "model" | "dataset" } = {},
): Promise<string> {
  if (isOffline(options)) {
    throw new NotFoundError(
      `Cannot fetch "${file}" of "${repoId}": offline (HF_HUB_OFFLINE) and it is not in the ` +
        `mirror or in the Hugging Face cache at "${hfHubCacheDir(options)}"`,
    );
  }
  const hub = await import("npm:@huggingface/hub@2.17.5");
  try {
    return await hub.downloadFileToCacheDir({
      repo: { type: options.repoType ?? "model", name: repoId },
      path: file,
      revision: options.revision,
      cacheDir: hfHubCacheDir(options),
      hubUrl: (options.hubUrl ?? (Deno.env.get("HF_ENDPOINT") || undefined))?.replace(/\/+$/, ""),
      accessToken: Deno.env.get("HF_TOKEN") || undefined,
    });
  } catch (err) {
    throw new SoupError(
      `Cannot fetch "${file}" of "${repoId}" from the Hugging Face hub (${
        (err as Error).message
      }); it is not in the mirror or the cache at "${hfHubCacheDir(options)}" either`,
      { cause: err },
    );
  }
}

/** Whether `path` is an existing directory. */
export function isDir(path: string): boolean {
  try {
    return Deno.statSync(path).isDirectory;
  } catch {
    return false;
  }
}

/** Whether `path` is an existing file (following links). */
export function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}
