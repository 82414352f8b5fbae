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
import type { Task, TaskItem } from "../tasks/types.ts";
import { ConfigError } from "../util/errors.ts";
import { loadFigureTasks } from "./_tasks.ts";
import { ownUnit } from "./result_cache.ts";
import {
  type ExperimentOptions,
  type ExperimentOutput,
  type ExperimentRun,
  runExperiment,
} from "./context.ts";
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
export interface IclOutcome {
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
  const inputs = await prepareIcl(params, options);
  return await runExperiment("icl", inputs.cacheParams, options, async (run) => {
    const outcomes: IclOutcomes[] = [];
    for (const t of inputs.tasks) {
      for (const k of inputs.params.ks) {
        const unit = await ownUnit(() => evaluateIcl(run, inputs, t.task.name, k));
        if (unit) outcomes.push({ task: t.task.name, k, outcomes: unit });
      }
    }
    if (run.cache.shard) return { tables: {} }; // a shard's part: the merge writes the results
    return iclOutput(inputs, outcomes);
  });
}

/** One task's test items and, per item, its own demonstrations. */
export interface IclTask {
  task: Task;
  /** Test item indices (the first `testItems` of the test split). */
  test: number[];
  /** The test items. */
  items: TaskItem[];
  /** Per test item, `max(ks)` demonstrations from the training split; k-shot takes the first k. */
  draws: TaskItem[][];
}

/** What the ICL figure reads before any model: {@link prepareIcl}. */
export interface IclInputs {
  /** The parameters, defaults filled in and checked. */
  params: IclVsKParams;
  tasks: IclTask[];
  /** What the result cache is keyed by: the parameters and each task file's sha256. */
  cacheParams: Record<string, unknown>;
}

/** One (task, k)'s outcomes, as {@link evaluateIcl} returns them. */
export interface IclOutcomes {
  task: string;
  k: number;
  outcomes: IclOutcome[];
}

/**
 * Step 1 of the ICL figure: the tasks split, and for each test item its own draw of `max(ks)`
 * demonstrations from the training items (the protocol keeps a test item out of its own
 * demonstrations). No model is needed.
 *
 * @example
 * ```ts ignore
 * const inputs = await prepareIcl(PRESETS.organism.icl);
 * inputs.tasks[0].draws[0].slice(0, 2); // the first test item's first two demonstrations
 * ```
 */
export async function prepareIcl(
  params: Partial<IclVsKParams> = {},
  options: ExperimentOptions = {},
): Promise<IclInputs> {
  const p: IclVsKParams = { ...PAPER_ICL_VS_K, ...params };
  checkParams(p);
  const { tasks, sha256: taskSha256 } = await loadFigureTasks(p.tasks, options, p.seed);
  const maxK = Math.max(...p.ks);
  const out = tasks.map((task): IclTask => {
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
    return { task, test, items: test.map((i) => task.items[i]), draws };
  });
  return { params: p, tasks: out, cacheParams: { ...p, taskSha256 } };
}

/**
 * Step 2, for one task and k: each test item read inside its k-shot prompt, and whether the
 * model's first token is the target's (cached as `<task>-k<k>`).
 *
 * @example
 * ```ts ignore
 * const outcomes = await evaluateIcl(exp.run, inputs, "antonym", 4);
 * outcomes.filter((o) => o.correct).length / outcomes.length; // 4-shot accuracy
 * ```
 */
export async function evaluateIcl(
  run: ExperimentRun,
  inputs: IclInputs,
  taskName: string,
  k: number,
): Promise<IclOutcome[]> {
  const t = inputs.tasks.find((x) => x.task.name === taskName);
  if (t === undefined || !inputs.params.ks.includes(k)) {
    throw new ConfigError(`Cannot evaluate: no task "${taskName}" with k = ${k} in this run`, {
      field: "tasks",
    });
  }
  const outcomes = await run.cache.json<IclOutcome[]>(`${taskName}-k${k}`, async () => {
    const result = await evaluateFirstToken(run.model.engine, run.model.tokenizer, t.items, {
      demos: (i) => t.draws[i].slice(0, k),
      batchSize: inputs.params.batchSize,
      vocabLimit: run.model.tokenizer.vocabSize,
    });
    return result.items.map((r) => ({
      item: t.test[r.index],
      correct: r.correct,
      targetProbability: r.targetProbability,
    }));
  });
  const right = outcomes.filter((o) => o.correct).length;
  run.log(`${taskName} k=${k}: ${right}/${outcomes.length}`);
  return outcomes;
}

/**
 * Step 3: the tables (`icl`: one row per item and k; `accuracy`: per task and k, then the mean
 * over tasks) and the figure, as `results/icl/` holds them. `outcomes` in task, then k order.
 */
export function iclOutput(inputs: IclInputs, outcomes: readonly IclOutcomes[]): ExperimentOutput {
  const rows: Row[] = [];
  const accuracy: { task: string; k: number; accuracy: number; items: number }[] = [];
  for (const { task, k, outcomes: os } of outcomes) {
    for (const o of os) {
      rows.push({
        task,
        k,
        item: o.item,
        correct: o.correct ? 1 : 0,
        target_probability: o.targetProbability,
      });
    }
    const right = os.filter((o) => o.correct).length;
    accuracy.push({ task, k, accuracy: right / os.length, items: os.length });
  }
  const byK = group(accuracy, (a) => a.k);
  for (const k of inputs.params.ks) {
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
