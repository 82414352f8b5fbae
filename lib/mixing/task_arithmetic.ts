/**
 * Task arithmetic on states: a base state plus weighted other states.
 *
 * @module
 */

import type { State } from "../states/state.ts";
import { SoupError } from "../util/errors.ts";
import { mixWeighted } from "./mix_weighted.ts";

/** One term of {@link taskArithmetic}: a state and the real weight it is added with. */
export interface ArithmeticTerm {
  /** A state of the same model as the base. */
  state: State;
  /** Any finite weight; negative to subtract a skill. */
  weight: number;
}

/**
 * Returns `base + sum_i terms[i].weight * terms[i].state` for conv, SSM state and deltaSum alike:
 * {@link mixWeighted} with weight 1 for the base. Use a negative weight to subtract a skill,
 * e.g. `taskArithmetic(antonyms, [{ state: english, weight: -1 }, { state: french, weight: 1 }])`.
 * As in {@link mixWeighted}, the decay of the result is the same linear combination (it can be
 * negative) and the result has no logits.
 *
 * @param base The state the terms are added to.
 * @param terms Weighted states to add (may be empty: the result is then a copy of the base).
 * @example
 * ```ts
 * import { taskArithmetic } from "./task_arithmetic.ts";
 * import { State } from "../states/state.ts";
 * const shape = { layers: 1, dInner: 1, convKernel: 1, stateSize: 1 };
 * const s = (x: number) =>
 *   new State(shape, { conv: Float32Array.of(x), ssm: Float32Array.of(x), deltaSum: Float32Array.of(x) });
 * const r = taskArithmetic(s(5), [{ state: s(2), weight: -1 }, { state: s(1), weight: 3 }]);
 * if (r.ssm[0] !== 5 - 2 + 3) throw new Error(`got ${r.ssm[0]}`);
 * ```
 */
export function taskArithmetic(base: State, terms: readonly ArithmeticTerm[]): State {
  if (!Array.isArray(terms)) {
    throw new SoupError(`Cannot do task arithmetic: terms must be an array of { state, weight }`);
  }
  return mixWeighted([base, ...terms.map((t) => t.state)], [1, ...terms.map((t) => t.weight)]);
}
