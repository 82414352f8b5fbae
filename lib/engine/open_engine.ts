/**
 * Opens a model by id or folder on the requested implementation.
 *
 * @module
 */

import { resolveModelDir, type ResolveOptions } from "../hub/resolve.ts";
import { SoupError } from "../util/errors.ts";
import { ReferenceEngine } from "./reference_engine.ts";
import type { Engine } from "./types.ts";

/** Where to run. `reference` is the float64 TypeScript implementation. */
export type Device = "reference";

/** Every {@link Device} name. */
export const DEVICES: readonly Device[] = ["reference"];

/** Options of {@link openEngine}. */
export interface OpenEngineOptions extends ResolveOptions {
  /** Implementation and device. @default "reference" */
  device?: Device;
}

/**
 * Loads `model` (a checkpoint folder or hub id) on the chosen device.
 *
 * @example
 * ```ts
 * import { openEngine } from "./open_engine.ts";
 * import { tinyMambaConfig, writeRandomCheckpoint } from "../model/random_checkpoint.ts";
 * const dir = await Deno.makeTempDir();
 * await writeRandomCheckpoint(dir, tinyMambaConfig());
 * const engine = await openEngine(dir, { device: "reference" });
 * const { logits } = await engine.run([1, 2, 3]);
 * if (logits.length !== 64) throw new Error("one row of logits");
 * ```
 */
export async function openEngine(model: string, options: OpenEngineOptions = {}): Promise<Engine> {
  const device = options.device ?? "reference";
  if (!DEVICES.includes(device)) {
    throw new SoupError(`Unknown device "${device}": choose one of ${DEVICES.join(", ")}`);
  }
  const dir = await resolveModelDir(model, options);
  return await ReferenceEngine.load(dir, model);
}
