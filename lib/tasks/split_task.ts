/**
 * A seeded split of a task's items into disjoint train and test index sets.
 *
 * @module
 */

import { ConfigError } from "../util/errors.ts";
import { Rng } from "../util/random.ts";
import type { Task } from "./types.ts";

/**
 * Options of {@linkcode splitTask}: the seed and one of `testSize` or `testFraction`.
 *
 * @example
 * ```ts
 * import { splitTask, type SplitTaskOptions } from "./split_task.ts";
 * const options: SplitTaskOptions = { seed: 1, testFraction: 0.5 };
 * const items = Array.from({ length: 4 }, () => ({ input: "", output: "" }));
 * if (splitTask({ items }, options).test.length !== 2) throw new Error("half expected");
 * ```
 */
export interface SplitTaskOptions {
  /** Integer seed of the permutation. */
  seed: number;
  /** Number of test items (an integer in [0, n]). Give this or `testFraction`, not both. */
  testSize?: number;
  /**
   * Fraction of the items in the test set, in [0, 1]; the count is `Math.round(n * fraction)`.
   * @default 0.3 (Todd et al.'s `test_size=0.3`) when neither option is given
   */
  testFraction?: number;
}

/**
 * Indices into `task.items`, each list ascending, the two disjoint and covering 0..n-1.
 *
 * @example
 * ```ts
 * import { splitTask, type TaskSplit } from "./split_task.ts";
 * const items = Array.from({ length: 3 }, () => ({ input: "", output: "" }));
 * const split: TaskSplit = splitTask({ items }, { seed: 0, testSize: 1 });
 * if (split.train.length + split.test.length !== 3) throw new Error("not a partition");
 * ```
 */
export interface TaskSplit {
  /** Indices of the items demonstrations (and library states) may be drawn from. */
  readonly train: number[];
  /** Indices of the held-out query items. */
  readonly test: number[];
}

/**
 * Splits the items of `task` into train and test indices: a seeded permutation of 0..n-1 whose
 * first `testSize` entries are the test set. Deterministic given the seed and n.
 *
 * @param task The task (only `items.length` is used).
 * @param options `seed`, and `testSize` or `testFraction`.
 * @returns Disjoint ascending index lists that together cover every item.
 * @throws {ConfigError} when the seed is not an integer, both sizes are given, or a size is out
 * of range.
 *
 * @example
 * ```ts
 * import { splitTask } from "./split_task.ts";
 * const items = Array.from({ length: 10 }, (_, i) => ({ input: `${i}`, output: `${i}` }));
 * const { train, test } = splitTask({ items }, { seed: 0, testSize: 3 });
 * if (test.length !== 3 || train.length !== 7) throw new Error("wrong sizes");
 * if (new Set([...train, ...test]).size !== 10) throw new Error("not a partition");
 * const again = splitTask({ items }, { seed: 0, testFraction: 0.3 });
 * if (again.test.join() !== test.join()) throw new Error("not deterministic");
 * ```
 */
export function splitTask(task: Pick<Task, "items">, options: SplitTaskOptions): TaskSplit {
  const n = task.items.length;
  const { seed, testSize, testFraction } = options;
  const fail = (field: string, problem: string) =>
    new ConfigError(`Cannot split ${n} items: ${problem}`, { field });
  if (!Number.isInteger(seed)) throw fail("seed", `seed ${seed} is not an integer`);
  if (testSize !== undefined && testFraction !== undefined) {
    throw fail(
      "testSize",
      `give testSize (${testSize}) or testFraction (${testFraction}), not both`,
    );
  }
  let size: number;
  if (testSize !== undefined) {
    if (!Number.isInteger(testSize) || testSize < 0 || testSize > n) {
      throw fail("testSize", `testSize ${testSize} is not an integer in [0, ${n}]`);
    }
    size = testSize;
  } else {
    const fraction = testFraction ?? 0.3;
    if (!(fraction >= 0 && fraction <= 1)) {
      throw fail("testFraction", `testFraction ${fraction} is not in [0, 1]`);
    }
    size = Math.round(n * fraction);
  }
  const order = new Rng(seed).shuffle(Array.from({ length: n }, (_, i) => i));
  const ascending = (a: number, b: number) => a - b;
  return { train: order.slice(size).sort(ascending), test: order.slice(0, size).sort(ascending) };
}
