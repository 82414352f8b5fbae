/**
 * The tasks that can be loaded: those in the mirror's `function_vectors/` folder when there is
 * one, else the 56 pinned at commit fb9eac7 of ericwtodd/function_vectors.
 *
 * @module
 */

import { isDir } from "../hub/sources.ts";
import { NotFoundError, SoupError } from "../util/errors.ts";
import { PINNED_FILES } from "./_pinned_files.ts";
import { parseTaskItems } from "./_task_file.ts";
import { taskMirrorDir, type TaskSourceOptions } from "./task_sources.ts";
import type { TaskInfo, TaskKind } from "./types.ts";

const KINDS: readonly TaskKind[] = ["abstractive", "extractive"];

/**
 * Lists the tasks, sorted by kind then name.
 *
 * With a mirror that has a `function_vectors/` folder, every `<kind>/<name>.json` there is read
 * and `size` is its number of pairs (so a malformed file fails here, naming it). Without one,
 * the pinned table is listed with its recorded sizes; those tasks download on first
 * `loadTask()`. Randomized variants (`<name>_randomized`) are not listed but load by name.
 *
 * @param options `mirror` (`null`: list the pinned table).
 * @returns One entry per task.
 * @throws {FormatError} when a mirror file is not a task file.
 *
 * @example
 * ```ts
 * import { listTasks } from "./list_tasks.ts";
 * const pinned = await listTasks({ mirror: null });
 * if (pinned.length !== 56) throw new Error(`${pinned.length} pinned tasks`);
 * const antonym = pinned.find((t) => t.name === "antonym");
 * if (antonym?.kind !== "abstractive" || antonym.size !== 2398) throw new Error("antonym");
 * ```
 */
export async function listTasks(
  options: Pick<TaskSourceOptions, "mirror"> = {},
): Promise<TaskInfo[]> {
  const mirror = taskMirrorDir(options);
  const tasks: TaskInfo[] = [];
  if (mirror !== undefined && isDir(mirror)) {
    for (const kind of KINDS) {
      const folder = `${mirror}/${kind}`;
      if (!isDir(folder)) continue;
      for (const entry of await readDir(folder)) {
        if (!entry.isFile || !entry.name.endsWith(".json")) continue;
        const file = `${folder}/${entry.name}`;
        const size = parseTaskItems(file, await Deno.readFile(file)).length;
        tasks.push({ name: entry.name.slice(0, -".json".length), kind, size });
      }
    }
  } else {
    for (const [name, { kind, size }] of PINNED_FILES) tasks.push({ name, kind, size });
  }
  return tasks.sort((a, b) =>
    a.kind === b.kind ? (a.name < b.name ? -1 : a.name > b.name ? 1 : 0) : a.kind < b.kind ? -1 : 1
  );
}

async function readDir(folder: string): Promise<Deno.DirEntry[]> {
  try {
    return await Array.fromAsync(Deno.readDir(folder));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new NotFoundError(`Cannot list "${folder}": no such directory`, { file: folder });
    }
    throw new SoupError(`Cannot list "${folder}": ${(e as Error).message}`, { file: folder });
  }
}
