/**
 * The plain average of Mamba states (the paper's "mean" mixing).
 *
 * @module
 */

import type { State } from "../states/state.ts";
import { checkSameShape, combine } from "./_check.ts";

/**
 * Returns the element-wise mean of `states`: conv, SSM state and deltaSum are each averaged
 * (the same as {@link mixWeighted} with weights `1 / states.length`, but the sum is divided
 * once, so averaging two or four float32 states is exact). The result has no logits.
 *
 * @param states States of one model (same array lengths), at least one.
 * @example
 * ```ts
 * import { mixMean } from "./mix_mean.ts";
 * import { State } from "../states/state.ts";
 * const shape = { layers: 1, dInner: 1, convKernel: 1, stateSize: 2 };
 * const a = new State(shape, { conv: Float32Array.of(1), ssm: Float32Array.of(2, 4), deltaSum: Float32Array.of(0.5) });
 * const b = new State(shape, { conv: Float32Array.of(3), ssm: Float32Array.of(6, 0), deltaSum: Float32Array.of(1.5) });
 * const m = mixMean([a, b]);
 * if (m.conv[0] !== 2 || m.ssm[0] !== 4 || m.ssm[1] !== 2 || m.deltaSum[0] !== 1) throw new Error();
 * ```
 */
export function mixMean(states: readonly State[]): State {
  const like = checkSameShape(states, "average states");
  const ones = states.map(() => 1);
  return like({
    conv: combine(states, ones, "conv", states.length),
    ssm: combine(states, ones, "ssm", states.length),
    deltaSum: combine(states, ones, "deltaSum", states.length),
  });
}
