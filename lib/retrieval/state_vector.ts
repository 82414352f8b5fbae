/**
 * The vector a state is compared by: one layer's SSM state, conv state, or both.
 *
 * @module
 */

import { type MambaState, State, type StateShape } from "../states/state.ts";
import { SoupError } from "../util/errors.ts";
import { checkStateShape, STATE_KINDS } from "./_shape.ts";

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
 * for `"conv"`, both concatenated for `"both"`. Throws a {@link SoupError} when the layer is
 * out of range or not held, or the state's arrays do not match `shape`.
 *
 * A {@link State} (from an engine, `loadState` or the state store) knows its shape and which
 * model layers it holds: pass no shape, and `layer` is the model's layer (a store state of
 * layer 32 alone answers `layer: 32`). Plain arrays need their `shape`, and `layer` is then
 * the row.
 *
 * @param state A state whose `ssm` is (L, d_in, n) and `conv` (L, d_in, K).
 * @param shape Its dims (plain arrays only).
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
export function stateVector(state: State, options: StateVectorOptions): Float32Array;
export function stateVector(
  state: MambaState,
  shape: StateShape,
  options: StateVectorOptions,
): Float32Array;
export function stateVector(
  state: MambaState,
  shapeOrOptions: StateShape | StateVectorOptions,
  maybeOptions?: StateVectorOptions,
): Float32Array {
  const typed = maybeOptions === undefined;
  const options = (typed ? shapeOrOptions : maybeOptions) as StateVectorOptions;
  const { layer, kind = "ssm" } = options;
  if (!STATE_KINDS.includes(kind)) {
    throw new SoupError(
      `Cannot take a state vector of kind "${kind}": choose one of ${STATE_KINDS.join(", ")}`,
    );
  }
  let ssm: Float32Array, conv: Float32Array;
  if (typed) {
    if (!(state instanceof State)) {
      throw new SoupError("Cannot take a state vector: pass the shape of plain state arrays");
    }
    if (!Number.isInteger(layer) || layer < 0 || layer >= state.shape.layers) {
      throw new SoupError(
        `Cannot take a state vector of layer ${layer}: layers are counted from 0 to ${
          state.shape.layers - 1
        }`,
      );
    }
    ({ ssm, conv } = state.layer(layer));
  } else {
    const shape = shapeOrOptions as StateShape;
    checkStateShape(state, shape, "take a state vector");
    if (!Number.isInteger(layer) || layer < 0 || layer >= shape.layers) {
      throw new SoupError(
        `Cannot take a state vector of layer ${layer}: layers are counted from 0 to ${
          shape.layers - 1
        }`,
      );
    }
    const ssmSize = shape.dInner * shape.stateSize, convSize = shape.dInner * shape.convKernel;
    ssm = state.ssm.subarray(layer * ssmSize, (layer + 1) * ssmSize);
    conv = state.conv.subarray(layer * convSize, (layer + 1) * convSize);
  }
  if (kind === "ssm") return ssm.slice();
  if (kind === "conv") return conv.slice();
  const both = new Float32Array(ssm.length + conv.length);
  both.set(ssm);
  both.set(conv, ssm.length);
  return both;
}
