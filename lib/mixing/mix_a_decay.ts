/**
 * A-decay mixing: the state after reading chunk x1 then chunk x2, assembled from the states of
 * x1 and x2 computed independently (each from the zero state).
 *
 * @module
 */

import type { State } from "../states/state.ts";
import { SoupError } from "../util/errors.ts";
import { checkSameShape } from "./_check.ts";

/** Options of {@link mixADecay}. */
export interface MixADecayOptions {
  /**
   * How many tokens the second chunk had. When it is less than the conv kernel K, the conv state
   * is the last K - t columns of the first state's followed by the last t of the second's
   * (the window slides over x1 then x2). @default K or more: the conv state is the second's
   */
  secondTokens?: number;
}

/**
 * Combines the state of chunk x1 (`first`) and of chunk x2 (`second`, computed from the zero
 * state) into an estimate of the state after reading x1 then x2:
 *
 * - ssm: `ssm(x2) + exp(A * deltaSum(x2)) * ssm(x1)` with `A = -exp(A_log)` per layer, channel and
 *   state index, and `deltaSum(x2)` the sum of delta over x2 per layer and channel. This is exactly
 *   Mamba's recurrence `h_t = exp(delta_t A) h_{t-1} + delta_t B_t x_t` unrolled over x2, when
 *   x2's deltas, B and inputs do not depend on where x2 started: true for a single SSM layer
 *   whose conv sees only the current token (conv kernel 1). With a wider conv, or with more
 *   layers (a layer's input depends on the layers below, hence on x1), it is an approximation.
 * - conv: the second state's conv (the last K pre-conv inputs are x2's when x2 has at least K
 *   tokens; pass `secondTokens` when it has fewer). Exact for layer 0, whose pre-conv inputs
 *   depend only on the tokens; approximate above it.
 * - deltaSum: `deltaSum(x1) + deltaSum(x2)`, the sum of delta over both chunks (exact wherever the ssm is),
 *   so that the result can itself be A-decay mixed with a third chunk:
 *   `mixADecay(mixADecay(s1, s2, aLog), s3, aLog)`.
 * - no logits: the logits after x2 depend on x1 too (run the model to get them).
 *
 * Computed in float64, rounded to float32 once.
 *
 * @param first State after x1 (from zeros or from anything: only its arrays are used).
 * @param second State after x2 read from the zero state.
 * @param aLog `A_log` of every layer, flat (L, d_in, n), e.g. from {@link readALog}.
 * @param options `secondTokens`.
 * @example
 * ```ts
 * import { mixADecay } from "./mix_a_decay.ts";
 * import { State } from "../states/state.ts";
 * // One layer, one channel, n = 2: A = -(1, 2) from A_log = log(1, 2).
 * const aLog = Float32Array.of(0, Math.log(2));
 * const shape = { layers: 1, dInner: 1, convKernel: 1, stateSize: 2 };
 * const s1 = new State(shape, { conv: Float32Array.of(7), ssm: Float32Array.of(1, 1), deltaSum: Float32Array.of(0.25) });
 * const s2 = new State(shape, { conv: Float32Array.of(9), ssm: Float32Array.of(0.5, 0), deltaSum: Float32Array.of(0.5) });
 * const m = mixADecay(s1, s2, aLog);
 * const want = [0.5 + Math.exp(-0.5), Math.exp(-1)];
 * if (Math.abs(m.ssm[0] - want[0]) > 1e-7 || Math.abs(m.ssm[1] - want[1]) > 1e-7) throw new Error();
 * if (m.conv[0] !== 9 || m.deltaSum[0] !== 0.75) throw new Error("conv from x2, decays add");
 * ```
 */
export function mixADecay(
  first: State,
  second: State,
  aLog: ArrayLike<number>,
  options: MixADecayOptions = {},
): State {
  const action = "A-decay mix states";
  const like = checkSameShape([first, second], action);
  const rows = first.deltaSum.length; // L * d_in
  const n = first.ssm.length / rows;
  const k = first.conv.length / rows;
  if (aLog?.length !== first.ssm.length) {
    throw new SoupError(
      `Cannot ${action}: A_log holds ${aLog?.length} values but the ssm state holds ${first.ssm.length} (L, d_in, n)`,
    );
  }
  const ssm = new Float32Array(first.ssm.length);
  for (let r = 0; r < rows; r++) {
    const d2 = second.deltaSum[r];
    for (let j = r * n; j < (r + 1) * n; j++) {
      const a = -Math.exp(aLog[j]);
      if (!Number.isFinite(a)) {
        throw new SoupError(`Cannot ${action}: A_log[${j}] is ${aLog[j]}`);
      }
      ssm[j] = second.ssm[j] + Math.exp(a * d2) * first.ssm[j];
    }
  }
  const deltaSum = new Float32Array(rows);
  for (let r = 0; r < rows; r++) deltaSum[r] = first.deltaSum[r] + second.deltaSum[r];
  const t = options.secondTokens;
  if (t !== undefined && !(Number.isInteger(t) && t >= 0)) {
    throw new SoupError(`Cannot ${action}: secondTokens is ${t}, not a whole number`);
  }
  const conv = Float32Array.from(second.conv);
  if (t !== undefined && t < k) {
    for (let r = 0; r < rows; r++) {
      // Window over x1 then x2: first's last k - t inputs, then second's last t.
      for (let c = 0; c < k - t; c++) conv[r * k + c] = first.conv[r * k + c + t];
    }
  }
  return like({ conv, ssm, deltaSum });
}
