/**
 * Beyond the paper: does retrieval survive a large library? Fig. 1 right's library holds 10
 * states per task of 8 tasks. Here it grows to every task of the data (the 8 queried ones and
 * every other as a distractor), `libraryKs` shot counts and `statesPerK` demonstration sets per
 * task and k: 53 x 3 x 64 = 10,176 states with the defaults. The queries are Fig. 1 right's (the
 * same sets, from the queried tasks' test parts; library states of those tasks come from their
 * train parts).
 *
 * - Accuracy against size: libraries of `levels[i]` states per task and k (each a prefix of the
 *   next), searched exactly; and the paper's library (the queried tasks' first 10 states of their
 *   largest k) beside them.
 * - Indexes at each size: exact cosine (one batched onnxruntime Gemm), usearch's HNSW graph, and
 *   random projections whose `rerank` candidates are re-scored exactly: recall@1 (the index's
 *   first hit is the exact one), retrieval accuracy, memory. Build and query times differ from
 *   run to run, so they are `deno task bench scale`'s (bench/scale.ts), not the figure's.
 *   LanceDB's on-disk table (`lancedb`, flat, and `lancedb-ivf`, IVF_HNSW_SQ) can be named in
 *   `indexes` too; the presets leave them to the bench: a flat search reads every row from disk
 *   (0.65 s a query at 10,176 states, `deno task bench scale`), and LanceDB's HNSW graph is not seeded.
 * - What a library of 10^6 states would take for this model's layer state and for
 *   mamba-2.8b's (81,920 floats): float32, float16, int8, a projection in memory with the full
 *   vectors on disk.
 *
 * @module
 */

// @ts-types="npm:@types/d3-array@3.2.1"
import { group } from "npm:d3-array@3.2.5";
import { plotScale, plotScaleIndexes } from "../plot/scale.ts";
import type { Row } from "../results/csv.ts";
import { LanceIndex } from "../retrieval/lancedb_index.ts";
import {
  ExactCosineIndex,
  ProjectionIndex,
  UsearchIndex,
  type VectorIndex,
} from "../retrieval/vector_search.ts";
import { encodeDemos } from "../tasks/encode_demos.ts";
import { listTasks } from "../tasks/list_tasks.ts";
import { splitTask } from "../tasks/split_task.ts";
import type { Task } from "../tasks/types.ts";
import { ConfigError } from "../util/errors.ts";
import { deriveSeed, sampleSetsWithReuse } from "./_demo_sets.ts";
import { extractStates } from "./_extract.ts";
import { loadFigureTasks } from "./_tasks.ts";
import { FIGURE1_TASKS } from "./clustering.ts";
import {
  type ExperimentOptions,
  type ExperimentOutput,
  type ExperimentRun,
  runExperiment,
} from "./context.ts";
import { PAPER_RETRIEVAL_VS_K, planRetrievalSets } from "./retrieval_vs_k.ts";

/** Tasks never used as distractors: their inputs are paragraphs, not words. */
export const LONG_INPUT_TASKS: readonly string[] = ["ag_news", "commonsense_qa", "sentiment"];

/** Parameters of {@link runScale}. */
export type ScaleParams = {
  /** Queried tasks (Fig. 1 right's). */
  tasks: string[];
  /** Distractor tasks; null for every other task of the data but {@link LONG_INPUT_TASKS}. */
  distractors: string[] | null;
  /** Shot counts of the library states. */
  libraryKs: number[];
  /** Demonstration sets per task and k in the largest library. */
  statesPerK: number;
  /** Library sizes, as states per task and k (ascending, the last `statesPerK`). */
  levels: number[];
  /** Fig. 1 right's queries: per task and k, from the test part (`queryFraction`). */
  queries: number;
  ks: number[];
  queryFraction: number;
  /** Seed of the splits and every demonstration set. */
  seed: number;
  /** Layer compared, from 0; null for `Math.floor(L / 2)`. */
  layer: number | null;
  /** Prompts read in one engine call. */
  batchSize: number;
  /**
   * Indexes compared beside exact search: `usearch` (float32), `usearch-f16`, `usearch-i8`
   * (its vectors stored in half precision or 8-bit), `projection-<dims>` (random), `pca-<dims>`
   * (the library's top right singular vectors), `lancedb` (LanceDB's on-disk table searched
   * flat, exactly), `lancedb-ivf` (LanceDB's IVF_HNSW_SQ index, re-ranked: see
   * {@link LANCEDB_IVF}).
   */
  indexes: string[];
  /** Candidates a projection re-ranks exactly. */
  rerank: number;
};

/**
 * 10,176 states (every task, k = 8, 16, 32, 64 sets each) at sizes of 1, 4, 16 and 64 states
 * per task and k; Fig. 1 right's queries; exact search, usearch's HNSW (float32, float16, int8)
 * and random or PCA projections to 64 and 256 dimensions re-ranking 50 candidates.
 *
 * @example
 * ```ts
 * import { PAPER_SCALE } from "./scale.ts";
 * if (PAPER_SCALE.levels.at(-1) !== PAPER_SCALE.statesPerK) throw new Error();
 * ```
 */
export const PAPER_SCALE: ScaleParams = {
  tasks: [...FIGURE1_TASKS],
  distractors: null,
  libraryKs: [8, 16, 32],
  statesPerK: 64,
  levels: [1, 4, 16, 64],
  queries: PAPER_RETRIEVAL_VS_K.queries,
  ks: [...PAPER_RETRIEVAL_VS_K.ks],
  queryFraction: PAPER_RETRIEVAL_VS_K.queryFraction,
  seed: 0,
  layer: null,
  batchSize: 16,
  indexes: [
    "usearch",
    "usearch-f16",
    "usearch-i8",
    "projection-64",
    "projection-256",
    "pca-64",
    "pca-256",
  ],
  rerank: 50,
};

/** A small run: 4 states per task and k (sizes 1 and 4), 3 queries per task and k, k = 1 and 8. */
export const QUICK_SCALE: ScaleParams = {
  ...PAPER_SCALE,
  statesPerK: 4,
  levels: [1, 4],
  queries: 3,
  ks: [1, 8],
};

/** One library state to read: its task, shots, set and demonstrations. */
export interface ScaleLibraryEntry {
  task: string;
  k: number;
  set: number;
  demos: number[];
}

/** What the figure reads before any model: {@link prepareScale}. */
export interface ScaleInputs {
  params: ScaleParams;
  /** Every library task, queried ones first. */
  tasks: Task[];
  /** The library in size order: a prefix of `levelSize(level)` states is the library at a level. */
  library: ScaleLibraryEntry[];
  /** Per queried task and k, the query sets (Fig. 1 right's). */
  queries: { task: string; k: number; sets: number[][] }[];
  cacheParams: Record<string, unknown>;
}

/**
 * Runs the scale figure (`scale`) and writes `results/scale/`:
 *
 * - `accuracy.csv`: per library (`library`: `paper` or `level <states per task and k>`), its
 *   `size`, the `index`, the query shots `k`: `accuracy` (the mean over queried tasks of the share
 *   of queries whose first hit is of their task) and `recall_at_1` (the share whose first hit is
 *   exact search's).
 * - `indexes.csv`: per library and index: `size`, `memory_mb` (what the index holds in memory),
 *   `disk_mb` (the files it keeps on disk while in use: LanceDB's table; 0 for the others).
 * - `memory.csv`: what 10^6 states take, per representation, for this model's and mamba-2.8b's
 *   layer state.
 * - `scale.svg`/`.png` ({@link plotScale}): accuracy against library size per k;
 *   `scale_indexes.svg`/`.png` ({@link plotScaleIndexes}): recall@1 against query time.
 *
 * States (one layer) go through the shared state store in rounds, each a unit of the result
 * cache, so a killed run resumes without reading them again and shards split them; the searches
 * are cheap and run every time (in the merge, not in the shards).
 */
export async function runScale(
  params: Partial<ScaleParams> = {},
  options: ExperimentOptions = {},
): Promise<string[]> {
  const inputs = await prepareScale(params, options);
  return await runExperiment("scale", inputs.cacheParams, options, async (run) => {
    const layer = scaleLayer(run, inputs.params);
    const library = await libraryVectors(run, inputs, layer);
    const queries = await queryVectors(run, inputs, layer);
    if (run.cache.shard) return { tables: {} };
    const measured = await searchLevels(run, inputs, library, queries);
    return scaleOutput(run, inputs, measured, library.dim);
  });
}

/** Step 1: tasks, every library state's demonstrations and the queries. No model is needed. */
export async function prepareScale(
  params: Partial<ScaleParams> = {},
  options: ExperimentOptions = {},
): Promise<ScaleInputs> {
  const p: ScaleParams = { ...PAPER_SCALE, ...params };
  checkParams(p);
  const distractors = p.distractors ??
    (await listTasks({ mirror: options.mirror })).map((t) => t.name)
      .filter((t) => !p.tasks.includes(t) && !LONG_INPUT_TASKS.includes(t));
  const names = [...p.tasks, ...distractors.filter((t) => !p.tasks.includes(t))];
  const { tasks, sha256 } = await loadFigureTasks(names, options, p.seed);
  const queried = new Set(p.tasks);
  // Queried tasks' library states come from their train part, never from a query's items.
  const pools = tasks.map((task) =>
    queried.has(task.name)
      ? splitTask(task, { seed: p.seed, testFraction: p.queryFraction }).train
      : task.items.map((_, i) => i)
  );
  const sets = tasks.map((task, t) =>
    p.libraryKs.map((k) =>
      sampleSetsWithReuse(pools[t], {
        count: p.statesPerK,
        k: Math.min(k, pools[t].length),
        seed: deriveSeed(p.seed, task.name, "scale library", k),
      })
    )
  );
  // Round robin: set s of every task and k before set s + 1, so a prefix is a smaller library
  // with every task and k in it.
  const library: ScaleLibraryEntry[] = [];
  for (let s = 0; s < p.statesPerK; s++) {
    for (const [t, task] of tasks.entries()) {
      for (const [j, k] of p.libraryKs.entries()) {
        library.push({ task: task.name, k, set: s, demos: sets[t][j][s] });
      }
    }
  }
  const queries = tasks.filter((t) => queried.has(t.name)).flatMap((task) => {
    const plan = planRetrievalSets(task, { ...p, libraryStates: 1, libraryShots: 1 });
    return p.ks.map((k) => ({ task: task.name, k, sets: plan.queries.get(k)! }));
  });
  return {
    params: p,
    tasks,
    library,
    queries,
    cacheParams: { ...p, distractors, taskSha256: sha256 },
  };
}

/** The layer compared: `params.layer`, or `Math.floor(L / 2)`; checked against the model. */
export function scaleLayer(run: ExperimentRun, params: ScaleParams): number {
  const nl = run.model.config.numHiddenLayers;
  const layer = params.layer ?? Math.floor(nl / 2);
  if (!Number.isInteger(layer) || layer < 0 || layer >= nl) {
    throw new ConfigError(
      `Cannot run the scale figure: layer ${layer} is not one of the model's layers 0..${nl - 1}`,
      { field: "layer" },
    );
  }
  return layer;
}

/** Rows of one layer's SSM state, flat, with the label of each row. */
export interface LabelledVectors {
  flat: Float32Array;
  dim: number;
  labels: string[];
}

/** Step 2: every library state's layer vector, read through the state store. */
export function libraryVectors(
  run: ExperimentRun,
  inputs: ScaleInputs,
  layer: number,
): Promise<LabelledVectors> {
  return layerVectors(run, inputs, layer, inputs.library, "library states");
}

/** Step 3: every query's layer vector (Fig. 1 right's query sets). */
export async function queryVectors(
  run: ExperimentRun,
  inputs: ScaleInputs,
  layer: number,
): Promise<LabelledVectors & { ks: number[] }> {
  const jobs = inputs.queries.flatMap((q) =>
    q.sets.map((set) => ({ task: q.task, k: q.k, demos: set }))
  );
  const vectors = await layerVectors(run, inputs, layer, jobs, "query states");
  return { ...vectors, ks: jobs.map((j) => j.k) };
}

/**
 * The SSM state of `layer` after each entry's demonstrations, read through the state store in
 * rounds that are result-cache units named after `label` (so shards split them), labelled by
 * task.
 */
async function layerVectors(
  run: ExperimentRun,
  inputs: ScaleInputs,
  layer: number,
  entries: readonly { task: string; demos: readonly number[] }[],
  label: string,
): Promise<LabelledVectors> {
  const byName = new Map(inputs.tasks.map((t) => [t.name, t]));
  const rows = await extractStates(
    run,
    entries.map((e) => ({
      ids: encodeDemos(run.model.tokenizer, e.demos.map((i) => byName.get(e.task)!.items[i])),
    })),
    {
      batchSize: inputs.params.batchSize,
      label,
      layers: [layer],
      take: (state) => state.layer(layer).ssm,
      unit: label.replace(" ", "-"),
    },
  );
  return stack(rows, entries.map((e) => e.task));
}

function stack(rows: Float32Array[], labels: string[]): LabelledVectors {
  const dim = rows[0]?.length ?? 0;
  const flat = new Float32Array(rows.length * dim);
  for (const [i, r] of rows.entries()) flat.set(r, i * dim);
  return { flat, dim, labels };
}

/** One library searched by one index. */
export interface Measured {
  library: string;
  size: number;
  index: string;
  memoryBytes: number;
  /** Bytes of its files on disk ({@link VectorIndex.diskBytes}); 0 when it has none. */
  diskBytes: number;
  /** Per query: the row of the first hit. */
  first: number[];
}

/**
 * `lancedb-ivf`'s parameters: one IVF partition (one HNSW graph, whatever the library's size), 20
 * neighbours per node, beam 300 while building and 200 while searching, the best 10 x k
 * candidates re-ranked by their full vectors (recall@1 0.9975 on the organism's 10,176 states,
 * `deno task bench scale`). Its graph is not seeded ({@link LanceIndex}): its hits may differ
 * from run to run.
 */
export const LANCEDB_IVF = {
  index: "ivf-hnsw-sq",
  m: 20,
  efConstruction: 300,
  ef: 200,
  refineFactor: 10,
} as const;

/**
 * The index named `name` over `flat`: `exact`, `usearch`, `usearch-f16`, `usearch-i8`,
 * `projection-<dims>`, `pca-<dims>`, `lancedb`, `lancedb-ivf`.
 */
export function buildIndex(
  name: string,
  flat: Float32Array,
  dim: number,
  p: ScaleParams,
): Promise<VectorIndex> {
  const named = NAMED_INDEXES.get(name);
  if (named) return named(flat, dim);
  const m = /^(projection|pca)-(\d+)$/.exec(name);
  if (m) {
    return ProjectionIndex.create(flat, dim, {
      dims: Number(m[2]),
      rerank: p.rerank,
      seed: p.seed,
      ...(m[1] === "pca" ? { kind: "pca" as const } : {}),
    });
  }
  throw new ConfigError(`Cannot run the scale figure: no index "${name}"`, { field: "indexes" });
}

/** The indexes named without a number, and how each is built. */
const NAMED_INDEXES = new Map<string, (flat: Float32Array, dim: number) => Promise<VectorIndex>>([
  ["exact", (flat, dim) => ExactCosineIndex.create(flat, dim)],
  ["usearch", (flat, dim) => UsearchIndex.create(flat, dim)],
  ["usearch-f16", (flat, dim) => UsearchIndex.create(flat, dim, { quantization: "f16" })],
  ["usearch-i8", (flat, dim) => UsearchIndex.create(flat, dim, { quantization: "i8" })],
  ["lancedb", (flat, dim) => LanceIndex.create(flat, dim, { index: "flat" })],
  ["lancedb-ivf", (flat, dim) => LanceIndex.create(flat, dim, LANCEDB_IVF)],
]);

/**
 * The libraries searched: the paper's (the queried tasks' first 10 sets, or all when fewer, of
 * the largest k), then each level's prefix; each as rows of the full library.
 */
export function scaleLibraries(inputs: ScaleInputs): { name: string; rows: number[] }[] {
  const p = inputs.params;
  const perLevel = inputs.tasks.length * p.libraryKs.length;
  const kMax = Math.max(...p.libraryKs);
  const paperRows = inputs.library.flatMap((e, i) =>
    p.tasks.includes(e.task) && e.k === kMax && e.set < 10 ? [i] : []
  );
  return [
    { name: "paper", rows: paperRows },
    ...p.levels.map((level) => ({
      name: `level ${level}`,
      rows: Array.from({ length: level * perLevel }, (_, i) => i),
    })),
  ];
}

/** The rows `rows` of `library`, as one flat array. */
export function libraryRows(library: LabelledVectors, rows: readonly number[]): Float32Array {
  const { dim } = library;
  const flat = new Float32Array(rows.length * dim);
  for (const [j, r] of rows.entries()) {
    flat.set(library.flat.subarray(r * dim, (r + 1) * dim), j * dim);
  }
  return flat;
}

/**
 * Step 4: every library (the paper's, then each level) searched by exact search and every
 * index: the first hit of each query and the index's memory. (Build and query times are
 * `deno task bench scale`'s: they differ from run to run, the figure's tables do not.)
 */
export async function searchLevels(
  run: ExperimentRun,
  inputs: ScaleInputs,
  library: LabelledVectors,
  queries: LabelledVectors,
): Promise<Measured[]> {
  const p = inputs.params;
  const { dim } = library;
  const libraries = scaleLibraries(inputs);
  const out: Measured[] = [];
  for (const lib of libraries) {
    const flat = libraryRows(library, lib.rows);
    const names = lib.name === "paper" ? ["exact"] : ["exact", ...p.indexes];
    for (const name of names) {
      const index = await buildIndex(name, flat, dim, p);
      try {
        const hits = await index.search(queries.flat, 1);
        out.push({
          library: lib.name,
          size: lib.rows.length,
          index: index.name,
          memoryBytes: index.memoryBytes,
          diskBytes: index.diskBytes ?? 0,
          first: hits.map(([h]) => lib.rows[h.index]),
        });
      } finally {
        await index.close();
      }
      run.log(`${lib.name} (${lib.rows.length} states): ${out[out.length - 1].index} searched`);
    }
  }
  return out;
}

/** Gigabytes. */
const GB = 1e9;

/**
 * What `count` states of `dim` floats take per representation: rows of `memory.csv`.
 *
 * @example
 * ```ts
 * import { libraryMemory } from "./scale.ts";
 * const [f32] = libraryMemory("mamba-2.8b", 81920, 1e6, 256, 16);
 * if (f32.representation !== "float32" || Math.round(f32.memory_gb as number) !== 328) throw new Error();
 * ```
 */
export function libraryMemory(
  model: string,
  dim: number,
  count: number,
  projectionDims: number,
  connectivity: number,
): Row[] {
  const row = (representation: string, memory: number, disk: number, note: string): Row => ({
    model,
    state_floats: dim,
    states: count,
    representation,
    memory_gb: memory * count / GB,
    disk_gb: disk * count / GB,
    note,
  });
  return [
    row("float32", 4 * dim, 0, "every vector in memory; exact search reads all of them per query"),
    row("float16", 2 * dim, 0, "half of float32 (usearch-f16 in accuracy.csv: its recall)"),
    row("int8", dim, 0, "a quarter of float32 (usearch-i8 in accuracy.csv: its recall)"),
    row(
      `projection ${projectionDims} + float16 on disk`,
      4 * projectionDims,
      2 * dim,
      "candidates from the projection in memory, re-ranked from memory-mapped full vectors",
    ),
    row(
      `usearch HNSW, float32`,
      4 * dim + 2 * connectivity * 4,
      0,
      "vectors plus about 2 x connectivity neighbour ids per state",
    ),
  ];
}

/** Step 5: the tables and figures. */
export function scaleOutput(
  run: ExperimentRun,
  inputs: ScaleInputs,
  measured: readonly Measured[],
  dim: number,
): ExperimentOutput {
  const p = inputs.params;
  const queryTasks: string[] = inputs.queries.flatMap((q) => q.sets.map(() => q.task));
  const queryKs: number[] = inputs.queries.flatMap((q) => q.sets.map(() => q.k));
  const labelOf = (row: number) => inputs.library[row].task;
  const accuracy: Row[] = [];
  const byLibrary = group(measured, (m) => m.library);
  for (const [libraryName, ms] of byLibrary) {
    const exact = ms.find((m) => m.index === "exact")!;
    for (const m of ms) {
      for (const k of p.ks) {
        // Mean over queried tasks of the share right, and the share equal to exact search.
        const perTask = p.tasks.map((task) => {
          const qs = queryTasks.flatMap((t, q) => t === task && queryKs[q] === k ? [q] : []);
          return {
            right: qs.filter((q) => labelOf(m.first[q]) === task).length / qs.length,
            same: qs.filter((q) => m.first[q] === exact.first[q]).length / qs.length,
          };
        });
        const mean = (f: (x: { right: number; same: number }) => number) =>
          perTask.reduce((a, x) => a + f(x), 0) / perTask.length;
        accuracy.push({
          library: libraryName,
          size: m.size,
          index: m.index,
          k,
          accuracy: mean((x) => x.right),
          recall_at_1: mean((x) => x.same),
        });
      }
    }
  }
  const indexes: Row[] = measured.map((m) => ({
    library: m.library,
    size: m.size,
    index: m.index,
    memory_mb: m.memoryBytes / 2 ** 20,
    disk_mb: m.diskBytes / 2 ** 20,
  }));
  const memory = [
    ...libraryMemory(run.model.id, dim, 1e6, 256, 16),
    ...libraryMemory("state-spaces/mamba-2.8b-hf", 81920, 1e6, 256, 16),
  ];
  return {
    tables: { accuracy, indexes, memory },
    figures: { scale: plotScale(accuracy), scale_indexes: plotScaleIndexes(accuracy, indexes) },
    meta: {
      layerStateFloats: dim,
      libraryStates: inputs.library.length,
      tasks: inputs.tasks.map((t) => t.name),
      queries: queryTasks.length,
    },
  };
}

function checkParams(p: ScaleParams): void {
  const fail = (field: string, problem: string) =>
    new ConfigError(`Cannot run the scale figure: ${problem}`, { field });
  if (p.tasks.length < 2) throw fail("tasks", "the library needs at least two queried tasks");
  for (const field of ["statesPerK", "queries", "batchSize", "rerank"] as const) {
    if (!Number.isInteger(p[field]) || p[field] < 1) {
      throw fail(field, `${field} ${p[field]} is not a positive integer`);
    }
  }
  const ascending = p.levels.every((l, i) =>
    Number.isInteger(l) && l >= 1 && (i === 0 || l > p.levels[i - 1])
  );
  if (p.levels.length === 0 || !ascending || p.levels.at(-1) !== p.statesPerK) {
    throw fail(
      "levels",
      `levels [${
        p.levels.join(", ")
      }] must ascend from 1 or more and end at statesPerK ${p.statesPerK}`,
    );
  }
  for (const name of p.indexes) {
    if (
      !(NAMED_INDEXES.has(name) && name !== "exact") &&
      !/^(projection|pca)-\d+$/.test(name)
    ) {
      throw fail(
        "indexes",
        `index "${name}" is not ${
          [...NAMED_INDEXES.keys()].filter((n) => n !== "exact").join(", ")
        }, projection-<dims> or pca-<dims>`,
      );
    }
  }
  if (p.libraryKs.length === 0 || p.libraryKs.some((k) => !Number.isInteger(k) || k < 1)) {
    throw fail("libraryKs", `libraryKs [${p.libraryKs.join(", ")}] must be positive integers`);
  }
}
