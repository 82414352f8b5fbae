/**
 * Fig. 3 of State Soup: A-decay mixing on news text. Each document's first 3T tokens are cut
 * into chunks x1, x2, x3 of T tokens; the loss on x3 is measured from four start states:
 *
 * | method       | start state                                                            |
 * | ------------ | ---------------------------------------------------------------------- |
 * | `sequential` | x1 read from zeros, then x2 read from that state (the true state)      |
 * | `x2_only`    | x2 read from zeros (x1 forgotten)                                      |
 * | `mean`       | `mixMean([state(x1), state(x2)])`, each read from zeros                |
 * | `adecay`     | `mixADecay(state(x1), state(x2), A_log, { secondTokens: T })`          |
 *
 * The claim tested: A-decay mixing of independently computed chunk states comes close to the
 * sequential state (it is exact for one SSM layer with conv kernel 1), far closer than the mean.
 *
 * Losses, in nats per token, with the softmax over the model's whole (padded) vocabulary:
 *
 * - `loss`: the mean next-token cross-entropy of x3[1..T-1], predicted while reading x3 from
 *   the start state (`engine.run(x3[0..T-2], { state, allLogits: true })`: the logits after
 *   x3[i] predict x3[i+1]). It depends on the start state alone, so it is the same for
 *   `adecay` and `sequential` whenever the mix is exact. The figure shows this loss.
 * - `loss_first`: the cross-entropy of x3[0] under the logits after x2's last token. For
 *   `sequential` these are the logits of reading x2 from x1's state; a mixed state has no
 *   logits of its own, so `x2_only`, `mean` and `adecay` all use the logits of x2 read from
 *   zeros.
 * - `loss_all`: `(loss_first + (T - 1) * loss) / T`, the mean over all T tokens of x3.
 *
 * Chunks are the document's own tokens (no `<|endoftext|>` is added): the tokenizer adds no
 * special token, as Hugging Face's GPT-NeoX tokenizer does not. The documents of a chunk length
 * T are the first `documents` documents of the source, in its stable order, that have at least
 * 3T tokens; fewer are used (and a line is logged) when the source has fewer.
 *
 * @module
 */

// @ts-types="npm:@types/d3-array@3.2.1"
import { group } from "npm:d3-array@3.2.5";
import { ADECAY_METHOD_IDS } from "../mixing/methods.ts";
import { loadNewsDocuments, type NewsDocument } from "../data/news.ts";
import type { Engine } from "../engine/types.ts";
import { mixADecay } from "../mixing/mix_a_decay.ts";
import { mixMean } from "../mixing/mix_mean.ts";
import { readALog } from "../mixing/read_a_log.ts";
import { plotAdecay } from "../plot/adecay.ts";
import type { Row } from "../results/csv.ts";
import type { State } from "../states/state.ts";
import { ConfigError } from "../util/errors.ts";
import { softmaxParts } from "../util/softmax.ts";
import { ownUnit } from "./result_cache.ts";
import {
  type ExperimentOptions,
  type ExperimentOutput,
  type ExperimentRun,
  runExperiment,
} from "./context.ts";

/**
 * Parameters of {@link runAdecay}.
 *
 * @example
 * ```ts
 * import type { AdecayParams } from "./adecay.ts";
 * const params: Partial<AdecayParams> = { chunkTokens: [50, 100], documents: 20 };
 * if (params.chunkTokens?.length !== 2) throw new Error();
 * ```
 */
export type AdecayParams = {
  /** Chunk lengths T to sweep, in tokens (each at least 2). */
  chunkTokens: number[];
  /** Documents per chunk length (the first ones with at least 3T tokens). */
  documents: number;
  /**
   * News source, as `loadNewsDocuments({ source })` takes it: `"c4"` (C4 realnewslike
   * validation from the hub), `"mirror"` (the mirror's stand-in), or a `.jsonl` path.
   */
  source: string;
  /** Text field of the JSON lines. @default "text", else "article" */
  field?: string;
  /** Documents whose chunk states are extracted in one engine call. */
  batchSize: number;
  /**
   * Consider only the first `pool` documents of the source (in `loadNewsDocuments` order), e.g.
   * the documents a model was not trained on. @default all
   */
  pool?: number;
};

/**
 * The start states compared, in table order.
 *
 * @example
 * ```ts
 * import { ADECAY_METHODS } from "./adecay.ts";
 * if (ADECAY_METHODS.join() !== "sequential,x2_only,mean,adecay") throw new Error();
 * ```
 */
export const ADECAY_METHODS: typeof ADECAY_METHOD_IDS = ADECAY_METHOD_IDS; // lib/mixing/methods.ts

/**
 * One of {@link ADECAY_METHODS}.
 *
 * @example
 * ```ts
 * import type { AdecayMethod } from "./adecay.ts";
 * const method: AdecayMethod = "adecay";
 * if (method !== "adecay") throw new Error();
 * ```
 */
export type AdecayMethod = typeof ADECAY_METHODS[number];

/**
 * The paper's protocol as far as it is known here: C4 realnewslike validation documents and
 * T = 100 (the paper's chunk length could not be looked up; 100 is this project's choice), 1000
 * documents (also a choice).
 *
 * @example
 * ```ts
 * import { PAPER_ADECAY } from "./adecay.ts";
 * if (PAPER_ADECAY.source !== "c4" || PAPER_ADECAY.chunkTokens[0] !== 100) throw new Error();
 * ```
 */
export const PAPER_ADECAY: AdecayParams = {
  chunkTokens: [100],
  documents: 1000,
  source: "c4",
  batchSize: 8,
};

/**
 * A small run: 8 documents of the mirror's news stand-in at T = 32 and T = 100. About 90 s with
 * a mamba-130m-sized model on a 2-core CPU (measured on a random checkpoint of that shape), 5 s
 * on a tiny random 2-layer model.
 *
 * @example
 * ```ts
 * import { QUICK_ADECAY } from "./adecay.ts";
 * if (QUICK_ADECAY.documents !== 8 || QUICK_ADECAY.source !== "mirror") throw new Error();
 * ```
 */
export const QUICK_ADECAY: AdecayParams = {
  chunkTokens: [32, 100],
  documents: 8,
  source: "mirror",
  batchSize: 8,
};

/** Losses of one document from one start state. */
export interface MethodLosses {
  loss: number;
  loss_first: number;
  loss_all: number;
}

/** A kept document: its id, index among the kept ones, and the three chunks. */
export interface Chunked {
  id: string;
  index: number;
  x1: number[];
  x2: number[];
  x3: number[];
}

/** Tokens of x3 read per engine call when computing losses (bounds the all-position logits). */
const LOSS_PIECE = 64;

/**
 * Runs the A-decay experiment (figure `adecay`) and writes `results/adecay/`:
 *
 * - `adecay.csv`: one row per chunk length, document and method: `T`, `doc` (the document's
 *   stable id, `<file>:<line>`), `method` (one of {@link ADECAY_METHODS}), `loss`,
 *   `loss_first`, `loss_all` (see the module documentation). Rows are ordered by T as given,
 *   then document order, then method order.
 * - `summary.csv`: {@link summarizeAdecay} of those rows: `T`, `method`, `measure` (`loss` or
 *   `loss_all`), `mean`, `std` (sample standard deviation, empty when n < 2), `n`, and the
 *   paired difference to `sequential` over documents: `minus_sequential` (its mean; for
 *   `x2_only`, what reading x1 first gains) with `ci95_low` and `ci95_high` (Student's t).
 * - `adecay.svg` / `.png`: {@link plotAdecay}, loss per method, faceted by T.
 *
 * States of x1 and x2 (each from zeros, with the logits after their last token) and of x2 read
 * from x1's state are cached under `T<T>-d<index>-{x1,x2,x1x2}`, and each document's losses
 * under `losses-T<T>-d<index>`, so a killed run resumes.
 *
 * @param params Overrides of {@link PAPER_ADECAY}.
 * @param options Model, device, result and cache folders, progress lines.
 * @returns The paths written.
 * @example
 * ```ts ignore
 * import { QUICK_ADECAY, runAdecay } from "./adecay.ts";
 * await runAdecay(QUICK_ADECAY, { model: "state-spaces/mamba-130m-hf" });
 * ```
 */
export async function runAdecay(
  params: Partial<AdecayParams> = {},
  options: ExperimentOptions = {},
): Promise<string[]> {
  const inputs = await prepareAdecay(params, options);
  return await runExperiment("adecay", inputs.cacheParams, options, async (run) => {
    // The same lookup as the context's, so A_log comes from the checkpoint the engine runs.
    const aLog = await readALog(run.model.dir);
    const rows: Row[] = [];
    const kept: Record<string, number> = {};
    for (const T of inputs.params.chunkTokens) {
      const chosen = chunkDocuments(run, inputs, T);
      kept[String(T)] = chosen.length;
      rows.push(...await adecayLosses(run, inputs, T, chosen, aLog));
    }
    if (run.cache.shard) return { tables: {} }; // a shard's part: the merge writes the results
    return adecayOutput(rows, kept);
  });
}

/** What the A-decay figure reads before any model: {@link prepareAdecay}. */
export interface AdecayInputs {
  /** The parameters, defaults filled in and checked. */
  params: AdecayParams;
  /** The news documents (the first `pool` of the source). */
  docs: NewsDocument[];
  /** What the result cache is keyed by. */
  cacheParams: Record<string, unknown>;
}

/**
 * Step 1 of the A-decay figure: the parameters checked and the news documents read. No model
 * is needed.
 *
 * @example
 * ```ts ignore
 * const inputs = await prepareAdecay(PRESETS.organism.adecay);
 * inputs.docs.length; // pool
 * ```
 */
export async function prepareAdecay(
  params: Partial<AdecayParams> = {},
  options: ExperimentOptions = {},
): Promise<AdecayInputs> {
  const p: AdecayParams = { ...PAPER_ADECAY, ...params };
  checkParams(p);
  return { params: p, docs: await loadChunkSource(p, options), cacheParams: { ...p } };
}

/** The news documents a chunked figure reads: the first `pool` of `source` (its `field`). */
export function loadChunkSource(
  p: Pick<AdecayParams, "source" | "field" | "pool">,
  options: ExperimentOptions,
): Promise<NewsDocument[]> {
  return loadNewsDocuments({
    source: p.source,
    field: p.field,
    mirror: options.mirror,
    offline: options.offline,
    limit: p.pool,
  });
}

/**
 * Step 2, for one chunk length T: the first `documents` documents of at least 2T + `x3Tokens`
 * tokens, each cut into x1 and x2 of T tokens and x3 of `x3Tokens` (T unless given).
 */
export function chunkDocuments(
  run: ExperimentRun,
  inputs: { params: { documents: number }; docs: readonly NewsDocument[] },
  T: number,
  x3Tokens: number = T,
): Chunked[] {
  const { documents } = inputs.params, docs = inputs.docs;
  const need = 2 * T + x3Tokens;
  const chosen: Chunked[] = [];
  for (let i = 0; i < docs.length && chosen.length < documents; i++) {
    const ids = run.model.tokenizer.encode(docs[i].text);
    if (ids.length < need) continue;
    chosen.push({
      id: docs[i].id,
      index: chosen.length,
      x1: ids.slice(0, T),
      x2: ids.slice(T, 2 * T),
      x3: ids.slice(2 * T, need),
    });
  }
  if (chosen.length < documents) {
    run.log(
      `T=${T}: only ${chosen.length} of ${docs.length} documents have ${need} tokens ` +
        `(${documents} asked for)`,
    );
  }
  return chosen;
}

/**
 * Step 3, for one T: each document's states after x1, x2 and x1 x2, the start states each
 * method builds from them (sequential, x2 alone, the mean, A-decay), and the loss of x3 read from
 * each (cached per document). One row per document and method.
 */
export function adecayLosses(
  run: ExperimentRun,
  inputs: AdecayInputs,
  T: number,
  chosen: readonly Chunked[],
  aLog: Float32Array,
): Promise<Row[]> {
  return chunkLosses(run, {
    T,
    chosen,
    batchSize: inputs.params.batchSize,
    methods: ADECAY_METHODS,
    starts: (st, doc) => adecayStarts(st, doc.x2.length, aLog),
  });
}

/** A start state for x3 and the logits that predict x3[0] from it. */
export interface StartState {
  state: State;
  firstLogits: Float32Array | undefined;
}

/**
 * For one T and a figure's methods: each document's states after x1, x2 and x1 x2 (through
 * the state store, a batch of documents per engine call), the start state of every method
 * (`starts`), and the losses of x3 read from each ({@link lossesFrom}), cached per document as
 * `losses-T<T>-d<index>-<id>`. One row per document and method, in method order.
 */
export async function chunkLosses<M extends string>(
  run: ExperimentRun,
  job: {
    T: number;
    chosen: readonly Chunked[];
    batchSize: number;
    methods: readonly M[];
    starts: (st: ChunkStates, doc: Chunked) => Record<M, StartState>;
  },
): Promise<Row[]> {
  const { T, chosen, batchSize, methods } = job;
  const rows: Row[] = [];
  for (let start = 0; start < chosen.length; start += batchSize) {
    const batch = chosen.slice(start, start + batchSize);
    let states: Promise<ChunkStates[]> | undefined;
    for (const [j, doc] of batch.entries()) {
      // The document's id is part of the name: other documents never reuse this entry.
      const result = await ownUnit(() =>
        run.cache.json<{ doc: string; losses: Record<M, MethodLosses> }>(
          `losses-T${T}-d${doc.index}-${doc.id.replace(/[^A-Za-z0-9._-]/g, "_")}`,
          async () => {
            states ??= extractChunkStates(run, batch);
            const starts = job.starts((await states)[j], doc);
            const losses = await lossesFrom(
              run.model.engine,
              doc.x3,
              methods.map((m) => starts[m]),
            );
            return {
              doc: doc.id,
              losses: Object.fromEntries(methods.map((m, i) => [m, losses[i]])) as Record<
                M,
                MethodLosses
              >,
            };
          },
        )
      );
      if (result === undefined) continue; // another shard's document
      for (const method of methods) {
        const { loss, loss_first, loss_all } = result.losses[method];
        rows.push({ T, doc: result.doc, method, loss, loss_first, loss_all });
      }
    }
    run.log(`T=${T}: ${start + batch.length}/${chosen.length} documents`);
  }
  return rows;
}

/**
 * Step 4: the tables (`adecay`: one row per T, document and method; `summary`:
 * {@link summarizeAdecay}) and the figure, as `results/adecay/` holds them.
 */
export function adecayOutput(rows: Row[], kept: Record<string, number>): ExperimentOutput {
  const summary = summarizeAdecay(rows);
  return {
    tables: { adecay: rows, summary },
    figures: { adecay: plotAdecay(rows, summary) },
    meta: { documentsPerT: kept },
  };
}

function checkParams(p: AdecayParams): void {
  const bad = (field: string, problem: string) =>
    new ConfigError(`Cannot run the A-decay experiment: ${problem}`, { field });
  if (!Array.isArray(p.chunkTokens) || p.chunkTokens.length === 0) {
    throw bad("chunkTokens", "chunkTokens must list at least one chunk length");
  }
  for (const T of p.chunkTokens) {
    if (!Number.isInteger(T) || T < 2) {
      throw bad("chunkTokens", `chunk length ${T} is not an integer of at least 2`);
    }
  }
  if (new Set(p.chunkTokens).size !== p.chunkTokens.length) {
    throw bad("chunkTokens", `chunk lengths [${p.chunkTokens.join(", ")}] repeat`);
  }
  for (const field of ["documents", "batchSize"] as const) {
    if (!Number.isInteger(p[field]) || p[field] < 1) {
      throw bad(field, `${field} ${p[field]} is not a positive integer`);
    }
  }
  if (p.pool !== undefined && (!Number.isInteger(p.pool) || p.pool < 1)) {
    throw bad("pool", `pool ${p.pool} is not a positive integer`);
  }
}

/** The three extracted states of one document. */
export interface ChunkStates {
  x1: State;
  x2: State;
  x1x2: State;
}

/**
 * States of x1 and x2 from zeros and of x2 from x1's state for a batch of documents, each with
 * the logits after its last token, through the shared state store.
 */
export async function extractChunkStates(
  ctx: ExperimentRun,
  batch: readonly Pick<Chunked, "x1" | "x2">[],
): Promise<ChunkStates[]> {
  const store = ctx.model.store;
  const alone = await store.extract(
    ctx.model.engine,
    batch.flatMap((d) => [{ ids: d.x1 }, { ids: d.x2 }]),
    { batchSize: 2 * batch.length, logits: true },
  );
  const x1x2 = await store.extract(
    ctx.model.engine,
    await Promise.all(
      batch.map(async (d) => ({ ids: d.x2, from: await store.key({ ids: d.x1 }) })),
    ),
    { batchSize: batch.length, logits: true },
  );
  return batch.map((_, j) => ({ x1: alone[2 * j], x2: alone[2 * j + 1], x1x2: x1x2[j] }));
}

/** Each method's start state for one document (see the module documentation). */
function adecayStarts(
  st: ChunkStates,
  secondTokens: number,
  aLog: Float32Array,
): Record<AdecayMethod, StartState> {
  const mixed = (state: State) => ({ state, firstLogits: st.x2.logits });
  return {
    sequential: { state: st.x1x2, firstLogits: st.x1x2.logits },
    x2_only: mixed(st.x2),
    mean: mixed(mixMean([st.x1, st.x2])),
    adecay: mixed(mixADecay(st.x1, st.x2, aLog, { secondTokens })),
  };
}

/**
 * The losses of `x3` read from each start state (see the module documentation): `loss` over
 * x3[1..T-1] read from the state, `loss_first` of x3[0] under `firstLogits` (the logits after
 * the last chunk), `loss_all` over all of x3. The starts are read side by side, a piece of x3 at
 * a time.
 */
export async function lossesFrom(
  engine: Engine,
  x3: readonly number[],
  starts: readonly { state: State; firstLogits: Float32Array | undefined }[],
): Promise<MethodLosses[]> {
  const T = x3.length;
  // Read x3[0..T-2] from every start state, a piece at a time; row i predicts x3[i + 1].
  const v = engine.config.vocabSize;
  const sums = starts.map(() => 0);
  let states = starts.map((s) => s.state);
  for (let at = 0; at < T - 1; at += LOSS_PIECE) {
    const piece = x3.slice(at, Math.min(T - 1, at + LOSS_PIECE));
    const outs = await engine.runBatch(starts.map(() => piece), {
      states,
      allLogits: true,
    });
    for (const [m, out] of outs.entries()) {
      for (let i = 0; i < piece.length; i++) {
        sums[m] += crossEntropy(out.logits.subarray(i * v, (i + 1) * v), x3[at + i + 1]);
      }
    }
    states = outs.map((o) => o.state);
  }
  return starts.map((start, m) => {
    const first = start.firstLogits;
    if (first === undefined) throw new Error(`unreachable: no logits after the last chunk`);
    const lossFirst = crossEntropy(first, x3[0]);
    return {
      loss: sums[m] / (T - 1),
      loss_first: lossFirst,
      loss_all: (lossFirst + sums[m]) / T,
    };
  });
}

/** `-log softmax(logits)[target]`, in float64. */
function crossEntropy(logits: Float32Array, target: number): number {
  const { max, sum } = softmaxParts(logits);
  return Math.log(sum) + max - logits[target];
}

/**
 * Mean, sample standard deviation and count of `loss` and of `loss_all` per chunk length and
 * method, in the order the pairs first appear: rows `{ T, method, measure, mean, std, n }`
 * (`std` is null when n < 2).
 *
 * @param rows Rows of `adecay.csv`.
 * @example
 * ```ts
 * import { summarizeAdecay } from "./adecay.ts";
 * const rows = [1, 3].map((loss) => ({ T: 4, doc: "d", method: "mean", loss, loss_all: 2 }));
 * const [s] = summarizeAdecay(rows);
 * if (s.measure !== "loss" || s.mean !== 2 || s.std !== Math.SQRT2 || s.n !== 2) throw new Error();
 * ```
 */
export function summarizeAdecay(rows: readonly Row[]): Row[] {
  // One group per (T, method), in the order the pairs first appear.
  const groups = group(rows, (r) => JSON.stringify([r.T, r.method]));
  // Each document's sequential loss, to pair every method's loss with it.
  const sequential = new Map<string, Row>();
  for (const r of rows) if (r.method === "sequential") sequential.set(`${r.T} ${r.doc}`, r);
  const out: Row[] = [];
  for (const values of groups.values()) {
    const { T, method } = values[0];
    for (const measure of ["loss", "loss_all"]) {
      const xs = values.map((r) => Number(r[measure]));
      const { mean, std, n } = meanStd(xs);
      // The paired difference to reading x1 then x2, document by document, and its 95%
      // confidence interval (Student's t over documents).
      const diffs = values.flatMap((r) => {
        const s = sequential.get(`${r.T} ${r.doc}`);
        return s === undefined ? [] : [Number(r[measure]) - Number(s[measure])];
      });
      const d = meanStd(diffs);
      const half = d.std === null ? null : studentT975(d.n - 1) * d.std / Math.sqrt(d.n);
      out.push({
        T,
        method,
        measure,
        mean,
        std,
        n,
        minus_sequential: d.n === 0 ? null : d.mean,
        ci95_low: half === null ? null : d.mean - half,
        ci95_high: half === null ? null : d.mean + half,
      });
    }
  }
  return out;
}

function meanStd(xs: readonly number[]): { mean: number; std: number | null; n: number } {
  const n = xs.length;
  const mean = xs.reduce((a, b) => a + b, 0) / n;
  const std = n < 2 ? null : Math.sqrt(xs.reduce((a, x) => a + (x - mean) ** 2, 0) / (n - 1));
  return { mean, std, n };
}

/** The 0.975 quantiles of Student's t for 1 to 10 degrees of freedom, from the tables. */
const T975_SMALL = [
  12.706204736,
  4.302652730,
  3.182446305,
  2.776445105,
  2.570581836,
  2.446911851,
  2.364624252,
  2.306004135,
  2.262157163,
  2.228138852,
];

/**
 * The 0.975 quantile of Student's t with `df` degrees of freedom: from the tables up to 10,
 * else the Cornish-Fisher expansion around the normal quantile (within 2e-4 of the tables).
 */
export function studentT975(df: number): number {
  if (df <= T975_SMALL.length) return T975_SMALL[df - 1];
  const z = 1.959963984540054;
  const z3 = z ** 3, z5 = z ** 5, z7 = z ** 7, z9 = z ** 9;
  return z + (z3 + z) / (4 * df) + (5 * z5 + 16 * z3 + 3 * z) / (96 * df ** 2) +
    (3 * z7 + 19 * z5 + 17 * z3 - 15 * z) / (384 * df ** 3) +
    (79 * z9 + 776 * z7 + 1482 * z5 - 1920 * z3 - 945 * z) / (92160 * df ** 4);
}
