/**
 * Weighted sums of Mamba states: the general linear mix that {@link mixMean} and
 * {@link taskArithmetic} specialise.
 *
 * @module
 */

import type { State } from "../states/state.ts";
import { checkSameShape, checkWeights, combine } from "./_check.ts";

/**
 * Returns `sum_i weights[i] * states[i]`, applied alike to the conv state (L, d_in, K), the
 * SSM state (L, d_in, n) and the decay (L, d_in).
 *
 * - The weights are any finite real numbers. They need not sum to 1 and may be negative:
 *   weights `[0.5, 0.5]` are the mean of two states, `[1, 1, -1]` is task arithmetic
 *   (`a + b - c`). Nothing is renormalised; pass weights that sum to 1 for an interpolation.
 * - The decay (the sum of the step sizes delta the state has read, so that a later A-decay uses
 *   `exp(A * decay)`) is mixed with the same weights, so every field of the result is the same
 *   linear combination. For weights that sum to 1 it is the weighted average "amount read"; for
 *   other weights it is only a linear statistic and can even be negative.
 * - The result has no logits: the logits after a mixed state are not a mix of the logits (run
 *   the model from the mixed state to get them).
 *
 * Sums are accumulated in float64 and rounded to float32 once. The inputs are not modified.
 *
 * @param states States of one model (same array lengths), at least one.
 * @param weights One finite weight per state.
 * @example
 * ```ts
 * import { mixWeighted } from "./mix_weighted.ts";
 * import { State } from "../states/state.ts";
 * const s = (x: number) => new State({ layers: 1, dInner: 1, convKernel: 2, stateSize: 2 }, {
 *   conv: Float32Array.of(x, x), ssm: Float32Array.of(x, 2 * x), deltaSum: Float32Array.of(x),
 * });
 * const mixed = mixWeighted([s(1), s(10)], [2, -0.5]);
 * if (mixed.ssm[1] !== 2 * 2 - 0.5 * 20) throw new Error(`got ${mixed.ssm[1]}`);
 * if (mixed.deltaSum[0] !== -3 || mixed.logits !== undefined) throw new Error("deltaSum is mixed too");
 * ```
 */
export function mixWeighted(states: readonly State[], weights: readonly number[]): State {
  const action = "mix states with weights";
  const like = checkSameShape(states, action);
  checkWeights(weights, states.length, action);
  return like({
    conv: combine(states, weights, "conv"),
    ssm: combine(states, weights, "ssm"),
    deltaSum: combine(states, weights, "deltaSum"),
  });
}
