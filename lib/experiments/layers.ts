/**
 * Beyond the paper: which layer holds the task? State Soup retrieves with layer 32 of
 * Mamba-2.8b's 64 because "intermediate layers encode the task most reliably", without showing
 * it. This figure sweeps every layer and each part of its state (the SSM state, the conv state,
 * both) and reports, per layer and part:
 *
 * - retrieval accuracy against k, by the protocol of Fig. 1 right (`retrieval_vs_k.ts`, the same
 *   tasks, library, queries and demonstration sets; a query is right when its nearest library
 *   state by cosine similarity is of its task);
 * - how well the library states cluster by task in the raw state space, without t-SNE:
 *   leave-one-out `neighbours`-nearest-neighbour accuracy of the task ({@link knnAccuracy}) and
 *   the mean silhouette ({@link silhouette}), both by cosine.
 *
 * @module
 */

import { plotLayers } from "../plot/layers.ts";
import type { SkillIndex } from "../library/skill_index.ts";
import { STATE_KINDS, type StateKind, stateVector } from "../retrieval/state_vector.ts";
import type { State } from "../states/state.ts";
import { encodeDemos } from "../tasks/encode_demos.ts";
import { ConfigError } from "../util/errors.ts";
import { extractStates } from "./_extract.ts";
import {
  type ExperimentOptions,
  type ExperimentOutput,
  type ExperimentRun,
  runExperiment,
} from "./context.ts";
import { ownUnit } from "./result_cache.ts";
import {
  buildRetrievalLibrary,
  PAPER_RETRIEVAL_VS_K,
  prepareRetrieval,
  QUICK_RETRIEVAL_VS_K,
  type RetrievalInputs,
  type RetrievalVsKParams,
  summarizeRetrieval,
} from "./retrieval_vs_k.ts";

/** Parameters of {@link runLayers}: retrieval's, with layers and state parts swept. */
export type LayersParams = Omit<RetrievalVsKParams, "layer" | "kind"> & {
  /** Layers swept, counted from 0; null for every layer of the model. */
  layers: number[] | null;
  /** State parts compared: `ssm`, `conv`, `both` (see `stateVector`). */
  kinds: StateKind[];
  /** Neighbours of the cluster score ({@link knnAccuracy}). */
  neighbours: number;
};

/**
 * The paper's retrieval protocol (Fig. 1 right: 8 tasks, 10 library states of 32 shots, 10
 * queries per k = 1 .. 16) at every layer, for the SSM state, the conv state and both; 5
 * neighbours for the cluster score.
 *
 * @example
 * ```ts
 * import { PAPER_LAYERS } from "./layers.ts";
 * if (PAPER_LAYERS.layers !== null || PAPER_LAYERS.kinds.join() !== "ssm,conv,both") throw new Error();
 * ```
 */
export const PAPER_LAYERS: LayersParams = {
  ...retrievalPart(PAPER_RETRIEVAL_VS_K),
  layers: null,
  kinds: [...STATE_KINDS],
  neighbours: 5,
};

/** The quick retrieval run's sizes (4 library states of 16 shots, 5 queries, k up to 8). */
export const QUICK_LAYERS: LayersParams = {
  ...PAPER_LAYERS,
  ...retrievalPart(QUICK_RETRIEVAL_VS_K),
};

function retrievalPart(p: RetrievalVsKParams): Omit<RetrievalVsKParams, "layer" | "kind"> {
  const { layer: _layer, kind: _kind, ...rest } = p;
  return rest;
}

/** One query at one layer and state part, as cached and as a row of `retrieval.csv`. */
export type LayerQueryResult = {
  layer: number;
  kind: StateKind;
  task: string;
  k: number;
  query: number;
  retrieved_task: string;
  score: number;
  correct: boolean;
};

/** A row of `summary.csv`: one measure at one layer and state part. */
export type LayerSummaryRow = {
  layer: number;
  kind: StateKind;
  /** `retrieval` (mean accuracy over tasks at `k`), `knn` or `silhouette`. */
  measure: "retrieval" | "knn" | "silhouette";
  /** Shots of the queries (`retrieval` only; null otherwise). */
  k: number | null;
  value: number;
};

/** What {@link runLayers} reads before any model: retrieval's inputs and the checked sweep. */
export interface LayersInputs {
  params: LayersParams;
  /** Retrieval's inputs: tasks, demonstration sets (the same as Fig. 1 right's). */
  retrieval: RetrievalInputs;
  /** What the result cache is keyed by. */
  cacheParams: Record<string, unknown>;
}

/**
 * Runs the layer sweep (figure `layers`) and writes `results/layers/`:
 *
 * - `retrieval.csv`: one row per query, layer and state part: `layer`, `kind`, `task`, `k`,
 *   `query`, `retrieved_task`, `score`, `correct`.
 * - `accuracy.csv`: `layer`, `kind`, `task`, `k`, `accuracy`, per task and then `"mean"`.
 * - `summary.csv`: `layer`, `kind`, `measure` (`retrieval`, `knn`, `silhouette`), `k` (retrieval
 *   only), `value`: what the figure draws and the claims read.
 * - `layers.svg`/`.png`: {@link plotLayers} of `summary.csv`.
 *
 * States go through the shared state store (the library's and the queries' token ids are those of
 * the retrieval figure, so their stored states are reused); per (task, k) results and the
 * cluster scores are cached units, so a killed run resumes.
 *
 * @param params Overrides of {@link PAPER_LAYERS}.
 * @param options Model, device, result and cache folders, progress lines.
 * @returns The paths written.
 * @example
 * ```ts ignore
 * import { QUICK_LAYERS, runLayers } from "./layers.ts";
 * await runLayers(QUICK_LAYERS, { model: "organism" });
 * ```
 */
export async function runLayers(
  params: Partial<LayersParams> = {},
  options: ExperimentOptions = {},
): Promise<string[]> {
  const inputs = await prepareLayers(params, options);
  return await runExperiment("layers", inputs.cacheParams, options, async (run) => {
    const layers = sweptLayers(run, inputs.params);
    let library: Promise<SkillIndex> | undefined;
    const libraryOnce = () => library ??= buildRetrievalLibrary(run, inputs.retrieval, layers);
    const clusters = await ownUnit(() => clusterScores(run, inputs, libraryOnce, layers));
    const results: LayerQueryResult[] = [];
    for (const task of inputs.retrieval.tasks) {
      for (const k of inputs.params.ks) {
        const rows = await ownUnit(() =>
          retrieveAtLayers(run, inputs, libraryOnce, task.name, k, layers)
        );
        if (rows) results.push(...rows);
      }
    }
    if (run.cache.shard) return { tables: {} };
    return layersOutput(inputs, results, clusters ?? [], layers);
  });
}

/**
 * Step 1: the parameters checked, the tasks loaded and the demonstration sets drawn (those of
 * the retrieval figure with the same sizes and seed). No model is needed.
 */
export async function prepareLayers(
  params: Partial<LayersParams> = {},
  options: ExperimentOptions = {},
): Promise<LayersInputs> {
  const p: LayersParams = { ...PAPER_LAYERS, ...params };
  checkParams(p);
  const { layers: _layers, kinds: _kinds, neighbours: _neighbours, ...shared } = p;
  const retrieval = await prepareRetrieval({ ...shared, layer: null, kind: "ssm" }, options);
  return {
    params: p,
    retrieval,
    cacheParams: { ...p, taskSha256: retrieval.cacheParams.taskSha256 },
  };
}

/** The layers swept: `params.layers`, or every layer of the model; checked against it. */
export function sweptLayers(run: ExperimentRun, params: LayersParams): number[] {
  const nl = run.model.config.numHiddenLayers;
  const layers = params.layers ?? Array.from({ length: nl }, (_, i) => i);
  for (const layer of layers) {
    if (!Number.isInteger(layer) || layer < 0 || layer >= nl) {
      throw new ConfigError(
        `Cannot run the layer sweep: layer ${layer} is not one of the model's layers 0..${nl - 1}`,
        { field: "layers" },
      );
    }
  }
  return layers;
}

/**
 * Step 2: the cluster scores of the library states at every swept layer and state part:
 * `knn` ({@link knnAccuracy} with `neighbours`) and `silhouette` ({@link silhouette}), both by
 * cosine. Cached as the unit `clusters`.
 */
export async function clusterScores(
  run: ExperimentRun,
  inputs: LayersInputs,
  library: () => Promise<SkillIndex>,
  layers: readonly number[],
): Promise<LayerSummaryRow[]> {
  const { kinds, neighbours } = inputs.params;
  const rows = await run.cache.json<LayerSummaryRow[]>("clusters", async () => {
    const index = await library();
    const skills = index.list();
    const labels = skills.map((s) => s.task);
    const out: LayerSummaryRow[] = [];
    for (const layer of layers) {
      for (const kind of kinds) {
        const vectors = skills.map((s) => stateVector(index.state(s.id), { layer, kind }));
        out.push(
          { layer, kind, measure: "knn", k: null, value: knnAccuracy(vectors, labels, neighbours) },
          { layer, kind, measure: "silhouette", k: null, value: silhouette(vectors, labels) },
        );
      }
    }
    return out;
  });
  const at = (layer: number) =>
    rows.filter((r) => r.layer === layer && r.kind === kinds[0] && r.measure === "knn")[0]?.value;
  run.log(
    `library states, ${neighbours}-NN accuracy of the ${kinds[0]} state by layer: ${
      layers.map((l) => `${l}: ${at(l)?.toFixed(2)}`).join(", ")
    }`,
  );
  return rows;
}

/**
 * Step 3, for one task and k: each query's state read from its k demonstrations (all swept
 * layers), and at every layer and state part the library state most similar to it. Cached as
 * `results-<task>-k<k>`.
 */
export async function retrieveAtLayers(
  run: ExperimentRun,
  inputs: LayersInputs,
  library: () => Promise<SkillIndex>,
  taskName: string,
  k: number,
  layers: readonly number[],
): Promise<LayerQueryResult[]> {
  const { tasks, plans } = inputs.retrieval;
  const t = tasks.findIndex((task) => task.name === taskName);
  const sets = plans[t]?.queries.get(k);
  if (t < 0 || sets === undefined) {
    throw new ConfigError(`Cannot sweep layers: no task "${taskName}" with k = ${k} in this run`, {
      field: "tasks",
    });
  }
  const task = tasks[t];
  const unit = await run.cache.json<LayerQueryResult[]>(`results-${task.name}-k${k}`, async () => {
    const index = await library();
    const queries = await extractStates(
      run,
      sets.map((set) => ({
        ids: encodeDemos(run.model.tokenizer, set.map((i) => task.items[i])),
      })),
      {
        batchSize: inputs.params.batchSize,
        label: `query states ${task.name} k=${k}`,
        layers,
        take: (state: State): State => state.withLogits(undefined),
      },
    );
    const rows: LayerQueryResult[] = [];
    for (const layer of layers) {
      for (const kind of inputs.params.kinds) {
        const hits = await index.retrieve(queries, { layer, kind });
        rows.push(...hits.map(([hit], q) => ({
          layer,
          kind,
          task: task.name,
          k,
          query: q,
          retrieved_task: hit.skill.task,
          score: hit.score,
          correct: hit.skill.task === task.name,
        })));
      }
    }
    return rows;
  });
  run.log(`${task.name} k=${k}: queries retrieved at ${layers.length} layers`);
  return unit;
}

/**
 * Step 4: the tables (`retrieval`, `accuracy`, `summary`), the figure ({@link plotLayers}) and
 * meta.json's facts.
 */
export function layersOutput(
  inputs: LayersInputs,
  results: readonly LayerQueryResult[],
  clusters: readonly LayerSummaryRow[],
  layers: readonly number[],
): ExperimentOutput {
  const { params: p } = inputs;
  const accuracy: { layer: number; kind: StateKind; task: string; k: number; accuracy: number }[] =
    [];
  const summary: LayerSummaryRow[] = [];
  for (const layer of layers) {
    for (const kind of p.kinds) {
      const mine = results.filter((r) => r.layer === layer && r.kind === kind);
      const acc = summarizeRetrieval(mine, p.tasks, p.ks);
      accuracy.push(...acc.map((r) => ({ layer, kind, ...r })));
      for (const r of acc.filter((r) => r.task === "mean")) {
        summary.push({ layer, kind, measure: "retrieval", k: r.k, value: r.accuracy });
      }
      summary.push(
        ...clusters.filter((r) => r.layer === layer && r.kind === kind),
      );
    }
  }
  return {
    tables: { retrieval: [...results], accuracy, summary },
    figures: { layers: plotLayers(summary) },
    meta: {
      layers,
      libraryStates: p.tasks.length * p.libraryStates,
      pools: Object.fromEntries(
        inputs.retrieval.tasks.map((task, t) => [task.name, inputs.retrieval.plans[t].pools]),
      ),
    },
  };
}

/** Unit vectors in float64 (a zero vector stays zero: similarity 0 to everything). */
function unitVectors(vectors: readonly ArrayLike<number>[]): Float64Array[] {
  return vectors.map((v) => {
    let norm = 0;
    for (let i = 0; i < v.length; i++) norm += v[i] * v[i];
    const u = new Float64Array(v.length);
    if (norm > 0) {
      const s = 1 / Math.sqrt(norm);
      for (let i = 0; i < v.length; i++) u[i] = v[i] * s;
    }
    return u;
  });
}

/** Cosine similarity of every pair (symmetric, 1 on the diagonal for non-zero vectors). */
function cosineMatrix(vectors: readonly ArrayLike<number>[]): Float64Array[] {
  const u = unitVectors(vectors);
  const sim = u.map(() => new Float64Array(u.length));
  for (let i = 0; i < u.length; i++) {
    for (let j = i; j < u.length; j++) {
      let dot = 0;
      for (let d = 0; d < u[i].length; d++) dot += u[i][d] * u[j][d];
      sim[i][j] = sim[j][i] = dot;
    }
  }
  return sim;
}

function checkLabelled(vectors: readonly ArrayLike<number>[], labels: readonly string[]): void {
  if (vectors.length !== labels.length) {
    throw new ConfigError(
      `Cannot score clusters: ${vectors.length} vectors but ${labels.length} labels`,
    );
  }
  if (vectors.length < 2) throw new ConfigError("Cannot score clusters: fewer than two vectors");
}

/**
 * Leave-one-out k-nearest-neighbour accuracy: the fraction of vectors whose `k` most
 * cosine-similar others (ties by position) vote for their own label; a tied vote goes to the
 * label with the larger summed similarity.
 *
 * @example
 * ```ts
 * import { knnAccuracy } from "./layers.ts";
 * const v = [[1, 0], [0.9, 0.1], [0, 1], [0.1, 0.9], [0.8, 0.2]];
 * // The last vector is labelled "b" but lies among the "a"s: it and nothing else is wrong.
 * if (knnAccuracy(v, ["a", "a", "b", "b", "b"], 1) !== 0.8) throw new Error();
 * ```
 */
export function knnAccuracy(
  vectors: readonly ArrayLike<number>[],
  labels: readonly string[],
  k: number,
): number {
  checkLabelled(vectors, labels);
  if (!Number.isInteger(k) || k < 1 || k >= vectors.length) {
    throw new ConfigError(
      `Cannot score clusters: ${k} neighbours is not a whole number from 1 to ${
        vectors.length - 1
      }`,
      { field: "neighbours" },
    );
  }
  const sim = cosineMatrix(vectors);
  let hits = 0;
  for (let i = 0; i < vectors.length; i++) {
    const near = Array.from(sim[i].keys()).filter((j) => j !== i)
      .sort((a, b) => sim[i][b] - sim[i][a] || a - b).slice(0, k);
    const votes = new Map<string, { n: number; s: number }>();
    for (const j of near) {
      const v = votes.get(labels[j]) ?? { n: 0, s: 0 };
      votes.set(labels[j], { n: v.n + 1, s: v.s + sim[i][j] });
    }
    const [best] = [...votes.entries()].sort((a, b) => b[1].n - a[1].n || b[1].s - a[1].s);
    if (best[0] === labels[i]) hits++;
  }
  return hits / vectors.length;
}

/**
 * Mean silhouette with cosine distance (1 - cosine similarity): per vector
 * (b - a) / max(a, b), with a its mean distance to the others of its label and b the smallest
 * mean distance to another label's vectors; 0 for a vector alone in its label (as scikit-learn
 * does). 1 for tight, far-apart clusters, near 0 for overlapping ones, negative when vectors sit
 * closer to another label.
 *
 * @example
 * ```ts
 * import { silhouette } from "./layers.ts";
 * // Two labels at right angles: a = 0, b = 1 for every vector.
 * if (silhouette([[1, 0], [2, 0], [0, 1], [0, 3]], ["a", "a", "b", "b"]) !== 1) throw new Error();
 * // By hand, c = cos 45°: [1, 0] has a = 1 - c, b = 1; [1, 1] has a = b = 1 - c; [0, 1] is
 * // alone in its label (0).
 * const s = silhouette([[1, 0], [1, 1], [0, 1]], ["a", "a", "b"]);
 * const c = Math.SQRT1_2, a = 1 - c;
 * const s0 = ((1 - 0) - a) / 1, s1 = ((1 - c) - a) / Math.max(a, 1 - c);
 * if (Math.abs(s - (s0 + s1 + 0) / 3) > 1e-12) throw new Error(`${s}`);
 * ```
 */
export function silhouette(
  vectors: readonly ArrayLike<number>[],
  labels: readonly string[],
): number {
  checkLabelled(vectors, labels);
  if (new Set(labels).size < 2) throw new ConfigError("Cannot score clusters: only one label");
  const sim = cosineMatrix(vectors);
  const groups = new Map<string, number[]>();
  for (const [i, label] of labels.entries()) {
    groups.set(label, [...groups.get(label) ?? [], i]);
  }
  let sum = 0;
  for (let i = 0; i < vectors.length; i++) {
    const own = groups.get(labels[i])!;
    if (own.length === 1) continue; // s = 0
    const meanDistance = (members: number[]) =>
      members.filter((j) => j !== i).reduce((acc, j) => acc + (1 - sim[i][j]), 0) /
      members.filter((j) => j !== i).length;
    const a = meanDistance(own);
    let b = Infinity;
    for (const [label, members] of groups) {
      if (label !== labels[i]) b = Math.min(b, meanDistance(members));
    }
    const m = Math.max(a, b);
    sum += m === 0 ? 0 : (b - a) / m;
  }
  return sum / vectors.length;
}

function checkParams(p: LayersParams): void {
  const fail = (field: string, problem: string) =>
    new ConfigError(`Cannot run the layer sweep: ${problem}`, { field });
  if (p.layers !== null) {
    if (!Array.isArray(p.layers) || p.layers.length === 0) {
      throw fail("layers", "layers must be null (every layer) or a non-empty list");
    }
    if (new Set(p.layers).size !== p.layers.length) throw fail("layers", "a layer is listed twice");
  }
  if (!Array.isArray(p.kinds) || p.kinds.length === 0) {
    throw fail("kinds", "kinds must name at least one of ssm, conv, both");
  }
  for (const kind of p.kinds) {
    if (!STATE_KINDS.includes(kind)) {
      throw fail("kinds", `kind "${kind}" is not one of ${STATE_KINDS.join(", ")}`);
    }
  }
  if (new Set(p.kinds).size !== p.kinds.length) throw fail("kinds", "a kind is listed twice");
  const library = p.tasks.length * p.libraryStates;
  if (!Number.isInteger(p.neighbours) || p.neighbours < 1 || p.neighbours >= library) {
    throw fail(
      "neighbours",
      `neighbours ${p.neighbours} is not a whole number from 1 to ${
        library - 1
      } (library states - 1)`,
    );
  }
}
