/**
 * Private: the tasks of a figure, loaded once, with the sha256 of each task file (part of the
 * figure's cache key and recorded in meta.json).
 *
 * @module
 */

import { loadTask } from "../tasks/load_task.ts";
import type { Task } from "../tasks/types.ts";
import type { ExperimentOptions } from "./context.ts";

/** Loads `names` (drawing randomized variants with `seed`) and their files' sha256 by name. */
export async function loadFigureTasks(
  names: readonly string[],
  options: ExperimentOptions,
  seed: number,
): Promise<{ tasks: Task[]; sha256: Record<string, string> }> {
  const tasks: Task[] = [];
  for (const name of names) {
    tasks.push(await loadTask(name, { mirror: options.mirror, offline: options.offline, seed }));
  }
  return { tasks, sha256: Object.fromEntries(tasks.map((t) => [t.name, t.sha256])) };
}
