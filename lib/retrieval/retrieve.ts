/**
 * Retrieval of stored states by cosine similarity of one layer's state, as the paper
 * retrieves skills (Fig. 1 right).
 *
 * @module
 */

import { commonModel, type State } from "../states/state.ts";
import { SoupError } from "../util/errors.ts";
import { stateVector, type StateVectorOptions } from "./state_vector.ts";

/** A state to retrieve from, with an optional label (e.g. its task). */
export interface RetrievalCandidate {
  /** The state. */
  state: State;
  /** Returned with each hit. */
  label?: string;
}

/** One retrieved candidate. */
export interface RetrievalHit {
  /** Position of the candidate in the `candidates` array. */
  index: number;
  /** The candidate's label, when it has one. */
  label: string | undefined;
  /** Cosine similarity of the query's and the candidate's vectors, in [-1, 1]. */
  score: number;
}

/** Options of {@link retrieve}. */
export interface RetrieveOptions extends StateVectorOptions {
  /** How many candidates to return per query, 1 .. candidates.length. @default 1 */
  k?: number;
}

/**
 * For each query, the `k` candidates most similar to it, best first: the cosine similarity of
 * {@link stateVector}s of one layer (`layer`, 0-based; `kind` "ssm", "conv" or "both").
 * Equal scores keep the candidates' order (lower index first). Candidate vectors are computed
 * once for the whole batch.
 *
 * Throws a {@link SoupError} for no candidates, `k` outside 1 .. candidates.length, a layer not
 * held, or states of different shapes or models (named by position and label).
 *
 * @param queries States to find neighbours for.
 * @param candidates States to choose from, with labels.
 * @param options `layer` (the model's), `kind`, `k`.
 * @returns One list of `k` hits per query.
 * @example
 * ```ts
 * import { retrieve } from "./retrieve.ts";
 * import { State } from "../states/state.ts";
 * const shape = { layers: 1, dInner: 1, convKernel: 1, stateSize: 2 };
 * const s = (a: number, b: number) => new State(shape, {
 *   ssm: Float32Array.of(a, b), conv: Float32Array.of(1), deltaSum: Float32Array.of(0),
 * });
 * const candidates = [{ state: s(1, 0), label: "east" }, { state: s(0, 1), label: "north" }];
 * const [hits] = retrieve([s(0.2, 3)], candidates, { layer: 0, k: 2 });
 * if (hits[0].label !== "north" || hits[1].index !== 0) throw new Error(JSON.stringify(hits));
 * ```
 */
export function retrieve(
  queries: readonly State[],
  candidates: readonly RetrievalCandidate[],
  options: RetrieveOptions,
): RetrievalHit[][] {
  const action = "retrieve states";
  if (candidates.length === 0) throw new SoupError(`Cannot ${action}: no candidates given`);
  const k = options.k ?? 1;
  if (!Number.isInteger(k) || k < 1 || k > candidates.length) {
    throw new SoupError(
      `Cannot ${action}: k is ${k}, but it must be a whole number from 1 to the ${candidates.length} candidates`,
    );
  }
  const name = (c: RetrievalCandidate, i: number) =>
    c.label === undefined ? `candidate ${i}` : `candidate ${i} ("${c.label}")`;
  const all = [...candidates.map((c) => c?.state), ...queries];
  // One model and shape; each state may hold other layers, as long as it holds `layer`.
  commonModel(all, action, {
    sameLayers: false,
    name: (
      i,
    ) => (i < candidates.length ? name(candidates[i], i) : `query ${i - candidates.length}`),
  });
  const vectorOptions = { layer: options.layer, kind: options.kind };
  const vectorOf = (s: State) => stateVector(s, vectorOptions);
  const unit = (v: Float32Array, what: string): Float64Array | undefined => {
    let norm = 0;
    for (const x of v) norm += x * x;
    if (!Number.isFinite(norm)) {
      throw new SoupError(`Cannot ${action}: ${what} holds a value that is not finite`);
    }
    if (norm === 0) return undefined; // no direction: similarity 0 to everything
    const u = new Float64Array(v.length), s = 1 / Math.sqrt(norm);
    for (let i = 0; i < v.length; i++) u[i] = v[i] * s;
    return u;
  };
  const cands = candidates.map((c, i) => unit(vectorOf(c.state), name(c, i)));
  return queries.map((q, qi) => {
    const u = unit(vectorOf(q), `query ${qi}`);
    const scores = cands.map((c) => {
      if (u === undefined || c === undefined) return 0;
      let dot = 0;
      for (let i = 0; i < u.length; i++) dot += u[i] * c[i];
      return Math.max(-1, Math.min(1, dot));
    });
    const order = scores.map((_, i) => i).sort((a, b) => scores[b] - scores[a] || a - b);
    return order.slice(0, k).map((index) => ({
      index,
      label: candidates[index].label,
      score: scores[index],
    }));
  });
}
