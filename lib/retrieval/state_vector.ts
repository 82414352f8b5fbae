/**
 * The vector a state is compared by: one layer's SSM state, conv state, or both.
 *
 * @module
 */

import type { MambaState, StateMeta } from "../states/state_dir.ts";
import { SoupError } from "../util/errors.ts";
import { checkStateShape, STATE_KINDS } from "./_shape.ts";

/** Which part of a layer's state makes the vector. */
export type StateKind = "ssm" | "conv" | "both";

/** The dims a state's flat arrays are laid out in (a {@link StateMeta} `shape` will do). */
export type StateShape = Pick<StateMeta["shape"], "layers" | "dInner" | "convKernel" | "stateSize">;

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
 * for `"conv"`, both concatenated for `"both"`. Throws a {@link SoupError} when the layer is
 * out of range or the state's arrays do not match `shape`.
 *
 * @param state A state whose `ssm` is (L, d_in, n) and `conv` (L, d_in, K).
 * @param shape Its dims.
 * @param options `layer` (0-based) and `kind`.
 * @example
 * ```ts
 * import { stateVector } from "./state_vector.ts";
 * const shape = { layers: 2, dInner: 1, convKernel: 2, stateSize: 3 };
 * const state = {
 *   ssm: Float32Array.of(1, 2, 3, 4, 5, 6), conv: Float32Array.of(7, 8, 9, 10),
 *   deltaSum: Float32Array.of(0, 0),
 * };
 * const v = stateVector(state, shape, { layer: 1, kind: "both" });
 * if (v.join() !== "4,5,6,9,10") throw new Error(v.join());
 * ```
 */
export function stateVector(
  state: MambaState,
  shape: StateShape,
  options: StateVectorOptions,
): Float32Array {
  const { layer, kind = "ssm" } = options;
  checkStateShape(state, shape, "take a state vector");
  if (!STATE_KINDS.includes(kind)) {
    throw new SoupError(
      `Cannot take a state vector of kind "${kind}": choose one of ${STATE_KINDS.join(", ")}`,
    );
  }
  if (!Number.isInteger(layer) || layer < 0 || layer >= shape.layers) {
    throw new SoupError(
      `Cannot take a state vector of layer ${layer}: layers are counted from 0 to ${
        shape.layers - 1
      }`,
    );
  }
  const ssmSize = shape.dInner * shape.stateSize, convSize = shape.dInner * shape.convKernel;
  const ssm = state.ssm.subarray(layer * ssmSize, (layer + 1) * ssmSize);
  const conv = state.conv.subarray(layer * convSize, (layer + 1) * convSize);
  if (kind === "ssm") return ssm.slice();
  if (kind === "conv") return conv.slice();
  const both = new Float32Array(ssmSize + convSize);
  both.set(ssm);
  both.set(conv, ssmSize);
  return both;
}
