/**
 * Beyond the paper: composing states beyond the mean, on ordered text. Fig. 3's setup (news
 * documents cut into chunks x1, x2 of T tokens, each read from zeros, then x3) with more ways
 * to start x3:
 *
 * | method           | start state                                                          |
 * | ---------------- | -------------------------------------------------------------------- |
 * | `sequential`     | x1 read from zeros, then x2 read from that state (the true state)    |
 * | `x2_only`        | x2 read from zeros (x1 forgotten)                                    |
 * | `mean`           | `mixMean([state(x1), state(x2)])`                                    |
 * | `sum`            | `mixWeighted([state(x1), state(x2)], [1, 1])`: A-decay without decay |
 * | `weighted`       | `adecay` with one scalar decay: ssm `ssm(x2) + w ssm(x1)`, w the     |
 * |                  | mean over every layer, channel and state index of A-decay's          |
 * |                  | `exp(A * deltaSum(x2))`; conv and deltaSum A-decay's                 |
 * | `adecay`         | `mixADecay(state(x1), state(x2), A_log, { secondTokens: T })`: the   |
 * |                  | conv window slides over x1 then x2, so x1's conv state is carried    |
 * | `adecay_no_conv` | `mixADecay(state(x1), state(x2), A_log)`: the conv state is x2's     |
 * |                  | own (x1's dropped); the same as `adecay` once T >= K                 |
 * |                  | and in effect from T = K - 1 (the state's oldest input is never read |
 * |                  | again: the next token's conv reads the last K - 1 and itself)        |
 * | `picaso`         | `mixPicaso([state(x1), state(x2)], A_log)`: A-decay averaged over    |
 * |                  | both orders (PICASO, arXiv 2502.17605), blind to which came first    |
 *
 * x3 has `evalTokens` tokens whatever T is, so chunks shorter than the conv (T < K, where the
 * conv state matters) are measured on as many tokens as long ones. Losses are Fig. 3's
 * (`lossesFrom`): `loss` over x3[1..], `loss_first` of x3[0] (for a mixed state under the
 * logits of x2 read from zeros), `loss_all`. The summary pairs each method with `sequential`
 * per document (mean difference and its 95% interval).
 *
 * The questions: which composition comes closest to reading x1 then x2, and what carrying x1's
 * conv state changes when x2 is shorter than the conv.
 *
 * @module
 */

import type { NewsDocument } from "../data/news.ts";
import { COMPOSITION_METHOD_IDS } from "../mixing/methods.ts";
import { mixADecay } from "../mixing/mix_a_decay.ts";
import { mixMean } from "../mixing/mix_mean.ts";
import { mixPicaso } from "../mixing/mix_picaso.ts";
import { mixWeighted } from "../mixing/mix_weighted.ts";
import { readALog } from "../mixing/read_a_log.ts";
import { plotComposition } from "../plot/composition.ts";
import type { Row } from "../results/csv.ts";
import { State } from "../states/state.ts";
import { ConfigError } from "../util/errors.ts";
import {
  type AdecayParams,
  chunkDocuments,
  type Chunked,
  chunkLosses,
  type ChunkStates,
  loadChunkSource,
  type StartState,
  summarizeAdecay,
} from "./adecay.ts";
import {
  type ExperimentOptions,
  type ExperimentOutput,
  type ExperimentRun,
  runExperiment,
} from "./context.ts";

/** The start states compared, in table order (`lib/mixing/methods.ts`). */
export const COMPOSITION_METHODS: typeof COMPOSITION_METHOD_IDS = COMPOSITION_METHOD_IDS;

/** One of {@link COMPOSITION_METHODS}. */
export type CompositionMethod = typeof COMPOSITION_METHODS[number];

/**
 * Parameters of {@link runComposition}: Fig. 3's (`AdecayParams`; here a chunk length T may be
 * 1) and the length of x3.
 */
export type CompositionParams = AdecayParams & {
  /** Length of x3, in tokens (at least 2). */
  evalTokens: number;
};

/**
 * Fig. 3's source at chunks shorter than Mamba's conv (K = 4: T = 1, 2, 3), at K and at 100, x3
 * of 32 tokens, 200 documents.
 *
 * @example
 * ```ts
 * import { PAPER_COMPOSITION } from "./composition.ts";
 * if (PAPER_COMPOSITION.chunkTokens.join() !== "1,2,3,4,100") throw new Error();
 * ```
 */
export const PAPER_COMPOSITION: CompositionParams = {
  chunkTokens: [1, 2, 3, 4, 100],
  evalTokens: 32,
  documents: 200,
  source: "c4",
  batchSize: 8,
};

/** A small run: 8 documents of the mirror's news, T = 1 and 32. */
export const QUICK_COMPOSITION: CompositionParams = {
  chunkTokens: [1, 32],
  evalTokens: 32,
  documents: 8,
  source: "mirror",
  batchSize: 8,
};

/** What the figure reads before any model: {@link prepareComposition}. */
export interface CompositionInputs {
  params: CompositionParams;
  /** The news documents (the first `pool` of the source). */
  docs: NewsDocument[];
  cacheParams: Record<string, unknown>;
}

/**
 * Runs the composition figure (`composition`) and writes `results/composition/`:
 *
 * - `composition.csv`: one row per T, document and method ({@link COMPOSITION_METHODS}): `T`,
 *   `doc`, `method`, `loss`, `loss_first`, `loss_all`.
 * - `summary.csv`: Fig. 3's summary of those rows (`summarizeAdecay`): per T, method and measure
 *   the mean, std, n and the paired difference to `sequential` with its 95% interval.
 * - `composition.svg`/`.png`: {@link plotComposition}.
 *
 * States go through the shared state store (x1, x2 and x1 x2 per document, with logits); each
 * document's losses are a cached unit, so a killed run resumes.
 *
 * @param params Overrides of {@link PAPER_COMPOSITION}.
 * @param options Model, device, result and cache folders, progress lines.
 * @returns The paths written.
 * @example
 * ```ts ignore
 * import { QUICK_COMPOSITION, runComposition } from "./composition.ts";
 * await runComposition(QUICK_COMPOSITION, { model: "organism" });
 * ```
 */
export async function runComposition(
  params: Partial<CompositionParams> = {},
  options: ExperimentOptions = {},
): Promise<string[]> {
  const inputs = await prepareComposition(params, options);
  return await runExperiment("composition", inputs.cacheParams, options, async (run) => {
    const aLog = await readALog(run.model.dir);
    const rows: Row[] = [];
    const kept: Record<string, number> = {};
    for (const T of inputs.params.chunkTokens) {
      const chosen = chunkForComposition(run, inputs, T);
      kept[String(T)] = chosen.length;
      rows.push(...await compositionLosses(run, inputs, T, chosen, aLog));
    }
    if (run.cache.shard) return { tables: {} };
    return compositionOutput(rows, kept, run.model.config.convKernel);
  });
}

/** Step 1: the parameters checked and the news documents read. No model is needed. */
export async function prepareComposition(
  params: Partial<CompositionParams> = {},
  options: ExperimentOptions = {},
): Promise<CompositionInputs> {
  const p: CompositionParams = { ...PAPER_COMPOSITION, ...params };
  checkParams(p);
  return { params: p, docs: await loadChunkSource(p, options), cacheParams: { ...p } };
}

/**
 * Step 2, for one T: the first `documents` documents of at least 2T + evalTokens tokens, cut
 * into x1 and x2 of T tokens and x3 of evalTokens (`chunkDocuments` of Fig. 3).
 */
export function chunkForComposition(
  run: ExperimentRun,
  inputs: CompositionInputs,
  T: number,
): Chunked[] {
  return chunkDocuments(run, inputs, T, inputs.params.evalTokens);
}

/**
 * The start state of every method for one document, and the logits each predicts x3[0] with:
 * see the module documentation.
 */
export function compositionStarts(
  st: ChunkStates,
  secondTokens: number,
  aLog: Float32Array,
): Record<CompositionMethod, StartState> {
  const mixed = (state: State) => ({ state, firstLogits: st.x2.logits });
  const adecay = mixADecay(st.x1, st.x2, aLog, { secondTokens });
  return {
    sequential: { state: st.x1x2, firstLogits: st.x1x2.logits },
    x2_only: mixed(st.x2),
    mean: mixed(mixMean([st.x1, st.x2])),
    sum: mixed(mixWeighted([st.x1, st.x2], [1, 1])),
    weighted: mixed(
      new State(adecay.shape, {
        conv: adecay.conv,
        ssm: mixWeighted([st.x1, st.x2], [meanDecay(st.x2, aLog), 1]).ssm,
        deltaSum: adecay.deltaSum,
      }, { layers: adecay.layerIds }),
    ),
    adecay: mixed(adecay),
    adecay_no_conv: mixed(mixADecay(st.x1, st.x2, aLog)),
    picaso: mixed(mixPicaso([st.x1, st.x2], aLog)),
  };
}

/**
 * The mean over every layer, channel and state index of `exp(A * deltaSum)`, `A = -exp(A_log)`:
 * how much of an earlier state survives reading `state`'s chunk, as one number (computed in
 * float64, summed in index order).
 *
 * @example
 * ```ts
 * import { meanDecay } from "./composition.ts";
 * import { State } from "../states/state.ts";
 * // One layer, one channel, two state indexes with A = -1 and -2, deltaSum 0.5.
 * const shape = { layers: 1, dInner: 1, convKernel: 1, stateSize: 2 };
 * const s = new State(shape, {
 *   conv: Float32Array.of(0), ssm: Float32Array.of(0, 0), deltaSum: Float32Array.of(0.5),
 * });
 * const want = (Math.exp(-0.5) + Math.exp(-1)) / 2;
 * if (Math.abs(meanDecay(s, Float32Array.of(0, Math.log(2))) - want) > 1e-7) throw new Error();
 * ```
 */
export function meanDecay(state: State, aLog: Float32Array): number {
  const rows = state.deltaSum.length;
  if (aLog.length !== state.ssm.length) {
    throw new ConfigError(
      `Cannot average the decays: A_log holds ${aLog.length} values but the ssm state ${state.ssm.length}`,
    );
  }
  const n = aLog.length / rows;
  let sum = 0;
  for (let r = 0; r < rows; r++) {
    const d = state.deltaSum[r];
    for (let j = 0; j < n; j++) sum += Math.exp(-Math.exp(aLog[r * n + j]) * d);
  }
  return sum / aLog.length;
}

/**
 * Step 3, for one T: each document's states after x1, x2 and x1 x2, every method's start state
 * and the losses of x3 from each (cached per document; Fig. 3's `chunkLosses`). One row per
 * document and method.
 */
export function compositionLosses(
  run: ExperimentRun,
  inputs: CompositionInputs,
  T: number,
  chosen: readonly Chunked[],
  aLog: Float32Array,
): Promise<Row[]> {
  return chunkLosses(run, {
    T,
    chosen,
    batchSize: inputs.params.batchSize,
    methods: COMPOSITION_METHODS,
    starts: (st, doc) => compositionStarts(st, doc.x2.length, aLog),
  });
}

/** Step 4: the tables (`composition`, `summary`) and the figure. */
export function compositionOutput(
  rows: Row[],
  kept: Record<string, number>,
  convKernel: number,
): ExperimentOutput {
  const summary = summarizeAdecay(rows);
  return {
    tables: { composition: rows, summary },
    figures: { composition: plotComposition(summary) },
    meta: { documentsPerT: kept, convKernel },
  };
}

function checkParams(p: CompositionParams): void {
  const bad = (field: string, problem: string) =>
    new ConfigError(`Cannot run the composition figure: ${problem}`, { field });
  if (!Array.isArray(p.chunkTokens) || p.chunkTokens.length === 0) {
    throw bad("chunkTokens", "chunkTokens must list at least one chunk length");
  }
  for (const T of p.chunkTokens) {
    if (!Number.isInteger(T) || T < 1) {
      throw bad("chunkTokens", `chunk length ${T} is not a positive integer`);
    }
  }
  if (new Set(p.chunkTokens).size !== p.chunkTokens.length) {
    throw bad("chunkTokens", `chunk lengths [${p.chunkTokens.join(", ")}] repeat`);
  }
  if (!Number.isInteger(p.evalTokens) || p.evalTokens < 2) {
    throw bad("evalTokens", `evalTokens ${p.evalTokens} is not an integer of at least 2`);
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
