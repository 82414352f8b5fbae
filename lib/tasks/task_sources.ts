/**
 * Where task files come from: the mirror folder's `function_vectors/<kind>/<name>.json` when it
 * holds the file, else the download cache, else a download from the pinned commit of
 * github.com/ericwtodd/function_vectors (checked against the pinned sha256, then cached).
 *
 * @module
 */

import { mirrorDir, soupCacheDir } from "../hub/sources.ts";

/**
 * Options that say where task files are looked for.
 *
 * @example No mirror, a cache of one's own, never the network
 * ```ts
 * import { taskCacheDir, taskMirrorDir, type TaskSourceOptions } from "./task_sources.ts";
 * const options: TaskSourceOptions = { mirror: null, cacheDir: "/tmp/fv", offline: true };
 * if (taskMirrorDir(options) !== undefined || taskCacheDir(options) !== "/tmp/fv") {
 *   throw new Error("options ignored");
 * }
 * ```
 */
export interface TaskSourceOptions {
  /**
   * Mirror folder holding `function_vectors/`; `null` turns the mirror off.
   * @default `$SOUP_MIRROR`, else `../shared/data` beside the project when it exists (see
   * `mirrorDir()` in `lib/hub/sources.ts`)
   */
  mirror?: string | null;
  /**
   * Folder where downloaded task files are kept, as `<cacheDir>/<kind>/<name>.json`.
   * @default `$SOUP_CACHE/function_vectors`, else `<project>/data/cache/function_vectors`
   */
  cacheDir?: string;
  /** Never touch the network. @default `$HF_HUB_OFFLINE` is "1", "true" or "yes" */
  offline?: boolean;
  /**
   * Base URL of the downloads: a file is fetched from `<baseUrl>/<kind>/<name>.json`.
   * @default `https://raw.githubusercontent.com/ericwtodd/function_vectors/<commit>/dataset_files`
   * at commit fb9eac7b6dc707ea1475a717379916007fe448d5
   */
  baseUrl?: string;
}

/**
 * The folder downloaded task files are cached in.
 *
 * @param options `cacheDir` wins; else `$SOUP_CACHE/function_vectors`; else
 * `<project>/data/cache/function_vectors` (ignored by git).
 * @returns The folder, without a trailing slash (it may not exist yet).
 *
 * @example
 * ```ts
 * import { taskCacheDir } from "./task_sources.ts";
 * if (taskCacheDir({ cacheDir: "/tmp/fv/" }) !== "/tmp/fv") throw new Error("explicit folder");
 * if (!taskCacheDir().endsWith("function_vectors")) throw new Error("default folder");
 * ```
 */
export function taskCacheDir(options: Pick<TaskSourceOptions, "cacheDir"> = {}): string {
  if (options.cacheDir) return options.cacheDir.replace(/(.)\/+$/, "$1");
  return soupCacheDir("function_vectors");
}

/**
 * The mirror's `function_vectors` folder, or undefined when no mirror is in use.
 *
 * @example
 * ```ts
 * import { taskMirrorDir } from "./task_sources.ts";
 * if (taskMirrorDir({ mirror: null }) !== undefined) throw new Error("null turns it off");
 * ```
 */
export function taskMirrorDir(options: Pick<TaskSourceOptions, "mirror"> = {}): string | undefined {
  const mirror = mirrorDir({ mirror: options.mirror });
  return mirror === undefined ? undefined : `${mirror}/function_vectors`;
}
