/**
 * Private checks shared by the mixing functions.
 *
 * @module
 */

import { commonModel, type MambaState, State } from "../states/state.ts";
import { SoupError } from "../util/errors.ts";

/** The three arrays every state holds, in the order they are checked. */
export const FIELDS = ["conv", "ssm", "deltaSum"] as const;

/**
 * The mix's arrays as a {@link State} of the inputs' model, shape and layers when the inputs
 * are States (see `commonModel`), else as they are.
 */
export function likeInputs(states: readonly MambaState[], arrays: MambaState): MambaState {
  const common = commonModel(states, "mix states");
  if (common === undefined) return arrays;
  return new State(common.shape, arrays, { identity: common.identity, layers: common.layers });
}

/**
 * Throws unless every state holds conv, ssm and deltaSum arrays of the same lengths as the
 * first state's, and unless those lengths are consistent: ssm and conv are whole multiples of
 * deltaSum's (L * d_in) values; and unless the States among them belong to one model and hold
 * the same layers.
 */
export function checkSameShape(states: readonly MambaState[], action: string): void {
  if (states.length === 0) throw new SoupError(`Cannot ${action}: no states given`);
  commonModel(states, action); // States of one model and the same layers
  const first = states[0];
  for (const [i, s] of states.entries()) {
    for (const f of FIELDS) {
      const a = s?.[f];
      if (!(a instanceof Float32Array)) {
        throw new SoupError(`Cannot ${action}: state ${i} has no Float32Array "${f}"`);
      }
      if (a.length !== first[f].length) {
        throw new SoupError(
          `Cannot ${action}: state ${i} holds ${a.length} ${f} values but state 0 holds ${
            first[f].length
          }`,
        );
      }
    }
  }
  const rows = first.deltaSum.length;
  if (rows === 0 || first.ssm.length % rows !== 0 || first.conv.length % rows !== 0) {
    throw new SoupError(
      `Cannot ${action}: ssm (${first.ssm.length}) and conv (${first.conv.length}) values are ` +
        `not whole multiples of the ${rows} deltaSum values (L * d_in)`,
    );
  }
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
  states: readonly MambaState[],
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
