/**
 * The vector a state is compared by: one layer's SSM state, conv state, or both.
 *
 * @module
 */

import { State } from "../states/state.ts";
import { SoupError } from "../util/errors.ts";

/** Every {@link StateKind}. */
export const STATE_KINDS: readonly StateKind[] = ["ssm", "conv", "both"];

/** Which part of a layer's state makes the vector. */
export type StateKind = "ssm" | "conv" | "both";

/** Options of {@link stateVector}. */
export interface StateVectorOptions {
  /**
   * Layer index, counted from 0 (0 .. L-1). The paper retrieves with "layer 32" of
   * Mamba-2.8b's 64 without saying how it counts: `layer: 32` here is the 33rd block
   * (`backbone.layers.32`, the first of the second half); if the paper counts from 1, its layer
   * is `layer: 31`.
   */
  layer: number;
  /**
   * `"ssm"`: the layer's SSM state (d_in * n values, what the paper uses); `"conv"`: its conv
   * state (d_in * K); `"both"`: the SSM values followed by the conv values, unscaled (the larger
   * part dominates a cosine). @default "ssm"
   */
  kind?: StateKind;
}

/**
 * Returns a copy of one layer's state, flattened in C order: (d_in, n) for `"ssm"`, (d_in, K)
 * for `"conv"`, both concatenated for `"both"`. `layer` is the model's layer: a store state of
 * layer 32 alone answers `layer: 32`. Throws a {@link SoupError} when the layer is out of range
 * or not held.
 *
 * @param state The state.
 * @param options `layer` (0-based) and `kind`.
 * @example
 * ```ts
 * import { stateVector } from "./state_vector.ts";
 * import { State } from "../states/state.ts";
 * const state = new State({ layers: 2, dInner: 1, convKernel: 2, stateSize: 3 }, {
 *   ssm: Float32Array.of(1, 2, 3, 4, 5, 6), conv: Float32Array.of(7, 8, 9, 10),
 *   deltaSum: Float32Array.of(0, 0),
 * });
 * const v = stateVector(state, { layer: 1, kind: "both" });
 * if (v.join() !== "4,5,6,9,10") throw new Error(v.join());
 * ```
 */
export function stateVector(state: State, options: StateVectorOptions): Float32Array {
  const { layer, kind = "ssm" } = options;
  if (!STATE_KINDS.includes(kind)) {
    throw new SoupError(
      `Cannot take a state vector of kind "${kind}": choose one of ${STATE_KINDS.join(", ")}`,
    );
  }
  if (!(state instanceof State)) {
    throw new SoupError("Cannot take a state vector: it is not a State (make one with new State)");
  }
  if (!Number.isInteger(layer) || layer < 0 || layer >= state.shape.layers) {
    throw new SoupError(
      `Cannot take a state vector of layer ${layer}: layers are counted from 0 to ${
        state.shape.layers - 1
      }`,
    );
  }
  const { ssm, conv } = state.layer(layer);
  if (kind === "ssm") return ssm.slice();
  if (kind === "conv") return conv.slice();
  const both = new Float32Array(ssm.length + conv.length);
  both.set(ssm);
  both.set(conv, ssm.length);
  return both;
}
