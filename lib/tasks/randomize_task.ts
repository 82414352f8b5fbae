/**
 * The randomized control of a task: the same inputs and the same multiset of outputs, with the
 * input-output relation destroyed by a seeded shuffle of the outputs.
 *
 * @module
 */

import { ConfigError } from "../util/errors.ts";
import { Rng } from "../util/random.ts";
import type { Task } from "./types.ts";

const SUFFIX = "_randomized";

/**
 * Shuffles the outputs of `task` over its items (a seeded Fisher-Yates permutation, as Todd et
 * al.'s shuffled-label control does with `np.random.shuffle`). Inputs keep their order; the
 * multiset of outputs is unchanged; about one pair in n keeps its own output by chance, more
 * when outputs repeat (e.g. sentiment has two labels). The result is named
 * `<task>_randomized` (a task already randomized keeps its name) and records `shuffleSeed`.
 *
 * @param task The task to randomize (not modified).
 * @param seed Integer seed; equal seeds give equal shuffles.
 * @returns A new task with shuffled outputs.
 * @throws {ConfigError} when `seed` is not an integer.
 *
 * @example
 * ```ts
 * import { randomizeTask } from "./randomize_task.ts";
 * import type { Task } from "./types.ts";
 * const task: Task = {
 *   name: "antonym",
 *   kind: "abstractive",
 *   items: [["hot", "cold"], ["big", "small"], ["up", "down"], ["in", "out"]]
 *     .map(([input, output]) => ({ input, output })),
 *   source: "antonym.json",
 *   sha256: "",
 * };
 * const r = randomizeTask(task, 3);
 * if (r.name !== "antonym_randomized" || r.shuffleSeed !== 3) throw new Error(r.name);
 * if (r.items.map((x) => x.input).join() !== "hot,big,up,in") throw new Error("inputs moved");
 * const outs = (t: Task) => t.items.map((x) => x.output).sort().join();
 * if (outs(r) !== outs(task)) throw new Error("outputs changed");
 * if (JSON.stringify(randomizeTask(task, 3)) !== JSON.stringify(r)) throw new Error("not seeded");
 * ```
 */
export function randomizeTask(task: Task, seed: number): Task {
  if (!Number.isInteger(seed)) {
    throw new ConfigError(`Cannot randomize task "${task.name}": seed ${seed} is not an integer`, {
      field: "seed",
    });
  }
  const outputs = new Rng(seed).shuffle(task.items.map((item) => item.output));
  return {
    ...task,
    name: task.name.endsWith(SUFFIX) ? task.name : `${task.name}${SUFFIX}`,
    items: task.items.map((item, i) => ({ input: item.input, output: outputs[i] })),
    shuffleSeed: seed,
  };
}
