/**
 * PICASO state composition: the states of several chunks, each read from the zero state,
 * composed with the A-decay rule and averaged over every order the chunks could be read in, so
 * that the result does not depend on the order they are given in (Liu et al., "PICASO:
 * Permutation-Invariant Context Composition with State Space Models", ICLR 2025,
 * arXiv 2502.17605).
 *
 * @module
 */

import type { State } from "../states/state.ts";
import { SoupError } from "../util/errors.ts";
import { checkSameShape, combine } from "./_check.ts";

/**
 * Composes the states of chunks x_1 .. x_n, each read from the zero state, into one state,
 * averaged over all n! orders of reading them, computed exactly (not estimated from a subset
 * of the orders).
 *
 * - ssm: reading the chunks in an order π, state after state with the rule of
 *   {@link mixADecay}, gives `Σ_i ssm_i * Π_{j after i in π} D_j` with the decay
 *   `D_j = exp(A * deltaSum_j)`, `A = -exp(A_log)` per layer, channel and state index and
 *   `deltaSum_j` per layer and channel. The mean over the n! orders is `Σ_i c_i * ssm_i` with
 *   `c_i = (1/n) Σ_{p=0}^{n-1} e_p(D_j : j ≠ i) / C(n-1, p)` (i's position is uniform, so the
 *   number p of chunks after it is uniform on 0..n-1, and which p chunks follow is a uniform
 *   p-subset of the others), `e_p` the elementary symmetric polynomials. Per element, the e_p of
 *   all n decays take O(n^2) and each i's leave-one-out e_p one O(n) synthetic division (by
 *   `1 + D_i z`, run from the side that keeps it stable), so O(n^2) in all. Each order's
 *   composition is exact for one SSM layer whose conv sees only the current token (conv kernel
 *   1), as for A-decay, and so then is their mean as the mean of the states of the n! readings;
 *   with a wider conv or more layers it is an approximation.
 * - conv: the element-wise mean of the conv states. Reading in order π leaves the last chunk's
 *   conv state, and each chunk is last in 1/n of the orders, so this is the mean over the orders
 *   of the conv state that reading gives wherever that is the last chunk's own (layer 0, chunks of
 *   at least K tokens); above layer 0 it is an approximation.
 * - deltaSum: the sum over all states (the same in every order), so that the result can itself
 *   be composed further, e.g. `mixADecay(mixPicaso([s1, s2], aLog), s3, aLog)`.
 * - no logits (they depend on the order; run the model to get them).
 *
 * A_log that is not finite, or a decay that is not (deltaSum NaN, or so negative that the
 * exponential overflows), is refused. With one state it returns that state's arrays. Computed in float64 in an order fixed by the
 * states' contents, rounded to float32 once: the same bits whatever order the states come in.
 *
 * @param states States of chunks read from the zero state, of one model, at least one.
 * @param aLog `A_log` of every layer, flat (L, d_in, n), e.g. from {@link readALog}.
 * @example
 * ```ts
 * import { mixPicaso } from "./mix_picaso.ts";
 * import { State } from "../states/state.ts";
 * // One layer, one channel, n = 1: A = -1 from A_log = 0.
 * const shape = { layers: 1, dInner: 1, convKernel: 1, stateSize: 1 };
 * const s = (ssm: number, conv: number, deltaSum: number) =>
 *   new State(shape, { conv: Float32Array.of(conv), ssm: Float32Array.of(ssm), deltaSum: Float32Array.of(deltaSum) });
 * const s1 = s(1, 2, 0.5), s2 = s(3, 4, 1);
 * const m = mixPicaso([s1, s2], Float32Array.of(0));
 * // The mean of reading x1 then x2 and x2 then x1.
 * const want = (3 + Math.exp(-1) * 1 + 1 + Math.exp(-0.5) * 3) / 2;
 * if (Math.abs(m.ssm[0] - want) > 1e-6) throw new Error(`${m.ssm[0]} != ${want}`);
 * if (m.conv[0] !== 3 || m.deltaSum[0] !== 1.5) throw new Error("mean conv, decays add");
 * ```
 */
export function mixPicaso(states: readonly State[], aLog: ArrayLike<number>): State {
  const action = "PICASO-compose states";
  if (!Array.isArray(states) || states.length === 0) {
    throw new SoupError(`Cannot ${action}: no states given`);
  }
  const like = checkSameShape(states, action);
  const count = states.length;
  // One order fixed by the states' contents, so that the float64 sums, hence the bits of the
  // result, are the same whatever order the states are given in.
  const order = states.map((_, i) => i).sort((x, y) => compareBits(states[x], states[y]) || x - y);
  const sorted = order.map((i) => states[i]);
  const first = sorted[0];
  const rows = first.deltaSum.length; // L * d_in
  const stateSize = first.ssm.length / rows;
  if (aLog?.length !== first.ssm.length) {
    throw new SoupError(
      `Cannot ${action}: A_log holds ${aLog?.length} values but the ssm state holds ${first.ssm.length} (L, d_in, n)`,
    );
  }
  // w[p] = 1 / (n C(n-1, p)): the chance that a given p-subset of the others follows i.
  const w = new Float64Array(count);
  let binom = 1; // C(n-1, p)
  for (let p = 0; p < count; p++) {
    w[p] = 1 / (count * binom);
    binom = (binom * (count - 1 - p)) / (p + 1);
  }
  const ssms = sorted.map((s) => s.ssm), sums = sorted.map((s) => s.deltaSum);
  const decay = new Float64Array(count);
  const e = new Float64Array(count + 1); // e_p of all n decays
  const q = new Float64Array(count); // e_p of the decays but i's
  const ssm = new Float32Array(first.ssm.length);
  for (let r = 0; r < rows; r++) {
    for (let j = r * stateSize; j < (r + 1) * stateSize; j++) {
      const a = -Math.exp(aLog[j]);
      if (!Number.isFinite(a)) {
        throw new SoupError(`Cannot ${action}: A_log[${j}] is ${aLog[j]}`);
      }
      e.fill(0);
      e[0] = 1;
      for (let k = 0; k < count; k++) {
        const d = Math.exp(a * sums[k][r]);
        if (!Number.isFinite(d)) {
          throw new SoupError(
            `Cannot ${action}: state ${order[k]} has deltaSum ${sums[k][r]} at row ${r}, ` +
              `a decay of ${d}`,
          );
        }
        decay[k] = d;
        for (let p = k + 1; p >= 1; p--) e[p] += d * e[p - 1];
      }
      let acc = 0;
      for (let i = 0; i < count; i++) {
        // Divide sum_p e_p z^p by (1 + D_i z): upward when |D_i| <= 1, downward when larger,
        // so that rounding errors shrink rather than grow along the way.
        const d = decay[i];
        if (Math.abs(d) <= 1) {
          q[0] = 1;
          for (let p = 1; p < count; p++) q[p] = e[p] - d * q[p - 1];
        } else {
          q[count - 1] = e[count] / d;
          for (let p = count - 1; p >= 1; p--) q[p - 1] = (e[p] - q[p]) / d;
        }
        let c = 0;
        for (let p = 0; p < count; p++) c += w[p] * q[p];
        acc += c * ssms[i][j];
      }
      ssm[j] = acc;
    }
  }
  const ones = sorted.map(() => 1);
  return like({
    conv: combine(sorted, ones, "conv", count),
    ssm,
    deltaSum: combine(sorted, ones, "deltaSum"),
  });
}

/** A total order of states by the bits of their ssm, deltaSum and conv arrays (NaNs included). */
function compareBits(a: State, b: State): number {
  for (const field of ["ssm", "deltaSum", "conv"] as const) {
    const x = a[field], y = b[field];
    const u = new Uint32Array(x.buffer, x.byteOffset, x.length);
    const v = new Uint32Array(y.buffer, y.byteOffset, y.length);
    for (let j = 0; j < u.length; j++) if (u[j] !== v[j]) return u[j] < v[j] ? -1 : 1;
  }
  return 0;
}
