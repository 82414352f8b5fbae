/**
 * Fig. 1 (left) of State Soup and its appendix views: do the states of k-shot prompts cluster
 * by task? Each task (and, as the control, the same task with its outputs shuffled) gets
 * `sets` disjoint demonstration sets of `shots` items; each set's demonstrations are read from
 * the zero state (`encodeDemos`: the tokens exactly as inside a full prompt) and one layer's
 * state is embedded in two dimensions with t-SNE (`@saehrimnir/druidjs`) and, next to it, PCA.
 *
 * The claim tested: states of the same task lie together, apart from other tasks', while the
 * randomized controls (same inputs, same outputs, the relation destroyed) do not form such
 * clusters of their own.
 *
 * Choices where the paper says nothing:
 *
 * - Layers count from 0. The main view is `layer` (default `Math.floor(L / 2)`: 32 of
 *   Mamba-2.8b's 64, the paper's "layer 32"); the appendix views are `layers` (default
 *   0, L/4, L/2, 3L/4 and L-1, rounded down, without repeats) crossed with `kinds`.
 * - Demonstration sets come from all of a task's items (12 x 16 = 192 of them fit in
 *   country-capital's 197; there is no test split here). Set i of the randomized control uses
 *   the same item indices as set i of its task, so the two differ only in the outputs.
 * - One embedding per (layer, kind) holds all points, tasks and controls together. Vectors are
 *   the raw state values (no scaling). t-SNE: perplexity 30 and 1000 steps (scikit-learn's
 *   defaults; perplexity capped at (N - 1) / 3 for small runs), druidjs' learning rate 10 and
 *   its early exaggeration (4 for 100 steps), seeded, on squared Euclidean distances divided by
 *   their mean. PCA comes from the centered Gram matrix (the D x D covariance of 81,920-value
 *   states is out of reach), each axis' sign fixed so its largest coordinate is positive.
 *
 * @module
 */

import { type ClusteringPointRow, plotClustering } from "../plot/clustering.ts";
import { plotClusteringAppendix } from "../plot/clustering_appendix.ts";
import { type StateKind, stateVector } from "../retrieval/state_vector.ts";
import { encodeDemos } from "../tasks/encode_demos.ts";
import { loadTask } from "../tasks/load_task.ts";
import { sampleDemoSets } from "../tasks/sample_demo_sets.ts";
import type { Task } from "../tasks/types.ts";
import { ConfigError } from "../util/errors.ts";
import { deriveSeed } from "./_demo_sets.ts";
import {
  centeredGram,
  effectivePerplexity,
  pcaFromGram,
  type Points2d,
  tsneFromGram,
} from "./_embedding.ts";
import { extractStates } from "./_extract.ts";
import { ownUnit } from "./result_cache.ts";
import {
  type ExperimentOptions,
  type ExperimentOutput,
  type ExperimentRun,
  runExperiment,
} from "./context.ts";

/**
 * The eight tasks of Fig. 1 (Todd et al.'s function-vector tasks).
 *
 * @example
 * ```ts
 * import { FIGURE1_TASKS } from "./clustering.ts";
 * if (FIGURE1_TASKS.length !== 8 || !FIGURE1_TASKS.includes("country-capital")) throw new Error();
 * ```
 */
export const FIGURE1_TASKS: readonly string[] = [
  "antonym",
  "capitalize",
  "country-capital",
  "english-french",
  "present-past",
  "singular-plural",
  "capitalize_first_letter",
  "capitalize_second_letter",
];

/** The embedding methods, in table order. */
export const CLUSTERING_METHODS = ["tsne", "pca"] as const;

/** Parameters of {@link runClustering}. */
export type ClusteringParams = {
  /** Task names (without `_randomized`). */
  tasks: string[];
  /** Also embed each task's randomized control `<task>_randomized`. */
  randomized: boolean;
  /** Disjoint demonstration sets per task. */
  sets: number;
  /** Demonstrations per set. */
  shots: number;
  /** Seed of the sets, the output shuffles and t-SNE. */
  seed: number;
  /** Layer of the main figure, from 0; null for `Math.floor(L / 2)`. */
  layer: number | null;
  /** State part of the main figure. */
  kind: StateKind;
  /** Layers of the appendix figure; null for 0, L/4, L/2, 3L/4, L-1 (rounded down). */
  layers: number[] | null;
  /** State parts of the appendix figure. */
  kinds: StateKind[];
  /** t-SNE perplexity (capped at (N - 1) / 3). */
  perplexity: number;
  /** t-SNE steps. */
  iterations: number;
  /** Prompts read in one engine call. */
  batchSize: number;
};

/**
 * The paper's protocol: 8 tasks and their randomized controls, 12 sets of 16 shots each, t-SNE
 * of layer L/2's SSM state; appendix: five layers, SSM and conv states.
 *
 * @example
 * ```ts
 * import { PAPER_CLUSTERING } from "./clustering.ts";
 * if (PAPER_CLUSTERING.sets * PAPER_CLUSTERING.shots !== 192) throw new Error();
 * ```
 */
export const PAPER_CLUSTERING: ClusteringParams = {
  tasks: [...FIGURE1_TASKS],
  randomized: true,
  sets: 12,
  shots: 16,
  seed: 0,
  layer: null,
  kind: "ssm",
  layers: null,
  kinds: ["ssm", "conv"],
  perplexity: 30,
  iterations: 1000,
  batchSize: 8,
};

/**
 * A small run: the same tasks, 6 sets of 8 shots, 500 t-SNE steps. About 2 minutes with a
 * mamba-130m-sized model on 2 CPU cores, seconds on a tiny random model.
 *
 * @example
 * ```ts
 * import { QUICK_CLUSTERING } from "./clustering.ts";
 * if (QUICK_CLUSTERING.sets !== 6 || QUICK_CLUSTERING.shots !== 8) throw new Error();
 * ```
 */
export const QUICK_CLUSTERING: ClusteringParams = {
  ...PAPER_CLUSTERING,
  sets: 6,
  shots: 8,
  iterations: 500,
};

/** One embedded state: which task, control or not, which set. */
export interface PointId {
  task: string;
  randomized: boolean;
  set: number;
}

/** A (layer, kind) whose states are embedded. */
interface View {
  layer: number;
  kind: StateKind;
}

/**
 * Runs the clustering experiment (figure `clustering`) and writes `results/clustering/`:
 *
 * - `points.csv`: one row per view, method and state: `task` (without `_randomized`),
 *   `randomized` (true for the control), `set` (0-based), `layer` (0-based), `kind`
 *   (`ssm`/`conv`/`both`), `method` (`tsne`/`pca`), `x`, `y`. Rows are ordered by layer
 *   (ascending), kind (as in `kinds`, the main kind first when it is not among them), method
 *   (`tsne`, `pca`), task (as given), plain before randomized, set.
 * - `clustering.svg`/`.png`: {@link plotClustering} of the main view's t-SNE.
 * - `clustering_appendix.svg`/`.png`: {@link plotClusteringAppendix}, every view and method.
 *
 * States are cached as `<task>[_randomized]-set<i>`, each embedding as
 * `embedding-L<layer>-<kind>-<method>`, and all points as `points`, so a killed run resumes
 * and a finished one rewrites its results without reading a state. The cache is keyed by the
 * parameters plus each task file's sha256 (`taskSha256`, recorded with the parameters in
 * `meta.json`).
 *
 * @param params Overrides of {@link PAPER_CLUSTERING}.
 * @param options Model, device, result and cache folders, progress lines.
 * @returns The paths written.
 * @example
 * ```ts ignore
 * import { QUICK_CLUSTERING, runClustering } from "./clustering.ts";
 * await runClustering(QUICK_CLUSTERING, { model: "state-spaces/mamba-130m-hf" });
 * ```
 */
export async function runClustering(
  params: Partial<ClusteringParams> = {},
  options: ExperimentOptions = {},
): Promise<string[]> {
  const inputs = await prepareClustering(params, options);
  return await runExperiment("clustering", inputs.cacheParams, options, async (run) => {
    const plan = planClustering(run, inputs);
    const embeddings = await ownUnit(() => embedClustering(run, inputs, plan));
    if (embeddings === undefined || run.cache.shard) return { tables: {} }; // a shard's part
    return clusteringOutput(inputs, plan, embeddings);
  });
}

/** What the clustering figure reads before any model: {@link prepareClustering}. */
export interface ClusteringInputs {
  /** The parameters, defaults filled in and checked. */
  params: ClusteringParams;
  /** Each task, and its randomized control when asked for. */
  variants: { task: string; randomized: boolean; data: Task }[];
  /** What the result cache is keyed by: the parameters and each task file's sha256. */
  cacheParams: Record<string, unknown>;
}

/**
 * Step 1 of the clustering figure: the parameters checked and the tasks (with their randomized
 * controls) loaded. No model is needed.
 *
 * @example
 * ```ts ignore
 * const inputs = await prepareClustering(PRESETS.organism.clustering);
 * inputs.variants.map((v) => v.data.name);
 * ```
 */
export async function prepareClustering(
  params: Partial<ClusteringParams> = {},
  options: ExperimentOptions = {},
): Promise<ClusteringInputs> {
  const p: ClusteringParams = { ...PAPER_CLUSTERING, ...params };
  checkParams(p);
  const sources = { mirror: options.mirror, offline: options.offline };
  const variants: ClusteringInputs["variants"] = [];
  for (const name of p.tasks) {
    variants.push({ task: name, randomized: false, data: await loadTask(name, sources) });
    if (p.randomized) {
      const data = await loadTask(`${name}_randomized`, { ...sources, seed: p.seed });
      variants.push({ task: name, randomized: true, data });
    }
  }
  const taskSha256 = Object.fromEntries(variants.map((v) => [v.task, v.data.sha256]));
  return { params: p, variants, cacheParams: { ...p, taskSha256 } };
}

/** Which states the clustering figure reads and how it looks at them: {@link planClustering}. */
export interface ClusteringPlan {
  /** The main figure's layer and the appendix's layers. */
  layer: number;
  layers: number[];
  /** The (layer, kind) views embedded. */
  views: ReturnType<typeof clusteringViews>;
  /** One point per state: its task, control or not, and demonstration set. */
  ids: PointId[];
  /** The prompts read, one per point. */
  jobs: { name: string; ids: number[] }[];
  /** The demonstration sets per task (shared by a task and its control). */
  setsOf: Map<string, number[][]>;
  /** t-SNE's perplexity for this many points. */
  perplexity: number;
}

/**
 * Step 2: the layers checked against the model, the views, and each state's demonstrations
 * (`sets` sets of `shots` per task, the control reading the same items with shuffled outputs).
 */
export function planClustering(run: ExperimentRun, inputs: ClusteringInputs): ClusteringPlan {
  const p = inputs.params;
  const nl = run.model.config.numHiddenLayers;
  const layer = p.layer ?? Math.floor(nl / 2);
  const layers = p.layers ?? defaultLayers(nl);
  for (const l of [layer, ...layers]) {
    if (!Number.isInteger(l) || l < 0 || l >= nl) {
      throw new ConfigError(
        `Cannot run clustering: layer ${l} is not one of the model's layers 0..${nl - 1}`,
        { field: "layers" },
      );
    }
  }
  const views = clusteringViews(layer, p.kind, layers, p.kinds);
  // Demonstration sets: indices per task, shared by the task and its control.
  const ids: PointId[] = [];
  const jobs: { name: string; ids: number[] }[] = [];
  const setsOf = new Map<string, number[][]>();
  for (const v of inputs.variants) {
    let sets = setsOf.get(v.task);
    if (sets === undefined) {
      sets = sampleDemoSets(v.data.items.length, {
        count: p.sets,
        k: p.shots,
        seed: deriveSeed(p.seed, v.task),
      });
      setsOf.set(v.task, sets);
    }
    for (const [s, set] of sets.entries()) {
      ids.push({ task: v.task, randomized: v.randomized, set: s });
      jobs.push({
        name: `${v.data.name}-set${String(s).padStart(2, "0")}`,
        ids: encodeDemos(run.model.tokenizer, set.map((i) => v.data.items[i])),
      });
    }
  }
  const perplexity = effectivePerplexity(p.perplexity, ids.length);
  return { layer, layers, views, ids, jobs, setsOf, perplexity };
}

/**
 * Step 3: every state read (only the layers the views compare), and each view embedded in 2-D
 * by PCA and t-SNE (cached as `points`): one list of points per view and method, in the order
 * of the views, then of `CLUSTERING_METHODS`.
 */
export async function embedClustering(
  run: ExperimentRun,
  inputs: ClusteringInputs,
  plan: ClusteringPlan,
): Promise<Points2d[]> {
  const p = inputs.params;
  const { views, ids, jobs, perplexity } = plan;
  return await run.cache.json<Points2d[]>("points", async () => {
    // Only the layers the views compare are stored and read: a state of those layers.
    const layers = [...new Set(views.map((v) => v.layer))];
    const vectors = await extractStates(run, jobs, {
      batchSize: p.batchSize,
      label: "states",
      layers,
      take: (state) => views.map((view) => stateVector(state, view)),
    });
    const out: Points2d[] = [];
    for (const [vi, view] of views.entries()) {
      const gram = centeredGram(vectors.map((v) => v[vi]));
      for (const method of CLUSTERING_METHODS) {
        out.push(
          await run.cache.json(`embedding-L${view.layer}-${view.kind}-${method}`, () => {
            run.log(`${method} of layer ${view.layer} ${view.kind} (${ids.length} states)`);
            return Promise.resolve(
              method === "pca" ? pcaFromGram(gram, ids.length) : tsneFromGram(gram, ids.length, {
                perplexity,
                iterations: p.iterations,
                seed: p.seed,
              }),
            );
          }),
        );
      }
    }
    return out;
  });
}

/**
 * Step 4: the table (`points`: one row per state, view and method), the figures (the main
 * t-SNE and the appendix of every view) and meta.json's facts, as `results/clustering/` holds
 * them.
 */
export function clusteringOutput(
  inputs: ClusteringInputs,
  plan: ClusteringPlan,
  embeddings: Points2d[],
): ExperimentOutput {
  const { layer, layers, views, ids, setsOf, perplexity } = plan;
  const rows: ClusteringPointRow[] = [];
  views.forEach((view, vi) => {
    CLUSTERING_METHODS.forEach((method, mi) => {
      const points = embeddings[vi * CLUSTERING_METHODS.length + mi];
      ids.forEach((id, i) => {
        rows.push({
          ...id,
          layer: view.layer,
          kind: view.kind,
          method,
          x: points[i][0],
          y: points[i][1],
        });
      });
    });
  });
  const main = rows.filter((r) =>
    r.layer === layer && r.kind === inputs.params.kind && r.method === "tsne"
  );
  return {
    tables: { points: rows },
    figures: {
      clustering: plotClustering(main),
      clustering_appendix: plotClusteringAppendix(rows),
    },
    meta: {
      layer,
      layers,
      views,
      perplexity,
      states: ids.length,
      demoSets: Object.fromEntries(setsOf),
    },
  };
}

/** The appendix layers of a model with `nl` layers: 0, L/4, L/2, 3L/4, L-1, without repeats. */
function defaultLayers(nl: number): number[] {
  const picks = [0, Math.floor(nl / 4), Math.floor(nl / 2), Math.floor((3 * nl) / 4), nl - 1];
  return [...new Set(picks)].sort((a, b) => a - b);
}

/** Every (layer, kind) embedded: `layers` x `kinds` and the main view, by layer then kind. */
function clusteringViews(
  layer: number,
  kind: StateKind,
  layers: readonly number[],
  kinds: readonly StateKind[],
): View[] {
  const allKinds = kinds.includes(kind) ? [...kinds] : [kind, ...kinds];
  const allLayers = [...new Set([layer, ...layers])].sort((a, b) => a - b);
  const views: View[] = [];
  for (const l of allLayers) {
    for (const k of allKinds) {
      const inGrid = layers.includes(l) && kinds.includes(k);
      if (inGrid || (l === layer && k === kind)) views.push({ layer: l, kind: k });
    }
  }
  return views;
}

function checkParams(p: ClusteringParams): void {
  const fail = (field: string, problem: string) =>
    new ConfigError(`Cannot run clustering: ${problem}`, { field });
  if (p.tasks.length === 0) throw fail("tasks", "no tasks given");
  if (new Set(p.tasks).size !== p.tasks.length) throw fail("tasks", "a task is listed twice");
  for (const field of ["sets", "shots", "iterations", "batchSize"] as const) {
    if (!Number.isInteger(p[field]) || p[field] < 1) {
      throw fail(field, `${field} ${p[field]} is not a positive integer`);
    }
  }
  if (!Number.isInteger(p.seed)) throw fail("seed", `seed ${p.seed} is not an integer`);
  if (!(p.perplexity > 0)) throw fail("perplexity", `perplexity ${p.perplexity} is not positive`);
  if (p.kinds.length === 0) throw fail("kinds", "no state kinds given");
  for (const k of [p.kind, ...p.kinds]) {
    if (!["ssm", "conv", "both"].includes(k)) {
      throw fail("kinds", `kind "${k}" is not one of ssm, conv, both`);
    }
  }
}
