/**
 * Loads one Todd et al. (2024) task file: from the mirror, else the download cache, else the
 * pinned GitHub commit (sha256-checked, then cached atomically).
 *
 * @module
 */

import { didYouMean } from "../util/suggest.ts";
import { isFile, isOffline } from "../hub/sources.ts";
import { atomicWrite } from "../util/atomic_write.ts";
import { FormatError, NotFoundError, SoupError } from "../util/errors.ts";
import { PINNED_FILES, TODD_BASE_URL, TODD_COMMIT } from "./_pinned_files.ts";
import { parseTaskItems, sha256Hex } from "./_task_file.ts";
import { randomizeTask } from "./randomize_task.ts";
import { taskCacheDir, taskMirrorDir, type TaskSourceOptions } from "./task_sources.ts";
import type { Task, TaskKind } from "./types.ts";

/** The suffix that asks {@linkcode loadTask} for a task with shuffled outputs. */
const RANDOMIZED = "_randomized";

const KINDS: readonly TaskKind[] = ["abstractive", "extractive"];

/**
 * Options of {@linkcode loadTask}: where to look, and the seed of a randomized task.
 *
 * @example
 * ```ts
 * import { loadTask, type LoadTaskOptions } from "./load_task.ts";
 * const options: LoadTaskOptions = { offline: true, seed: 2 };
 * const task = await loadTask("present-past_randomized", options);
 * if (task.shuffleSeed !== 2) throw new Error("seed not used");
 * ```
 */
export interface LoadTaskOptions extends TaskSourceOptions {
  /** Seed of the output shuffle for a `<task>_randomized` name. @default 0 */
  seed?: number;
}

/**
 * Loads a task by name, e.g. `"antonym"` or `"country-capital"`.
 *
 * Lookup order: `<mirror>/function_vectors/<kind>/<name>.json` (trusted as is, so a mirror may
 * hold tasks of its own); `<cacheDir>/<kind>/<name>.json` (a file downloaded earlier; its sha256
 * is checked again); a download of `<baseUrl>/<kind>/<name>.json` from the pinned commit of
 * github.com/ericwtodd/function_vectors, whose sha256 must equal the pinned one before it is
 * written to the cache. Only the 56 pinned tasks can be downloaded.
 *
 * A name ending in `_randomized` (`"antonym_randomized"`) loads the task and shuffles its
 * outputs with `options.seed` (see {@linkcode randomizeTask}).
 *
 * @param name Task name, optionally with the `_randomized` suffix.
 * @param options Where to look (`mirror`, `cacheDir`, `offline`, `baseUrl`) and the `seed` of a
 * randomized task.
 * @returns The task with its pairs in file order, the file it was read from and its sha256.
 * @throws {NotFoundError} when the name is unknown, or the file is in neither the mirror nor the
 * cache and the network may not be used (the message says where it looked).
 * @throws {FormatError} when a file is not a JSON array of `{input: string, output: string}`,
 * or a downloaded or cached file does not have the pinned sha256 (a download is then not cached).
 * @throws {SoupError} when the download fails.
 *
 * @example Load antonym from the mirror
 * ```ts
 * import { loadTask } from "./load_task.ts";
 * const task = await loadTask("antonym");
 * if (task.kind !== "abstractive" || task.items.length !== 2398) throw new Error("bad task");
 * if (typeof task.items[0].input !== "string") throw new Error("bad item");
 * ```
 *
 * @example A randomized task keeps the inputs and the multiset of outputs
 * ```ts
 * import { loadTask } from "./load_task.ts";
 * const plain = await loadTask("country-capital");
 * const shuffled = await loadTask("country-capital_randomized", { seed: 1 });
 * if (shuffled.name !== "country-capital_randomized") throw new Error(shuffled.name);
 * const sorted = (t: typeof plain) => t.items.map((x) => x.output).sort().join("|");
 * if (sorted(plain) !== sorted(shuffled)) throw new Error("outputs changed");
 * ```
 */
export async function loadTask(name: string, options: LoadTaskOptions = {}): Promise<Task> {
  if (name.endsWith(RANDOMIZED) && name.length > RANDOMIZED.length) {
    const base = await loadTask(name.slice(0, -RANDOMIZED.length), options);
    return randomizeTask(base, options.seed ?? 0);
  }
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(name) || name.includes("..")) {
    throw new NotFoundError(
      `Cannot load task "${name}": a task name holds only letters, digits, "_", "-" and "."`,
    );
  }

  const mirror = taskMirrorDir(options);
  if (mirror !== undefined) {
    for (const kind of KINDS) {
      const file = `${mirror}/${kind}/${name}.json`;
      if (isFile(file)) {
        const bytes = await readBytes(file);
        const items = parseTaskItems(file, bytes);
        return { name, kind, items, source: file, sha256: await sha256Hex(bytes) };
      }
    }
  }

  const pinned = PINNED_FILES.get(name);
  const mirrorText = mirror === undefined
    ? "no mirror is set"
    : `it is not in the mirror "${mirror}"`;
  if (pinned === undefined) {
    throw new NotFoundError(
      `Cannot load task "${name}"${didYouMean(name, PINNED_FILES.keys())}: ${mirrorText}, and ` +
        `it is not one of the ${PINNED_FILES.size} ` +
        `tasks pinned at commit ${TODD_COMMIT} of ericwtodd/function_vectors (see listTasks(), or soup tasks)`,
    );
  }

  const cacheDir = taskCacheDir(options);
  const cached = `${cacheDir}/${pinned.kind}/${name}.json`;
  if (isFile(cached)) {
    const bytes = await readBytes(cached);
    const sha = await sha256Hex(bytes);
    if (sha !== pinned.sha256) {
      throw FormatError.at(
        cached,
        `sha256 is ${sha}, expected ${pinned.sha256} (commit ${TODD_COMMIT}); delete the file ` +
          `to download it again`,
      );
    }
    const items = parseTaskItems(cached, bytes);
    return { name, kind: pinned.kind, items, source: cached, sha256: sha };
  }

  const baseUrl = (options.baseUrl ?? TODD_BASE_URL).replace(/\/+$/, "");
  const url = `${baseUrl}/${pinned.kind}/${name}.json`;
  if (isOffline(options)) {
    throw new NotFoundError(
      `Cannot load task "${name}": offline (HF_HUB_OFFLINE or the offline option), ${mirrorText}, ` +
        `and it is not in the cache "${cached}" (it would be downloaded from "${url}")`,
      { file: cached },
    );
  }
  const bytes = await download(url, name, mirrorText, cached);
  const sha = await sha256Hex(bytes);
  if (sha !== pinned.sha256) {
    throw FormatError.at(
      url,
      `sha256 is ${sha}, expected ${pinned.sha256} (commit ${TODD_COMMIT}); nothing was cached`,
    );
  }
  const items = parseTaskItems(url, bytes);
  await Deno.mkdir(`${cacheDir}/${pinned.kind}`, { recursive: true });
  await atomicWrite(cached, bytes);
  return { name, kind: pinned.kind, items, source: cached, sha256: sha };
}

async function readBytes(file: string): Promise<Uint8Array> {
  try {
    return await Deno.readFile(file);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new NotFoundError(`Cannot read "${file}": no such file`, { file, cause: e });
    }
    throw new SoupError(`Cannot read "${file}": ${(e as Error).message}`, { file, cause: e });
  }
}

async function download(
  url: string,
  name: string,
  mirrorText: string,
  cached: string,
): Promise<Uint8Array> {
  const where = `task "${name}": ${mirrorText}, and it is not in the cache "${cached}"`;
  let response: Response;
  try {
    response = await fetch(url);
  } catch (e) {
    throw new SoupError(`Cannot download "${url}" (${(e as Error).message}) for ${where}`, {
      file: url,
      cause: e,
    });
  }
  if (!response.ok) {
    await response.body?.cancel();
    throw new SoupError(
      `Cannot download "${url}" (HTTP ${response.status} ${response.statusText}) for ${where}`,
      { file: url },
    );
  }
  try {
    return new Uint8Array(await response.arrayBuffer());
  } catch (e) {
    throw new SoupError(`Cannot download "${url}" (${(e as Error).message}) for ${where}`, {
      file: url,
      cause: e,
    });
  }
}
