/**
 * Private checks of state arrays against their dims, shared by the retrieval functions.
 *
 * @module
 */

import type { MambaState } from "../states/state_dir.ts";
import { SoupError } from "../util/errors.ts";
import type { StateKind, StateShape } from "./state_vector.ts";

/** Every {@link StateKind}. */
export const STATE_KINDS: readonly StateKind[] = ["ssm", "conv", "both"];

/** Throws unless `state`'s ssm and conv hold (L, d_in, n) and (L, d_in, K) values. */
export function checkStateShape(
  state: MambaState,
  shape: StateShape,
  action: string,
  what = "the state",
): void {
  const { layers: nl, dInner: d, convKernel: k, stateSize: n } = shape ?? {};
  if (![nl, d, k, n].every((x) => Number.isInteger(x) && x > 0)) {
    throw new SoupError(
      `Cannot ${action}: shape ${JSON.stringify(shape)} must give positive layers, dInner, ` +
        `convKernel and stateSize`,
    );
  }
  for (const [name, dims] of [["ssm", [nl, d, n]], ["conv", [nl, d, k]]] as const) {
    const a = state?.[name];
    const want = dims[0] * dims[1] * dims[2];
    if (!(a instanceof Float32Array) || a.length !== want) {
      throw new SoupError(
        `Cannot ${action}: ${what} holds ${
          a instanceof Float32Array ? `${a.length} ${name} values` : `no Float32Array ${name}`
        }, but shape (${dims.join(", ")}) needs ${want}`,
      );
    }
  }
}
