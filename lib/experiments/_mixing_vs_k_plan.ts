/**
 * Private: which items the mixing experiment (Fig. 2) tests and which items serve as
 * demonstrations, worked out from the task sizes and the parameters alone (no model), so the
 * rules can be checked without running anything.
 *
 * Rules, per task of n items (T = min(testItems, n) test items, S = totalShots,
 * K = max(ks)):
 *
 * - **Prompting and mixing** share one test set: T items of a seeded permutation. When the
 *   other n - T items hold at least max(S, K), they are the demonstration pool of every test
 *   item (one fold). Otherwise (the small tasks, whose test set is all of them) the test items
 *   are split into two seeded halves (folds) and each fold draws its demonstrations from every
 *   item outside it, the other fold included: a test item is never a demonstration of itself
 *   nor of any item of its fold.
 * - **Prompting**: each test item has its own seeded order of K demonstrations from its fold's
 *   pool; its k-shot prompt uses the first k (so the k-shot demonstrations nest as k grows).
 * - **Mixing**: each fold has one seeded set of S demonstrations from its pool; for a given k
 *   they are cut into S / k consecutive sets of k, one state each, averaged.
 * - **Retrieval + mixing**: the items are split into two seeded halves. The library half gives
 *   `libraryStates` states of `libraryShots` demonstrations each (independent draws: distinct
 *   within a state, possibly shared between states). The query half gives the test items
 *   (min(testItems, half) of them) and, for each, a seeded order of K demonstrations from the
 *   query half without the item; the k-shot query state reads the first k.
 *
 * @module
 */

import { sampleDemoSets } from "../tasks/sample_demo_sets.ts";
import { splitTask } from "../tasks/split_task.ts";
import { ConfigError } from "../util/errors.ts";
import { Rng } from "../util/random.ts";
import type { TaskItem } from "../tasks/types.ts";

/**
 * The sizes and counts the plan depends on.
 *
 * @example
 * ```ts
 * import type { MixingPlanParams } from "./_mixing_vs_k_plan.ts";
 * const p: MixingPlanParams = {
 *   ks: [1, 2], totalShots: 2, testItems: 10, libraryStates: 1, libraryShots: 2, seed: 0,
 * };
 * if (p.totalShots % p.ks[1] !== 0) throw new Error();
 * ```
 */
export interface MixingPlanParams {
  /** Number of shots k of each evaluation. */
  ks: readonly number[];
  /** Shots behind every mixed state: totalShots / k states of k shots. */
  totalShots: number;
  /** Test items per task, at most (all items of a smaller task). */
  testItems: number;
  /** Library states per task (retrieval + mixing). */
  libraryStates: number;
  /** Shots per library state. */
  libraryShots: number;
  /** Integer seed of every draw. */
  seed: number;
}

/**
 * One fold of the prompting and mixing test set.
 *
 * @example
 * ```ts
 * import { planMixingTask } from "./_mixing_vs_k_plan.ts";
 * const [fold] = planMixingTask("t", 100, {
 *   ks: [1, 2], totalShots: 2, testItems: 10, libraryStates: 1, libraryShots: 2, seed: 0,
 * }).folds;
 * if (fold.items.length !== 10 || fold.pool.length !== 90 || fold.shots.length !== 2) throw new Error();
 * ```
 */
export interface MixingFold {
  /** Test items of the fold, ascending. */
  items: number[];
  /** The items its demonstrations come from: every item outside the fold (and, with one fold, outside the test set), ascending. */
  pool: number[];
  /** The `totalShots` demonstrations of its mixed states, in drawn order. */
  shots: number[];
}

/**
 * Everything drawn for one task.
 *
 * @example
 * ```ts
 * import { planMixingTask, type TaskPlan } from "./_mixing_vs_k_plan.ts";
 * const plan: TaskPlan = planMixingTask("t", 100, {
 *   ks: [1, 2], totalShots: 2, testItems: 10, libraryStates: 3, libraryShots: 2, seed: 0,
 * });
 * if (plan.library.length !== 3 || plan.retrievalTest.length !== 10) throw new Error();
 * ```
 */
export interface TaskPlan {
  /** Task name. */
  task: string;
  /** Number of items. */
  size: number;
  /** Prompting and mixing test items, ascending (the folds' items together). */
  test: number[];
  /** One fold when the items outside the test set suffice, else two. */
  folds: MixingFold[];
  /** Per test item (by position in `test`): its fold's index. */
  foldOf: number[];
  /** Per test item (by position in `test`): max(ks) demonstrations; the k-shot prompt uses the first k. */
  promptDemos: number[][];
  /** The retrieval split: library half and query half, each ascending. */
  halves: { library: number[]; query: number[] };
  /** Demonstrations of each library state. */
  library: number[][];
  /** Retrieval + mixing test items, ascending, from the query half. */
  retrievalTest: number[];
  /** Per retrieval test item: max(ks) demonstrations from the query half; the k-shot query uses the first k. */
  queryDemos: number[][];
}

/**
 * A 32-bit seed for one draw, from the run's seed and the draw's name (FNV-1a of the parts).
 *
 * @example
 * ```ts
 * import { subSeed } from "./_mixing_vs_k_plan.ts";
 * if (subSeed(0, "antonym", "test") !== subSeed(0, "antonym", "test")) throw new Error();
 * if (subSeed(0, "antonym", "test") === subSeed(1, "antonym", "test")) throw new Error();
 * ```
 */
export function subSeed(seed: number, ...parts: (string | number)[]): number {
  let h = 0x811c9dc5;
  for (const ch of JSON.stringify([seed, ...parts])) {
    h ^= ch.charCodeAt(0);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h | 0;
}

/**
 * Checks the counts of {@link MixingPlanParams}: positive integers, every k divides
 * `totalShots`.
 *
 * @example
 * ```ts
 * import { checkMixingParams } from "./_mixing_vs_k_plan.ts";
 * let message = "";
 * try {
 *   checkMixingParams({ ks: [1, 3], totalShots: 4, testItems: 5, libraryStates: 1, libraryShots: 4, seed: 0 });
 * } catch (e) {
 *   message = (e as Error).message;
 * }
 * if (!message.includes("k 3 does not divide")) throw new Error(message);
 * ```
 */
export function checkMixingParams(params: MixingPlanParams): void {
  const positive = (field: string, v: number) => {
    if (!Number.isInteger(v) || v < 1) {
      throw new ConfigError(
        `Cannot plan the mixing experiment: ${field} ${v} is not a positive integer`,
        { field },
      );
    }
  };
  positive("totalShots", params.totalShots);
  positive("testItems", params.testItems);
  positive("libraryStates", params.libraryStates);
  positive("libraryShots", params.libraryShots);
  if (!Number.isInteger(params.seed)) {
    throw new ConfigError(
      `Cannot plan the mixing experiment: seed ${params.seed} is not an integer`,
      {
        field: "seed",
      },
    );
  }
  if (params.ks.length === 0) {
    throw new ConfigError("Cannot plan the mixing experiment: ks is empty", { field: "ks" });
  }
  for (const k of params.ks) {
    positive("k", k);
    if (params.totalShots % k !== 0) {
      throw new ConfigError(
        `Cannot plan the mixing experiment: k ${k} does not divide totalShots ${params.totalShots} ` +
          `(a mixed state averages totalShots / k states of k shots)`,
        { field: "ks" },
      );
    }
  }
  if (new Set(params.ks).size !== params.ks.length) {
    throw new ConfigError(
      `Cannot plan the mixing experiment: ks [${params.ks.join(", ")}] repeats a value`,
      { field: "ks" },
    );
  }
}

/**
 * Draws the test items and demonstrations of one task (see the module doc for the rules).
 * Deterministic in (task name, size, params).
 *
 * @param task Task name (part of every seed, so two tasks of one size draw differently).
 * @param size Number of items of the task.
 * @param params Counts and seed.
 * @returns The plan.
 * @throws {ConfigError} when the task is too small for the counts asked for.
 *
 * @example
 * ```ts
 * import { planMixingTask } from "./_mixing_vs_k_plan.ts";
 * const plan = planMixingTask("t", 40, {
 *   ks: [1, 2, 4], totalShots: 4, testItems: 40, libraryStates: 2, libraryShots: 4, seed: 0,
 * });
 * if (plan.test.length !== 40 || plan.folds.length !== 2) throw new Error("all items, two folds");
 * if (plan.promptDemos.some((d, i) => d.includes(plan.test[i]))) throw new Error("own demo");
 * ```
 */
export function planMixingTask(task: string, size: number, params: MixingPlanParams): TaskPlan {
  checkMixingParams(params);
  const { seed, totalShots } = params;
  const maxK = Math.max(...params.ks);
  const need = Math.max(totalShots, maxK);
  const fail = (field: string, problem: string) =>
    new ConfigError(
      `Cannot plan the mixing experiment on task "${task}" (${size} items): ${problem}`,
      {
        field,
      },
    );
  const nTest = Math.min(params.testItems, size);
  const { test } = splitTask({ items: new Array<TaskItem>(size) }, {
    seed: subSeed(seed, task, "test"),
    testSize: nTest,
  });

  const all = Array.from({ length: size }, (_, i) => i);
  const ascending = (a: number, b: number) => a - b;
  let foldItems: number[][];
  if (size - nTest >= need) {
    foldItems = [test];
  } else {
    const order = new Rng(subSeed(seed, task, "folds")).shuffle([...test]);
    const half = Math.ceil(order.length / 2);
    foldItems = [order.slice(0, half).sort(ascending), order.slice(half).sort(ascending)];
  }
  const folds: MixingFold[] = foldItems.map((items, f) => {
    const inFold = new Set(foldItems.length === 1 ? test : items);
    const pool = all.filter((i) => !inFold.has(i));
    if (pool.length < need) {
      throw fail(
        "testItems",
        `a fold of ${items.length} test items leaves ${pool.length} items for demonstrations, ` +
          `need ${need} (max(totalShots, max k))`,
      );
    }
    const [shots] = sampleDemoSets(pool, {
      count: 1,
      k: totalShots,
      seed: subSeed(seed, task, "mix", f),
    });
    return { items, pool, shots };
  });
  const foldIndex = new Map<number, number>();
  folds.forEach((fold, f) => fold.items.forEach((i) => foldIndex.set(i, f)));
  const foldOf = test.map((i) => foldIndex.get(i)!);
  const promptDemos = test.map((item, t) =>
    sampleDemoSets(folds[foldOf[t]].pool, {
      count: 1,
      k: maxK,
      seed: subSeed(seed, task, "prompt", item),
    })[0]
  );

  const split = splitTask({ items: new Array<TaskItem>(size) }, {
    seed: subSeed(seed, task, "halves"),
    testFraction: 0.5,
  });
  const halves = { library: split.train, query: split.test };
  if (halves.library.length < params.libraryShots) {
    throw fail(
      "libraryShots",
      `the library half holds ${halves.library.length} items, need ${params.libraryShots} per state`,
    );
  }
  if (halves.query.length - 1 < maxK) {
    throw fail(
      "ks",
      `the query half holds ${halves.query.length} items, need ${maxK} demonstrations besides the item`,
    );
  }
  const library = Array.from(
    { length: params.libraryStates },
    (_, s) =>
      sampleDemoSets(halves.library, {
        count: 1,
        k: params.libraryShots,
        seed: subSeed(seed, task, "library", s),
      })[0],
  );
  const retrievalTest = new Rng(subSeed(seed, task, "retrieval-test"))
    .shuffle([...halves.query])
    .slice(0, Math.min(params.testItems, halves.query.length))
    .sort(ascending);
  const queryDemos = retrievalTest.map((item) =>
    sampleDemoSets(halves.query, {
      count: 1,
      k: maxK,
      seed: subSeed(seed, task, "query", item),
      exclude: [item],
    })[0]
  );
  return {
    task,
    size,
    test,
    folds,
    foldOf,
    promptDemos,
    halves,
    library,
    retrievalTest,
    queryDemos,
  };
}
