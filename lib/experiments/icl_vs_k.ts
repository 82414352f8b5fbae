/**
 * In-context learning against k: Todd et al.'s first-token accuracy of plain k-shot prompts
 * (`<|endoftext|>` + k demonstrations + the query, read from zeros) for k = 0 .. 32. Not a figure
 * of the paper: the check that a model learns the tasks in context at all, which every State
 * Soup claim presumes (the paper's Fig. 2 shows the same prompts for k >= 1 as "k-shot").
 *
 * Protocol: each task is split 70/30 with the seed (as every experiment here); the first
 * `testItems` test items are queried; each item gets its own demonstrations, drawn from the
 * training part, nested across k (the k-shot prompt's demonstrations are the first k of the
 * largest k's), so accuracy differences between ks come from the number of shots, not the draw.
 *
 * @module
 */

// @ts-types="npm:@types/d3-array@3.2.1"
import { group } from "npm:d3-array@3.2.5";
import { evaluateFirstToken } from "../eval/first_token_accuracy.ts";
import { plotIclVsK } from "../plot/icl_vs_k.ts";
import type { Row } from "../results/csv.ts";
import { sampleDemoSets } from "../tasks/sample_demo_sets.ts";
import { splitTask } from "../tasks/split_task.ts";
import type { TaskItem } from "../tasks/types.ts";
import { ConfigError } from "../util/errors.ts";
import { loadFigureTasks } from "./_tasks.ts";
import { type ExperimentOptions, runExperiment } from "./context.ts";
import { PAPER_MIXING_VS_K } from "./mixing_vs_k.ts";

/** Parameters of {@link runIclVsK}; every one is part of the cache key. */
export type IclVsKParams = {
  /** Task names. */
  tasks: string[];
  /** Demonstrations per prompt, each a non-negative integer. */
  ks: number[];
  /** Test items per task (fewer when the test split is smaller). */
  testItems: number;
  /** Seed of the split and of the demonstrations. */
  seed: number;
  /** Prompts per engine call. */
  batchSize: number;
};

/**
 * The paper's six tasks of Fig. 2, k = 0, 1, 2, 4, 8, 16, 32, 200 test items per task.
 *
 * @example
 * ```ts
 * import { PAPER_ICL_VS_K } from "./icl_vs_k.ts";
 * if (PAPER_ICL_VS_K.ks[0] !== 0 || PAPER_ICL_VS_K.tasks.length !== 6) throw new Error();
 * ```
 */
export const PAPER_ICL_VS_K: Readonly<IclVsKParams> = Object.freeze({
  tasks: [...PAPER_MIXING_VS_K.tasks],
  ks: [0, 1, 2, 4, 8, 16, 32],
  testItems: 200,
  seed: 0,
  batchSize: 16,
});

/**
 * A small run: the same tasks and ks, 20 test items per task.
 *
 * @example
 * ```ts
 * import { QUICK_ICL_VS_K } from "./icl_vs_k.ts";
 * if (QUICK_ICL_VS_K.testItems !== 20) throw new Error();
 * ```
 */
export const QUICK_ICL_VS_K: Readonly<IclVsKParams> = Object.freeze({
  ...PAPER_ICL_VS_K,
  testItems: 20,
});

/** What is cached per (task, k). */
interface Outcome {
  item: number;
  correct: boolean;
  targetProbability: number;
}

/**
 * Runs the in-context learning curve (figure `icl`) and writes `results/icl/`:
 *
 * - `icl.csv`: task, k, item (index in the task file), correct (1 or 0), target_probability.
 * - `accuracy.csv`: task (then `"mean"`, the unweighted mean over tasks), k, accuracy, items.
 * - `icl.svg`/`.png`: {@link plotIclVsK} of `accuracy.csv`.
 *
 * Each (task, k) evaluation is cached, so a killed run resumes.
 *
 * @param params Overrides of {@link PAPER_ICL_VS_K}.
 * @param options Model, device, result and cache folders, progress lines.
 * @returns The paths written.
 * @example
 * ```ts ignore
 * import { QUICK_ICL_VS_K, runIclVsK } from "./icl_vs_k.ts";
 * await runIclVsK(QUICK_ICL_VS_K, { model: "organism" });
 * ```
 */
export async function runIclVsK(
  params: Partial<IclVsKParams> = {},
  options: ExperimentOptions = {},
): Promise<string[]> {
  const p: IclVsKParams = { ...PAPER_ICL_VS_K, ...params };
  checkParams(p);
  const { tasks, sha256: taskSha256 } = await loadFigureTasks(p.tasks, options, p.seed);
  return await runExperiment("icl", { ...p, taskSha256 }, options, async (ctx) => {
    const maxK = Math.max(...p.ks);
    const rows: Row[] = [];
    const accuracy: { task: string; k: number; accuracy: number; items: number }[] = [];
    for (const task of tasks) {
      const split = splitTask(task, { seed: p.seed });
      const test = split.test.slice(0, p.testItems);
      if (split.train.length < maxK) {
        throw new ConfigError(
          `Cannot run the ICL curve: task "${task.name}" has ${split.train.length} training ` +
            `items, fewer than k = ${maxK}`,
          { field: "ks" },
        );
      }
      // Per item its own draw of maxK demonstrations; the k-shot prompt uses the first k.
      const draws = test.map((index) =>
        sampleDemoSets(split.train, { count: 1, k: maxK, seed: p.seed * 1_000_003 + index })[0]
          .map((i) => task.items[i])
      );
      const items: TaskItem[] = test.map((i) => task.items[i]);
      for (const k of p.ks) {
        const outcomes = await ctx.cache.json<Outcome[]>(`${task.name}-k${k}`, async () => {
          const result = await evaluateFirstToken(ctx.model.engine, ctx.model.tokenizer, items, {
            demos: (i) => draws[i].slice(0, k),
            batchSize: p.batchSize,
            vocabLimit: ctx.model.tokenizer.vocabSize,
          });
          return result.items.map((r) => ({
            item: test[r.index],
            correct: r.correct,
            targetProbability: r.targetProbability,
          }));
        });
        for (const o of outcomes) {
          rows.push({
            task: task.name,
            k,
            item: o.item,
            correct: o.correct ? 1 : 0,
            target_probability: o.targetProbability,
          });
        }
        const right = outcomes.filter((o) => o.correct).length;
        accuracy.push({
          task: task.name,
          k,
          accuracy: right / outcomes.length,
          items: outcomes.length,
        });
        ctx.log(`${task.name} k=${k}: ${right}/${outcomes.length}`);
      }
    }
    const byK = group(accuracy, (a) => a.k);
    for (const k of p.ks) {
      const ofK = byK.get(k) ?? [];
      const mean = ofK.reduce((s, a) => s + a.accuracy, 0) / ofK.length;
      accuracy.push({
        task: "mean",
        k,
        accuracy: mean,
        items: ofK.reduce((s, a) => s + a.items, 0),
      });
    }
    return {
      tables: { icl: rows, accuracy },
      figures: { icl: plotIclVsK(accuracy) },
    };
  });
}

function checkParams(p: IclVsKParams): void {
  const bad = (field: string, problem: string) =>
    new ConfigError(`Cannot run the ICL curve: ${problem}`, { field });
  if (!Array.isArray(p.tasks) || p.tasks.length === 0) throw bad("tasks", "no tasks given");
  if (!Array.isArray(p.ks) || p.ks.length === 0) throw bad("ks", "no ks given");
  for (const k of p.ks) {
    if (!Number.isInteger(k) || k < 0) throw bad("ks", `k ${k} is not a non-negative integer`);
  }
  if (new Set(p.ks).size !== p.ks.length) throw bad("ks", `ks [${p.ks.join(", ")}] repeat`);
  for (const field of ["testItems", "batchSize"] as const) {
    if (!Number.isInteger(p[field]) || p[field] < 1) {
      throw bad(field, `${field} ${p[field]} is not a positive integer`);
    }
  }
  if (!Number.isInteger(p.seed)) throw bad("seed", `seed ${p.seed} is not an integer`);
}
