/**
 * Private checks shared by the mixing functions.
 *
 * @module
 */

import { commonModel, State, type StateArrays } from "../states/state.ts";
import { SoupError } from "../util/errors.ts";

/** The three arrays every state holds, in the order they are checked. */
export const FIELDS = ["conv", "ssm", "deltaSum"] as const;

/**
 * Throws unless `states` (at least one) are States of one shape and model holding the same
 * layers (see `commonModel`); returns a maker of the mix: its arrays as a State of that
 * model, shape and layers.
 */
export function checkSameShape(
  states: readonly State[],
  action: string,
): (arrays: StateArrays) => State {
  const common = commonModel(states, action);
  return (arrays) =>
    new State(common.shape, arrays, { identity: common.identity, layers: common.layers });
}

/** Throws unless `weights` are as many finite numbers as there are states. */
export function checkWeights(weights: readonly number[], count: number, action: string): void {
  if (weights.length !== count) {
    throw new SoupError(`Cannot ${action}: ${weights.length} weights for ${count} states`);
  }
  for (const [i, w] of weights.entries()) {
    if (typeof w !== "number" || !Number.isFinite(w)) {
      throw new SoupError(`Cannot ${action}: weight ${i} is ${String(w)}, not a finite number`);
    }
  }
}

/**
 * Sum of `weights[i] * states[i][field]` accumulated in float64, divided by `divisor`, rounded
 * to float32 once at the end.
 */
export function combine(
  states: readonly State[],
  weights: readonly number[],
  field: (typeof FIELDS)[number],
  divisor = 1,
): Float32Array {
  const acc = new Float64Array(states[0][field].length);
  for (const [i, s] of states.entries()) {
    const w = weights[i], a = s[field];
    if (w === 0) continue;
    for (let j = 0; j < acc.length; j++) acc[j] += w * a[j];
  }
  const out = new Float32Array(acc.length);
  for (let j = 0; j < acc.length; j++) out[j] = acc[j] / divisor;
  return out;
}
