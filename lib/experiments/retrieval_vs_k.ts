/**
 * Fig. 1 (right) of State Soup: can a k-shot query's state find its own task in a skill
 * library? The library holds `libraryStates` states per task, each read from `libraryShots`
 * demonstrations; each query state is read from k other demonstrations of one task; a query is
 * right when the library state with the highest cosine similarity (one layer's SSM state, as
 * `retrieve()` compares them) belongs to the query's task.
 *
 * The claim tested: retrieval is far above chance (1 / tasks) from very few shots on and
 * improves with k.
 *
 * Which items go where (the paper does not say, and its protocol cannot be disjoint
 * everywhere: country-capital has 197 items, and 10 x 32 library shots plus 10 x (1 + 2 + 4 +
 * 8 + 16) query shots are 630):
 *
 * - Each task is split with `splitTask(task, { seed, testFraction: queryFraction })`: library
 *   demonstrations come from the train part, query demonstrations from the test part, so no
 *   query shares an item with any library state.
 * - Library sets, and the query sets of one k, are disjoint while the part holds enough items
 *   (`count * k`); otherwise they are drawn in rounds, each round as many disjoint sets as fit,
 *   so an item is reused as little as possible and never twice in one set. With the defaults
 *   the library is disjoint for antonym, capitalize, capitalize_first_letter,
 *   capitalize_second_letter and english-french, and reuses items for country-capital (138
 *   train items for 320 shots), singular-plural (143) and present-past (205); queries of k = 8
 *   reuse items for country-capital (59 test items) and singular-plural (62), and of k = 16
 *   also for present-past (88). `meta.json` records the pool sizes.
 * - Query sets of different k are drawn independently and may share items.
 * - Layers count from 0; `layer` null is `Math.floor(L / 2)` (32 of Mamba-2.8b's 64).
 *
 * @module
 */

// @ts-types="npm:@types/d3-array@3.2.1"
import { group } from "npm:d3-array@3.2.5";
import { plotRetrievalVsK } from "../plot/retrieval_vs_k.ts";
import { SkillIndex } from "../library/skill_index.ts";
import type { StateKind } from "../retrieval/state_vector.ts";
import type { State } from "../states/state.ts";
import { encodeDemos } from "../tasks/encode_demos.ts";
import { splitTask } from "../tasks/split_task.ts";
import type { Task } from "../tasks/types.ts";
import { ConfigError } from "../util/errors.ts";
import { deriveSeed, sampleSetsWithReuse } from "./_demo_sets.ts";
import { extractStates } from "./_extract.ts";
import { FIGURE1_TASKS } from "./clustering.ts";
import { loadFigureTasks } from "./_tasks.ts";
import { ownUnit } from "./result_cache.ts";
import {
  type ExperimentOptions,
  type ExperimentOutput,
  type ExperimentRun,
  runExperiment,
} from "./context.ts";

/** Parameters of {@link runRetrievalVsK}. */
export type RetrievalVsKParams = {
  /** Task names; the library holds states of these tasks only. */
  tasks: string[];
  /** Library states per task. */
  libraryStates: number;
  /** Demonstrations behind each library state. */
  libraryShots: number;
  /** Query states per task and k. */
  queries: number;
  /** Shots per query, ascending. */
  ks: number[];
  /** Fraction of each task's items kept for queries (the rest feeds the library). */
  queryFraction: number;
  /** Seed of the split and all demonstration sets. */
  seed: number;
  /** Layer compared, from 0; null for `Math.floor(L / 2)`. */
  layer: number | null;
  /** State part compared. */
  kind: StateKind;
  /** Prompts read in one engine call. */
  batchSize: number;
};

/**
 * The paper's protocol: the 8 tasks of Fig. 1, 10 library states of 32 shots per task, 10
 * queries per task for k = 1, 2, 4, 8, 16, layer L/2's SSM state.
 *
 * @example
 * ```ts
 * import { PAPER_RETRIEVAL_VS_K } from "./retrieval_vs_k.ts";
 * if (PAPER_RETRIEVAL_VS_K.ks.join() !== "1,2,4,8,16") throw new Error();
 * ```
 */
export const PAPER_RETRIEVAL_VS_K: RetrievalVsKParams = {
  tasks: [...FIGURE1_TASKS],
  libraryStates: 10,
  libraryShots: 32,
  queries: 10,
  ks: [1, 2, 4, 8, 16],
  queryFraction: 0.3,
  seed: 0,
  layer: null,
  kind: "ssm",
  batchSize: 8,
};

/**
 * A small run: the same tasks, 4 library states of 16 shots, 5 queries per k up to 8. About
 * 2 minutes with a mamba-130m-sized model on 2 CPU cores, seconds on a tiny random model.
 *
 * @example
 * ```ts
 * import { QUICK_RETRIEVAL_VS_K } from "./retrieval_vs_k.ts";
 * if (QUICK_RETRIEVAL_VS_K.ks.at(-1) !== 8) throw new Error();
 * ```
 */
export const QUICK_RETRIEVAL_VS_K: RetrievalVsKParams = {
  ...PAPER_RETRIEVAL_VS_K,
  libraryStates: 4,
  libraryShots: 16,
  queries: 5,
  ks: [1, 2, 4, 8],
};

/** One query's result, as cached and as a row of `retrieval.csv`. */
export type QueryResult = {
  task: string;
  k: number;
  query: number;
  retrieved_task: string;
  score: number;
  correct: boolean;
};

/**
 * Runs the retrieval experiment (figure `retrieval`) and writes `results/retrieval/`:
 *
 * - `retrieval.csv`: one row per query: `task`, `k`, `query` (0-based), `retrieved_task` (the
 *   task of the most similar library state), `score` (its cosine similarity), `correct`
 *   (`retrieved_task === task`). Ordered by task (as given), k (as given), query.
 * - `accuracy.csv`: `task`, `k`, `accuracy` (the fraction of correct queries), for each task
 *   and then `"mean"` (the mean over tasks), each over the ks in order.
 * - `retrieval.svg`/`.png`: {@link plotRetrievalVsK} of `accuracy.csv`.
 *
 * Library states are cached as `library-<task>-s<i>`, query states as
 * `query-<task>-k<k>-q<i>`, and each (task, k)'s results as `results-<task>-k<k>`, so a killed
 * run resumes and a finished one rewrites its results without reading a state. The cache is keyed by the
 * parameters plus each task file's sha256 (`taskSha256`, recorded with the parameters in
 * `meta.json`).
 *
 * @param params Overrides of {@link PAPER_RETRIEVAL_VS_K}.
 * @param options Model, device, result and cache folders, progress lines.
 * @returns The paths written.
 * @example
 * ```ts ignore
 * import { QUICK_RETRIEVAL_VS_K, runRetrievalVsK } from "./retrieval_vs_k.ts";
 * await runRetrievalVsK(QUICK_RETRIEVAL_VS_K, { model: "state-spaces/mamba-130m-hf" });
 * ```
 */
export async function runRetrievalVsK(
  params: Partial<RetrievalVsKParams> = {},
  options: ExperimentOptions = {},
): Promise<string[]> {
  const inputs = await prepareRetrieval(params, options);
  return await runExperiment("retrieval", inputs.cacheParams, options, async (run) => {
    const layer = retrievalLayer(run, inputs.params);
    // Built only when a (task, k) is not cached yet.
    let library: Promise<SkillIndex> | undefined;
    const libraryOnce = () => library ??= buildRetrievalLibrary(run, inputs, layer);
    const results: QueryResult[] = [];
    for (const task of inputs.tasks) {
      for (const k of inputs.params.ks) {
        const rows = await ownUnit(() =>
          retrieveQueries(run, inputs, libraryOnce, task.name, k, layer)
        );
        if (rows) results.push(...rows);
      }
    }
    if (run.cache.shard) return { tables: {} }; // a shard's part: the merge writes the results
    return retrievalOutput(inputs, results, layer);
  });
}

/** What the retrieval figure reads before any model: {@link prepareRetrieval}. */
export interface RetrievalInputs {
  /** The parameters, defaults filled in and checked. */
  params: RetrievalVsKParams;
  /** The tasks, in the order of `params.tasks`. */
  tasks: Task[];
  /** Each task's demonstration sets ({@link planRetrievalSets}), in the same order. */
  plans: RetrievalSets[];
  /** What the result cache is keyed by: the parameters and each task file's sha256. */
  cacheParams: Record<string, unknown>;
}

/**
 * Step 1 of the retrieval figure: the parameters checked, the tasks loaded, and which items
 * every library state and every query reads. No model is needed.
 *
 * @example
 * ```ts ignore
 * const inputs = await prepareRetrieval(PRESETS.organism.retrieval);
 * inputs.plans[0].pools; // { items, library, queries }
 * ```
 */
export async function prepareRetrieval(
  params: Partial<RetrievalVsKParams> = {},
  options: ExperimentOptions = {},
): Promise<RetrievalInputs> {
  const p: RetrievalVsKParams = { ...PAPER_RETRIEVAL_VS_K, ...params };
  checkParams(p);
  const { tasks, sha256: taskSha256 } = await loadFigureTasks(p.tasks, options, p.seed);
  const plans = tasks.map((task) => planRetrievalSets(task, p));
  return { params: p, tasks, plans, cacheParams: { ...p, taskSha256 } };
}

/** The layer compared: `params.layer`, or `Math.floor(L / 2)`; checked against the model. */
export function retrievalLayer(run: ExperimentRun, params: RetrievalVsKParams): number {
  const nl = run.model.config.numHiddenLayers;
  const layer = params.layer ?? Math.floor(nl / 2);
  if (!Number.isInteger(layer) || layer < 0 || layer >= nl) {
    throw new ConfigError(
      `Cannot run retrieval: layer ${layer} is not one of the model's layers 0..${nl - 1}`,
      { field: "layer" },
    );
  }
  return layer;
}

/**
 * Step 2: the skill library, a {@link SkillIndex} over the state store holding the compared
 * layer (or layers) of every library state (`libraryStates` per task, each read from `libraryShots`
 * demonstrations).
 *
 * @example
 * ```ts ignore
 * const library = await buildRetrievalLibrary(exp.run, inputs, layer);
 * library.list({ task: "antonym" }).length; // libraryStates
 * ```
 */
export function buildRetrievalLibrary(
  run: ExperimentRun,
  inputs: RetrievalInputs,
  layer: number | readonly number[],
): Promise<SkillIndex> {
  const { tasks, plans, params: p } = inputs;
  return SkillIndex.build(
    run.model.store,
    run.model.engine,
    tasks.flatMap((task, t) =>
      plans[t].library.map((set, s) => ({
        task: task.name,
        k: p.libraryShots,
        index: s,
        demos: set,
        ids: encodeDemos(run.model.tokenizer, set.map((i) => task.items[i])),
      }))
    ),
    {
      layers: typeof layer === "number" ? [layer] : layer,
      batchSize: p.batchSize,
      onProgress: (done, all) => run.log(`library states: ${done}/${all}`),
    },
  );
}

/**
 * Step 3, for one task and k: each query's state read from its k demonstrations, the library
 * state most similar to it retrieved, and whether that is of the query's task. Cached as
 * `results-<task>-k<k>`: `library` is called only when the cache lacks them.
 *
 * @example
 * ```ts ignore
 * const rows = await retrieveQueries(exp.run, inputs, () => Promise.resolve(library), "antonym", 1, layer);
 * rows.filter((r) => r.correct).length;
 * ```
 */
export async function retrieveQueries(
  run: ExperimentRun,
  inputs: RetrievalInputs,
  library: () => Promise<SkillIndex>,
  taskName: string,
  k: number,
  layer: number,
): Promise<QueryResult[]> {
  const t = inputs.tasks.findIndex((task) => task.name === taskName);
  const sets = inputs.plans[t]?.queries.get(k);
  if (t < 0 || sets === undefined) {
    throw new ConfigError(`Cannot retrieve: no task "${taskName}" with k = ${k} in this run`, {
      field: "tasks",
    });
  }
  const task = inputs.tasks[t];
  const unit = await run.cache.json<QueryResult[]>(`results-${task.name}-k${k}`, async () => {
    const index = await library();
    const queries = await extractStates(
      run,
      sets.map((set, q) => ({
        name: `query-${task.name}-k${k}-q${pad(q)}`,
        ids: encodeDemos(run.model.tokenizer, set.map((i) => task.items[i])),
      })),
      {
        batchSize: inputs.params.batchSize,
        label: `query states ${task.name} k=${k}`,
        layers: [layer],
        // Only the compared layer is stored and read: States holding that layer alone.
        take: (state: State): State => state.withLogits(undefined),
      },
    );
    const hits = await index.retrieve(queries, { layer, kind: inputs.params.kind });
    return hits.map(([hit], q) => ({
      task: task.name,
      k,
      query: q,
      retrieved_task: hit.skill.task,
      score: hit.score,
      correct: hit.skill.task === task.name,
    }));
  });
  const right = unit.filter((r) => r.correct).length;
  run.log(`${task.name} k=${k}: ${right}/${unit.length} retrieved their task`);
  return unit;
}

/**
 * Step 4: the tables (`retrieval`, one row per query; `accuracy`, {@link summarizeRetrieval}),
 * the figure ({@link plotRetrievalVsK}) and meta.json's facts, as `results/retrieval/` holds them.
 */
export function retrievalOutput(
  inputs: RetrievalInputs,
  results: QueryResult[],
  layer: number,
): ExperimentOutput {
  const { tasks, plans, params: p } = inputs;
  const accuracy = summarizeRetrieval(results, p.tasks, p.ks);
  return {
    tables: { retrieval: results, accuracy },
    figures: { retrieval: plotRetrievalVsK(accuracy) },
    meta: {
      layer,
      pools: Object.fromEntries(tasks.map((task, t) => [task.name, plans[t].pools])),
      demoSets: Object.fromEntries(tasks.map((task, t) => [task.name, {
        library: plans[t].library,
        queries: Object.fromEntries(plans[t].queries),
      }])),
    },
  };
}

/**
 * Accuracy per task and k, then the mean over tasks per k, from per-query rows: rows of
 * `accuracy.csv` (`task`, `k`, `accuracy`), tasks and ks in the order given. A (task, k)
 * without rows has accuracy NaN.
 *
 * @param rows Per-query rows with `task`, `k` and `correct`.
 * @param tasks Tasks, in table order.
 * @param ks Shots, in table order.
 * @returns The accuracy rows, `"mean"` last.
 *
 * @example
 * ```ts
 * import { summarizeRetrieval } from "./retrieval_vs_k.ts";
 * const rows = [
 *   { task: "a", k: 1, correct: true }, { task: "a", k: 1, correct: false },
 *   { task: "b", k: 1, correct: true }, { task: "b", k: 1, correct: true },
 * ];
 * const acc = summarizeRetrieval(rows, ["a", "b"], [1]);
 * if (acc.map((r) => r.accuracy).join() !== "0.5,1,0.75") throw new Error(JSON.stringify(acc));
 * ```
 */
export function summarizeRetrieval(
  rows: readonly { task: string; k: number; correct: boolean }[],
  tasks: readonly string[],
  ks: readonly number[],
): { task: string; k: number; accuracy: number }[] {
  const out: { task: string; k: number; accuracy: number }[] = [];
  const byTaskK = group(rows, (r) => r.task, (r) => r.k);
  for (const task of tasks) {
    for (const k of ks) {
      const mine = byTaskK.get(task)?.get(k) ?? [];
      out.push({ task, k, accuracy: mine.filter((r) => r.correct).length / mine.length });
    }
  }
  const byK = group(out, (r) => r.k);
  for (const k of ks) {
    const per = (byK.get(k) ?? []).map((r) => r.accuracy);
    out.push({ task: "mean", k, accuracy: per.reduce((a, b) => a + b, 0) / per.length });
  }
  return out;
}

/** Which items of one task each library state and each query reads: see {@link planRetrievalSets}. */
export type RetrievalSets = {
  /** `libraryStates` sets of `libraryShots` item indices. */
  library: number[][];
  /** Per k, `queries` sets of k item indices. */
  queries: Map<number, number[][]>;
  /** Items in the task, in its library part and in its query part. */
  pools: { items: number; library: number; queries: number };
};

/**
 * The demonstration sets of one task: the task split with
 * `splitTask(task, { seed, testFraction: queryFraction })`, library sets from the train part,
 * query sets from the test part, each disjoint from the others of its kind while the part has
 * room and otherwise drawn in rounds of disjoint sets (see the module documentation). Seeds are
 * derived from `seed`, the task's name and k, so each task and k has its own draw.
 *
 * @param task The task (its `name` and number of items are used).
 * @param params `libraryStates`, `libraryShots`, `queries`, `ks`, `queryFraction`, `seed`.
 * @returns Item indices per library state and per query, and the pool sizes.
 * @throws {ConfigError} when a part holds fewer items than one set needs.
 *
 * @example
 * ```ts
 * import { planRetrievalSets, PAPER_RETRIEVAL_VS_K } from "./retrieval_vs_k.ts";
 * const items = Array.from({ length: 197 }, (_, i) => ({ input: `${i}`, output: `${i}` }));
 * const plan = planRetrievalSets({ name: "country-capital", items }, PAPER_RETRIEVAL_VS_K);
 * const library = new Set(plan.library.flat());
 * const queried = [...plan.queries.values()].flat(2);
 * if (queried.some((i) => library.has(i))) throw new Error("a query shares a library item");
 * if (plan.pools.library !== 138 || plan.pools.queries !== 59) throw new Error("70/30 split");
 * ```
 */
export function planRetrievalSets(
  task: Pick<Task, "name" | "items">,
  params: Pick<
    RetrievalVsKParams,
    "libraryStates" | "libraryShots" | "queries" | "ks" | "queryFraction" | "seed"
  >,
): RetrievalSets {
  const p = params;
  const { train, test } = splitTask(task, { seed: p.seed, testFraction: p.queryFraction });
  const fail = (part: string, size: number, k: number) =>
    new ConfigError(
      `Cannot run retrieval: task "${task.name}" keeps ${size} items for its ${part}, fewer than ` +
        `the ${k} shots of one set (queryFraction ${p.queryFraction})`,
      { field: "queryFraction" },
    );
  if (train.length < p.libraryShots) throw fail("library", train.length, p.libraryShots);
  const kMax = Math.max(...p.ks);
  if (test.length < kMax) throw fail("queries", test.length, kMax);
  const library = sampleSetsWithReuse(train, {
    count: p.libraryStates,
    k: p.libraryShots,
    seed: deriveSeed(p.seed, task.name, "library"),
  });
  const queries = new Map(p.ks.map((k) => [
    k,
    sampleSetsWithReuse(test, {
      count: p.queries,
      k,
      seed: deriveSeed(p.seed, task.name, "query", k),
    }),
  ]));
  return {
    library,
    queries,
    pools: { items: task.items.length, library: train.length, queries: test.length },
  };
}

function pad(i: number): string {
  return String(i).padStart(2, "0");
}

function checkParams(p: RetrievalVsKParams): void {
  const fail = (field: string, problem: string) =>
    new ConfigError(`Cannot run retrieval: ${problem}`, { field });
  if (p.tasks.length < 2) throw fail("tasks", "retrieval needs at least two tasks");
  if (new Set(p.tasks).size !== p.tasks.length) throw fail("tasks", "a task is listed twice");
  for (const field of ["libraryStates", "libraryShots", "queries", "batchSize"] as const) {
    if (!Number.isInteger(p[field]) || p[field] < 1) {
      throw fail(field, `${field} ${p[field]} is not a positive integer`);
    }
  }
  if (p.ks.length === 0 || p.ks.some((k) => !Number.isInteger(k) || k < 1)) {
    throw fail("ks", `ks [${p.ks.join(", ")}] must be positive integers`);
  }
  if (new Set(p.ks).size !== p.ks.length) throw fail("ks", "a k is listed twice");
  if (!(p.queryFraction > 0 && p.queryFraction < 1)) {
    throw fail("queryFraction", `queryFraction ${p.queryFraction} is not between 0 and 1`);
  }
  if (!Number.isInteger(p.seed)) throw fail("seed", `seed ${p.seed} is not an integer`);
  if (!["ssm", "conv", "both"].includes(p.kind)) {
    throw fail("kind", `kind "${p.kind}" is not one of ssm, conv, both`);
  }
}
