/**
 * Fig. 2 of State Soup (appendix Figs. 6-7): does averaging in-context states help? First-token
 * accuracy on Todd et al.'s tasks against the number of shots k for
 *
 * - `prompt`: a k-shot prompt per test item (its own k demonstrations);
 * - `mix`: the mean of totalShots / k states of k disjoint shots each (32 / k in the paper),
 *   the start state of every test query; at k = totalShots it is one totalShots-shot state;
 * - `query`: a k-shot state of the item's own k demonstrations alone (the same computation as a
 *   k-shot prompt, drawn from the retrieval split), the baseline of
 * - `retrieve_mix`: that query state mixed (mean of the two) with the library state it
 *   retrieves, by cosine similarity of one layer's SSM state, from the states of all tasks;
 * - beyond the paper, other compositions of the query state q (k shots) and the retrieved state
 *   r (`libraryShots` = S shots), both read from zeros ({@link composeRetrieved}):
 *   `retrieve_weighted`, `(k q + S r) / (k + S)`, each state weighted by the demonstrations it
 *   read; `retrieve_adecay`, A-decay of r then q (as if the library's demonstrations came before
 *   the query's, one k + S-shot prompt); `retrieve_picaso`, A-decay of r and q averaged over both
 *   orders (PICASO).
 *
 * Which items are tested and which serve as demonstrations is worked out from the task sizes
 * alone (`_mixing_vs_k_plan.ts`): 500 test items per task, all items of a smaller task, split in
 * two folds that take their demonstrations from each other when too few items are left.
 *
 * Results go to `results/mixing/`: `mixing.csv` (one row per test item and evaluation),
 * `retrieval.csv` (what each retrieval + mixing query retrieved), `accuracy.csv` (per task and the
 * mean over tasks), `mixing.svg` (Fig. 2) and `mixing_tasks.svg` (per task).
 *
 * @module
 */

// @ts-types="npm:@types/d3-array@3.2.1"
import { group } from "npm:d3-array@3.2.5";
import {
  MIXING_METHOD_IDS,
  PAPER_MIXING_METHOD_IDS,
  RETRIEVE_METHOD_IDS,
} from "../mixing/methods.ts";
import type { Engine } from "../engine/types.ts";
import { evaluateFirstToken, type ItemResult } from "../eval/first_token_accuracy.ts";
import { mixADecay } from "../mixing/mix_a_decay.ts";
import { mixMean } from "../mixing/mix_mean.ts";
import { mixPicaso } from "../mixing/mix_picaso.ts";
import { mixWeighted } from "../mixing/mix_weighted.ts";
import { readALog } from "../mixing/read_a_log.ts";
import { plotMixingVsK } from "../plot/mixing_vs_k.ts";
import type { Row } from "../results/csv.ts";
import type { StateKind } from "../retrieval/state_vector.ts";
import type { State } from "../states/state.ts";
import { SkillIndex } from "../library/skill_index.ts";
import { encodeDemos } from "../tasks/encode_demos.ts";
import type { Task, TaskItem } from "../tasks/types.ts";
import { ConfigError } from "../util/errors.ts";
import {
  checkMixingParams,
  type MixingPlanParams,
  planMixingTask,
  type TaskPlan,
} from "./_mixing_vs_k_plan.ts";
import { loadFigureTasks } from "./_tasks.ts";
import { ownUnit } from "./result_cache.ts";
import {
  type ExperimentOptions,
  type ExperimentOutput,
  type ExperimentRun,
  runExperiment,
} from "./context.ts";

/**
 * The four evaluations of the figure.
 *
 * @example
 * ```ts
 * import type { MixingMethod } from "./mixing_vs_k.ts";
 * const methods: MixingMethod[] = ["prompt", "mix"];
 * if (methods.length !== 2) throw new Error();
 * ```
 */
export type MixingMethod = typeof MIXING_METHOD_IDS[number];

/**
 * Every {@link MixingMethod}, in the order of the tables.
 *
 * @example
 * ```ts
 * import { MIXING_METHODS } from "./mixing_vs_k.ts";
 * if (MIXING_METHODS.slice(0, 4).join() !== "prompt,mix,query,retrieve_mix") throw new Error();
 * ```
 */
export const MIXING_METHODS: readonly MixingMethod[] = MIXING_METHOD_IDS; // lib/mixing/methods.ts

/** A method that composes the query state with the state it retrieves. */
export type RetrieveMethod = typeof RETRIEVE_METHOD_IDS[number];

/**
 * Whether `m` composes the query state with the state it retrieves.
 *
 * @example
 * ```ts
 * import { isRetrieveMethod } from "./mixing_vs_k.ts";
 * if (!isRetrieveMethod("retrieve_adecay") || isRetrieveMethod("query")) throw new Error();
 * ```
 */
export function isRetrieveMethod(m: MixingMethod): m is RetrieveMethod {
  return (RETRIEVE_METHOD_IDS as readonly string[]).includes(m);
}

/**
 * Parameters of {@link runMixingVsK}; every one is part of the cache key.
 *
 * @example
 * ```ts
 * import { type MixingVsKParams, QUICK_MIXING_VS_K } from "./mixing_vs_k.ts";
 * const params: MixingVsKParams = { ...QUICK_MIXING_VS_K, methods: ["mix"], seed: 1 };
 * if (params.totalShots !== 16) throw new Error();
 * ```
 */
export interface MixingVsKParams extends MixingPlanParams {
  /** Task names (Todd et al.'s, or `<task>_randomized`). */
  tasks: string[];
  /** Evaluations to run. */
  methods: MixingMethod[];
  /**
   * Layer whose state retrieval compares, counted from 0; `null`: the middle layer
   * `Math.floor(L / 2)` (32 of Mamba-2.8b's 64, the paper's "layer 32").
   */
  layer: number | null;
  /** Which part of the layer's state is compared. */
  kind: StateKind;
  /** Sequences per engine call. */
  batchSize: number;
}

/**
 * The paper's protocol: six tasks, k in 1..32, mixed states from 32 shots, up to 500 test items
 * per task, a library of 10 states of 32 shots per task, retrieval at the middle layer; the
 * paper's four methods (the organism's preset adds the other compositions).
 *
 * @example
 * ```ts
 * import { PAPER_MIXING_VS_K } from "./mixing_vs_k.ts";
 * if (PAPER_MIXING_VS_K.ks.some((k) => PAPER_MIXING_VS_K.totalShots % k !== 0)) throw new Error();
 * ```
 */
export const PAPER_MIXING_VS_K: Readonly<MixingVsKParams> = Object.freeze({
  tasks: [
    "antonym",
    "capitalize",
    "country-capital",
    "english-french",
    "present-past",
    "singular-plural",
  ],
  ks: [1, 2, 4, 8, 16, 32],
  totalShots: 32,
  testItems: 500,
  libraryStates: 10,
  libraryShots: 32,
  layer: null,
  kind: "ssm",
  methods: [...PAPER_MIXING_METHOD_IDS],
  seed: 0,
  batchSize: 16,
});

/**
 * A small preset: two tasks, 20 test items, k in 1, 4, 16 with mixed states of 16 shots, a
 * library of 4 states per task. Minutes on a laptop CPU with mamba-130m, seconds on a tiny
 * random model.
 *
 * @example
 * ```ts
 * import { QUICK_MIXING_VS_K } from "./mixing_vs_k.ts";
 * if (QUICK_MIXING_VS_K.ks.some((k) => QUICK_MIXING_VS_K.totalShots % k !== 0)) throw new Error();
 * ```
 */
export const QUICK_MIXING_VS_K: Readonly<MixingVsKParams> = Object.freeze({
  ...PAPER_MIXING_VS_K,
  tasks: ["antonym", "country-capital"],
  ks: [1, 4, 16],
  totalShots: 16,
  testItems: 20,
  libraryStates: 4,
  libraryShots: 16,
});

/** The figure's folder under `results/`. */
const FIGURE = "mixing";

/** What is cached per evaluated item. */
export interface MixingOutcome {
  item: number;
  correct: boolean;
  targetProbability: number;
}

/** What a retrieval + mixing query retrieved (the same for every composition of it). */
export interface Hit {
  task: string;
  state: number;
  score: number;
}

/**
 * Runs the experiment of Fig. 2 and writes `results/mixing/`: `mixing.csv`, `retrieval.csv`,
 * `accuracy.csv`, `mixing.svg` / `.png`, `mixing_tasks.svg` / `.png`, `meta.json`,
 * `timing.json`.
 *
 * Tables (rows in the order task, method, k, item):
 * - `mixing.csv`: task, method, k, item (index in the task file), correct (1 or 0),
 *   target_probability: one row per test item and evaluation.
 * - `retrieval.csv`: task, k, item, retrieved_task, retrieved_state (index in that task's
 *   library), similarity (cosine), same_task (1 or 0): one row per retrieval + mixing query
 *   (written when a `retrieve_*` method runs).
 * - `accuracy.csv`: task (then `"mean"`: the unweighted mean of the tasks' accuracies), method,
 *   k, accuracy, items.
 *
 * Caching (so a killed run resumes; other parameters, task files, model or code use another
 * cache folder): every (task, method, k) evaluation as JSON; each fold's mixed state per k
 * (`mix-<task>-fold<f>-k<k>`) and every library state (`library-<task>-<s>`) as a state folder.
 * The k-shot states a mixed state averages are recomputed instead (cheap: totalShots shots), and
 * the per-item query states of retrieval are not stored (one per item and k: thousands of
 * states, some 28 MB each for Mamba-2.8b); their evaluations are. All library states are held
 * in memory during the retrieval part (60 states, about 1.7 GB, for the paper on Mamba-2.8b).
 *
 * @param params Overrides of {@link PAPER_MIXING_VS_K}.
 * @param options Model, device, folders, log.
 * @returns The paths written.
 * @throws {ConfigError} for counts that do not fit together or tasks too small for them.
 *
 * @example
 * ```ts ignore
 * import { QUICK_MIXING_VS_K, runMixingVsK } from "./mixing_vs_k.ts";
 * const paths = await runMixingVsK(QUICK_MIXING_VS_K, { model: "state-spaces/mamba-130m-hf" });
 * ```
 */
export async function runMixingVsK(
  params: Partial<MixingVsKParams> = {},
  options: ExperimentOptions = {},
): Promise<string[]> {
  const inputs = await prepareMixing(params, options);
  const { tasks, plans, ks, methods, params: full } = inputs;
  return await runExperiment(FIGURE, inputs.cacheParams, options, async (ctx) => {
    const layer = mixingLayer(ctx, full);
    const steps = new MixingSteps(ctx, full.batchSize);
    const outcomes: MixingOutcomes = new Map();
    for (const [t, task] of tasks.entries()) {
      for (const k of ks) {
        for (const method of ["prompt", "mix"] as const) {
          if (!methods.includes(method)) continue;
          const unit = await ownUnit(() => steps[method](task, plans[t], k));
          if (unit) outcomes.set(outcomeKey(task.name, method, k), unit);
        }
      }
    }
    const hits = new Map<string, Hit[]>();
    const compose = methods.filter(isRetrieveMethod);
    if (methods.includes("query") || compose.length > 0) {
      const library = compose.length > 0
        ? await steps.library(tasks, plans, full.libraryShots)
        : undefined;
      for (const [t, task] of tasks.entries()) {
        for (const k of ks) {
          const res = await ownUnit(() =>
            steps.retrieval(task, plans[t], k, {
              library,
              layer,
              kind: full.kind,
              query: methods.includes("query"),
              compose,
            })
          );
          if (res === undefined) continue; // another shard's unit
          if (res.query) outcomes.set(outcomeKey(task.name, "query", k), res.query);
          for (const m of compose) outcomes.set(outcomeKey(task.name, m, k), res.mixed![m]!);
          if (res.hits) hits.set(`${task.name}|${k}`, res.hits);
        }
      }
    }
    if (ctx.cache.shard) return { tables: {} }; // a shard's part: the merge writes the results
    return mixingOutput(inputs, outcomes, hits, layer);
  });
}

/** What the mixing figure reads before any model: {@link prepareMixing}. */
export interface MixingInputs {
  /** The parameters, defaults filled in and checked. */
  params: MixingVsKParams;
  /** The ks, ascending, and the methods, in the registry's order. */
  ks: number[];
  methods: MixingMethod[];
  /** The tasks and each one's plan ({@link planMixingTask}), in the same order. */
  tasks: Task[];
  plans: TaskPlan[];
  /** What the result cache is keyed by: the parameters and each task file's sha256. */
  cacheParams: Record<string, unknown>;
}

/** Outcomes per (task, method, k): {@link outcomeKey}. */
export type MixingOutcomes = Map<string, MixingOutcome[]>;

/** The key of a (task, method, k) in {@link MixingOutcomes}. */
export function outcomeKey(task: string, method: MixingMethod, k: number): string {
  return `${task}|${method}|${k}`;
}

/**
 * Step 1 of the mixing figure: the parameters checked, the tasks loaded, and each task's plan
 * (test items, folds of demonstrations, the library and query halves). No model is needed.
 *
 * @example
 * ```ts ignore
 * const inputs = await prepareMixing(PRESETS.organism.mixing);
 * inputs.plans[0].test.length;
 * ```
 */
export async function prepareMixing(
  params: Partial<MixingVsKParams> = {},
  options: ExperimentOptions = {},
): Promise<MixingInputs> {
  const full: MixingVsKParams = { ...PAPER_MIXING_VS_K, ...params };
  checkParams(full);
  const ks = [...full.ks].sort((a, b) => a - b);
  const methods = MIXING_METHODS.filter((m) => full.methods.includes(m));
  const { tasks, sha256: taskFiles } = await loadFigureTasks(full.tasks, options, full.seed);
  const plans = tasks.map((t) => planMixingTask(t.name, t.items.length, full));
  return { params: full, ks, methods, tasks, plans, cacheParams: { ...full, taskFiles } };
}

/** The layer retrieval compares: `params.layer`, or `Math.floor(L / 2)`; checked. */
export function mixingLayer(run: ExperimentRun, params: MixingVsKParams): number {
  const layers = run.model.config.numHiddenLayers;
  const layer = params.layer ?? Math.floor(layers / 2);
  if (!Number.isInteger(layer) || layer < 0 || layer >= layers) {
    throw new ConfigError(
      `Cannot run the mixing experiment: layer ${layer} is not in 0..${layers - 1}`,
      { field: "layer" },
    );
  }
  return layer;
}

/**
 * The last step: the tables (`mixing`: one row per task, method, k and item; `accuracy`: per
 * task, method and k, then the mean over tasks; `retrieval`: what each retrieval + mixing query
 * retrieved), the figures and meta.json's facts, as `results/mixing/` holds them.
 */
export function mixingOutput(
  inputs: MixingInputs,
  outcomes: MixingOutcomes,
  hits: Map<string, Hit[]>,
  layer: number,
): ExperimentOutput {
  const { tasks, plans, ks, methods } = inputs;
  const mixingRows: Row[] = [];
  const accuracyRows: Row[] = [];
  for (const task of tasks) {
    for (const method of methods) {
      for (const k of ks) {
        const list = outcomes.get(outcomeKey(task.name, method, k))!;
        for (const o of list) {
          mixingRows.push({
            task: task.name,
            method,
            k,
            item: o.item,
            correct: o.correct ? 1 : 0,
            target_probability: o.targetProbability,
          });
        }
        accuracyRows.push({
          task: task.name,
          method,
          k,
          accuracy: list.filter((o) => o.correct).length / list.length,
          items: list.length,
        });
      }
    }
  }
  const byMethodK = group(accuracyRows, (r) => r.method, (r) => r.k);
  for (const method of methods) {
    for (const k of ks) {
      const per = byMethodK.get(method)?.get(k) ?? [];
      accuracyRows.push({
        task: "mean",
        method,
        k,
        accuracy: per.reduce((s, r) => s + (r.accuracy as number), 0) / per.length,
        items: per.reduce((s, r) => s + (r.items as number), 0),
      });
    }
  }
  const retrievalRows: Row[] = [];
  for (const [t, task] of tasks.entries()) {
    for (const k of ks) {
      const list = hits.get(`${task.name}|${k}`);
      if (list === undefined) continue;
      plans[t].retrievalTest.forEach((item, i) => {
        retrievalRows.push({
          task: task.name,
          k,
          item,
          retrieved_task: list[i].task,
          retrieved_state: list[i].state,
          similarity: list[i].score,
          same_task: list[i].task === task.name ? 1 : 0,
        });
      });
    }
  }
  const plotRows = accuracyRows.map((r) => ({
    task: r.task as string,
    method: r.method as string,
    k: r.k as number,
    accuracy: r.accuracy as number,
  }));
  const tables: Record<string, Row[]> = { mixing: mixingRows, accuracy: accuracyRows };
  if (methods.some(isRetrieveMethod)) tables.retrieval = retrievalRows;
  return {
    tables,
    figures: {
      mixing: plotMixingVsK(plotRows),
      mixing_tasks: plotMixingVsK(plotRows, { perTask: true }),
    },
    meta: {
      layer,
      tasks: plans.map((p) => ({
        task: p.task,
        size: p.size,
        testItems: p.test.length,
        folds: p.folds.map((f) => f.items.length),
        libraryHalf: p.halves.library.length,
        queryHalf: p.halves.query.length,
        retrievalTestItems: p.retrievalTest.length,
      })),
    },
  };
}

function checkParams(p: MixingVsKParams): void {
  checkMixingParams(p);
  const fail = (field: string, problem: string) =>
    new ConfigError(`Cannot run the mixing experiment: ${problem}`, { field });
  if (p.tasks.length === 0) throw fail("tasks", "no tasks given");
  if (new Set(p.tasks).size !== p.tasks.length) {
    throw fail("tasks", `tasks [${p.tasks.join(", ")}] repeat a name`);
  }
  if (p.methods.length === 0) throw fail("methods", "no methods given");
  for (const m of p.methods) {
    if (!MIXING_METHODS.includes(m)) {
      throw fail("methods", `method "${m}" is not one of ${MIXING_METHODS.join(", ")}`);
    }
  }
  if (!Number.isInteger(p.batchSize) || p.batchSize < 1) {
    throw fail("batchSize", `batchSize ${p.batchSize} is not a positive integer`);
  }
}

/**
 * The mixing figure's evaluations (steps 2 and 3), each cached under a deterministic name:
 * `prompt` (k-shot prompts), `mix` (the mean of 32/k states of k shots), `library` (the
 * retrieval library) and `retrieval` (query states alone, and mixed with what they retrieve).
 *
 * @example
 * ```ts ignore
 * const steps = new MixingSteps(exp.run, inputs.params.batchSize);
 * const outcomes = await steps.mix(inputs.tasks[0], inputs.plans[0], 4);
 * ```
 */
export class MixingSteps {
  readonly #ctx: ExperimentRun;
  readonly #engine: Engine;
  readonly #batchSize: number;
  /** The model's A_log, read once when a composition needs it. */
  #aLog?: Promise<Float32Array>;

  constructor(ctx: ExperimentRun, batchSize: number) {
    this.#ctx = ctx;
    this.#engine = ctx.model.engine;
    this.#batchSize = batchSize;
  }

  /** k-shot prompts, each test item with its own first k demonstrations. */
  prompt(task: Task, plan: TaskPlan, k: number): Promise<MixingOutcome[]> {
    const items = plan.test.map((i) => task.items[i]);
    return this.#cachedEval(
      `prompt-${task.name}-k${k}`,
      `${task.name} prompt k=${k}`,
      (progress) =>
        this.#evaluate(items, {
          demos: (j) => plan.promptDemos[j].slice(0, k).map((i) => task.items[i]),
          onProgress: progress,
        }).then((r) => outcomesOf(r, plan.test)),
    );
  }

  /** Each fold's mean of totalShots / k states of k shots, the start of every query. */
  mix(task: Task, plan: TaskPlan, k: number): Promise<MixingOutcome[]> {
    return this.#cachedEval(
      `mix-${task.name}-k${k}`,
      `${task.name} mix k=${k}`,
      async (progress) => {
        const byItem = new Map<number, MixingOutcome>();
        let done = 0;
        for (const [f, fold] of plan.folds.entries()) {
          const state = await this.#ctx.cache.state(`mix-${task.name}-fold${f}-k${k}`, async () => {
            const sets: TaskItem[][] = [];
            for (let s = 0; s < fold.shots.length; s += k) {
              sets.push(fold.shots.slice(s, s + k).map((i) => task.items[i]));
            }
            const states = await this.#extract(
              sets.map((d) => encodeDemos(this.#ctx.model.tokenizer, d)),
            );
            return mixMean(states);
          });
          const items = fold.items.map((i) => task.items[i]);
          const res = await this.#evaluate(items, {
            state,
            onProgress: (d) => progress(done + d, plan.test.length),
          });
          done += items.length;
          for (const o of outcomesOf(res, fold.items)) byItem.set(o.item, o);
        }
        return plan.test.map((i) => byItem.get(i)!);
      },
    );
  }

  /**
   * The library of every task: a labelled index over the shared state store (whole states,
   * since a retrieved one is mixed; extracted where missing).
   */
  library(tasks: readonly Task[], plans: readonly TaskPlan[], k: number): Promise<SkillIndex> {
    return SkillIndex.build(
      this.#ctx.model.store,
      this.#engine,
      tasks.flatMap((task, t) =>
        plans[t].library.map((demos, s) => ({
          task: task.name,
          k,
          index: s,
          demos,
          ids: encodeDemos(this.#ctx.model.tokenizer, demos.map((i) => task.items[i])),
        }))
      ),
      {
        batchSize: this.#batchSize,
        onProgress: (done, all) => this.#ctx.log(`library: ${done}/${all} states`),
        onDone: (computed, found) =>
          this.#ctx.log(`library: ${computed} states extracted, ${found} cached`),
      },
    );
  }

  /**
   * k-shot query states of the retrieval test items: evaluated alone (`query`) and composed, in
   * each way of `compose`, with the library state each retrieves from `library` (each library
   * state weighs as many shots as it read, its skill's `k`).
   */
  async retrieval(
    task: Task,
    plan: TaskPlan,
    k: number,
    options: {
      library?: SkillIndex;
      layer: number;
      kind: StateKind;
      query: boolean;
      compose: readonly RetrieveMethod[];
    },
  ): Promise<
    {
      query?: MixingOutcome[];
      mixed?: Partial<Record<RetrieveMethod, MixingOutcome[]>>;
      hits?: Hit[];
    }
  > {
    const { library, layer, kind, compose } = options;
    if (compose.length > 0 && library === undefined) {
      throw new ConfigError(
        `Cannot compose query states by ${compose.join(", ")}: no library to retrieve from`,
        { field: "methods" },
      );
    }
    const name = `retrieval-${task.name}-k${k}`;
    const label = `${task.name} ${
      [...(options.query ? ["query"] : []), ...compose].join("+")
    } k=${k}`;
    let computed = false;
    const result = await this.#ctx.cache.json(name, async () => {
      computed = true;
      const query: MixingOutcome[] = [], hits: Hit[] = [];
      const mixed: Partial<Record<RetrieveMethod, MixingOutcome[]>> = {};
      const aLog = compose.some((m) => m === "retrieve_adecay" || m === "retrieve_picaso")
        ? await (this.#aLog ??= readALog(this.#ctx.model.dir).catch((err) => {
          this.#aLog = undefined; // a failed read is tried again next time
          throw err;
        }))
        : undefined;
      const n = plan.retrievalTest.length;
      for (let start = 0; start < n; start += this.#batchSize) {
        const idx = plan.retrievalTest.slice(start, start + this.#batchSize);
        const items = idx.map((i) => task.items[i]);
        const ids = idx.map((_, j) =>
          encodeDemos(
            this.#ctx.model.tokenizer,
            plan.queryDemos[start + j].slice(0, k).map((i) => task.items[i]),
          )
        );
        const states = await this.#extract(ids);
        if (options.query) {
          query.push(...outcomesOf(await this.#evaluate(items, { states }), idx));
        }
        if (library) {
          const found = (await library.retrieve(states, { layer, kind, k: 1 })).map(([hit]) => hit);
          for (const hit of found) {
            hits.push({ task: hit.skill.task, state: hit.skill.index, score: hit.score });
          }
          for (const m of compose) {
            const starts = states.map((q, j) =>
              composeRetrieved(m, q, found[j].state, {
                k,
                libraryShots: found[j].skill.k,
                aLog,
                queryTokens: ids[j].length,
              })
            );
            (mixed[m] ??= []).push(
              ...outcomesOf(await this.#evaluate(items, { states: starts }), idx),
            );
          }
        }
        this.#ctx.log(`${label}: ${start + idx.length}/${n} items`);
      }
      return {
        ...(options.query ? { query } : {}),
        ...(library ? { mixed, hits } : {}),
      };
    });
    if (!computed) this.#ctx.log(`${label}: cached`);
    return result;
  }

  /** A cached (task, method, k) evaluation with progress lines. */
  async #cachedEval(
    name: string,
    label: string,
    compute: (progress: (done: number, total: number) => void) => Promise<MixingOutcome[]>,
  ): Promise<MixingOutcome[]> {
    let computed = false;
    const res = await this.#ctx.cache.json(name, () => {
      computed = true;
      return compute((done, total) => this.#ctx.log(`${label}: ${done}/${total} items`));
    });
    if (!computed) this.#ctx.log(`${label}: cached`);
    return res;
  }

  #evaluate(items: readonly TaskItem[], options: Parameters<typeof evaluateFirstToken>[3]) {
    return evaluateFirstToken(this.#engine, this.#ctx.model.tokenizer, items, {
      ...options,
      batchSize: this.#batchSize,
      vocabLimit: this.#ctx.model.tokenizer.vocabSize,
    });
  }

  /**
   * States after each token list, read from zeros in batches. Not stored: these are the
   * per-item query states and the k-shot states a mix averages, used once and many (about 750
   * per task on the paper protocol, 26 MB each on mamba-2.8b); what they give is cached as
   * evaluations and mixes instead.
   */
  async #extract(idLists: readonly number[][]): Promise<State[]> {
    const out: State[] = [];
    for (let start = 0; start < idLists.length; start += this.#batchSize) {
      const res = await this.#engine.runBatch(idLists.slice(start, start + this.#batchSize));
      out.push(...res.map((r) => r.state));
    }
    return out;
  }
}

/**
 * The start state of a retrieval + mixing method: the k-shot query state `query` (q) composed
 * with the retrieved library state `retrieved` (r, `libraryShots` = S shots), both read from
 * zeros.
 *
 * - `retrieve_mix`: `mixMean([q, r])` (the paper's).
 * - `retrieve_weighted`: `mixWeighted([q, r], [k / (k + S), S / (k + S)])`, each state weighted
 *   by the demonstrations it read.
 * - `retrieve_adecay`: `mixADecay(r, q, A_log)`: r's demonstrations read first, then q's (the
 *   query's own, which the test item follows).
 * - `retrieve_picaso`: `mixPicaso([r, q], A_log)`: A-decay averaged over both orders.
 *
 * @param method Which composition.
 * @param query The query state q.
 * @param retrieved The retrieved state r.
 * @param options `k`, `libraryShots`, `A_log` (for the A-decay and PICASO methods),
 *   `queryTokens` (the tokens q read, for A-decay's conv state when fewer than the conv kernel).
 * @throws {ConfigError} when A_log is needed and not given.
 *
 * @example
 * ```ts
 * import { composeRetrieved } from "./mixing_vs_k.ts";
 * import { State } from "../states/state.ts";
 * const shape = { layers: 1, dInner: 1, convKernel: 1, stateSize: 1 };
 * const s = (x: number) =>
 *   new State(shape, { conv: Float32Array.of(x), ssm: Float32Array.of(x), deltaSum: Float32Array.of(1) });
 * const w = composeRetrieved("retrieve_weighted", s(1), s(4), { k: 1, libraryShots: 3 });
 * if (w.ssm[0] !== (1 * 1 + 3 * 4) / 4) throw new Error(`${w.ssm[0]}`);
 * // A = -1 (A_log 0): q + exp(-1) r.
 * const a = composeRetrieved("retrieve_adecay", s(1), s(4), { k: 1, libraryShots: 3, aLog: Float32Array.of(0) });
 * if (Math.abs(a.ssm[0] - (1 + Math.exp(-1) * 4)) > 1e-6) throw new Error(`${a.ssm[0]}`);
 * ```
 */
export function composeRetrieved(
  method: RetrieveMethod,
  query: State,
  retrieved: State,
  options: { k: number; libraryShots: number; aLog?: Float32Array; queryTokens?: number },
): State {
  const { k, libraryShots: S } = options;
  const aLog = () => {
    if (options.aLog === undefined) {
      throw new ConfigError(`Cannot compose by ${method}: A_log not given`, { field: "methods" });
    }
    return options.aLog;
  };
  switch (method) {
    case "retrieve_mix":
      return mixMean([query, retrieved]);
    case "retrieve_weighted":
      return mixWeighted([query, retrieved], [k / (k + S), S / (k + S)]);
    case "retrieve_adecay":
      return mixADecay(retrieved, query, aLog(), { secondTokens: options.queryTokens });
    case "retrieve_picaso":
      return mixPicaso([retrieved, query], aLog());
  }
}

function outcomesOf(res: { items: ItemResult[] }, itemIndices: readonly number[]): MixingOutcome[] {
  return res.items.map((r) => ({
    item: itemIndices[r.index],
    correct: r.correct,
    targetProbability: r.targetProbability,
  }));
}
