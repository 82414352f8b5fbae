/**
 * Private checks of state arrays against their dims, shared by the retrieval functions.
 *
 * @module
 */

import { checkStateArrays, type MambaState } from "../states/state.ts";
import type { StateKind } from "./state_vector.ts";
import type { StateShape } from "../states/state.ts";

/** Every {@link StateKind}. */
export const STATE_KINDS: readonly StateKind[] = ["ssm", "conv", "both"];

/** Throws unless `state`'s ssm and conv hold (L, d_in, n) and (L, d_in, K) values. */
export function checkStateShape(
  state: MambaState,
  shape: StateShape,
  action: string,
  what = "the state",
): void {
  checkStateArrays(state, shape, action, { what });
}
