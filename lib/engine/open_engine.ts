/**
 * Opens a model by id or folder on the requested implementation and device.
 *
 * @module
 */

import { resolveModelDir, type ResolveOptions } from "../hub/resolve.ts";
import { SoupError } from "../util/errors.ts";
import { OnnxEngine } from "./onnx_engine.ts";
import { ReferenceEngine } from "./reference_engine.ts";
import type { Engine } from "./types.ts";
import { describeAdapter, webgpuAdapter } from "../onnx/adapter.ts";
import { hasVulkan } from "../onnx/session.ts";

/**
 * Where to run: an onnxruntime execution provider (`cpu`, `webgpu`, `cuda`, or `auto` for the
 * best available), or `reference`, the float64 TypeScript implementation.
 */
export type Device = "auto" | "cpu" | "webgpu" | "cuda" | "reference";

/** Every {@link Device} name. */
export const DEVICES: readonly Device[] = ["auto", "cpu", "webgpu", "cuda", "reference"];

/** Options of {@link openEngine}. */
export interface OpenEngineOptions extends ResolveOptions {
  /** Implementation and device. @default "auto" */
  device?: Device;
  /** Tokens per sequence in one ONNX session run. @default 256 */
  chunkSize?: number;
  /**
   * `float16`: matrix products in half precision on a GPU provider (see
   * `OnnxEngineOptions.precision`). @default "float32"
   */
  precision?: "float32" | "float16";
  /** Where warnings go (a software WebGPU adapter asked for by name). @default console.warn */
  onWarning?: (message: string) => void;
}

/**
 * Loads `model` (a checkpoint folder or hub id) on the chosen device. The ONNX engine opens
 * its session on the first run, and its `name` then tells the provider actually used.
 *
 * @example
 * ```ts
 * import { openEngine } from "./open_engine.ts";
 * import { tinyMambaConfig, writeRandomCheckpoint } from "../model/random_checkpoint.ts";
 * const dir = await Deno.makeTempDir();
 * await writeRandomCheckpoint(dir, tinyMambaConfig());
 * const engine = await openEngine(dir, { device: "cpu" });
 * const { logits } = await engine.run([1, 2, 3]);
 * if (logits.length !== 64 || engine.name !== "onnx-cpu") throw new Error(engine.name);
 * await engine.close();
 * ```
 */
export async function openEngine(model: string, options: OpenEngineOptions = {}): Promise<Engine> {
  const device = options.device ?? "auto";
  if (!DEVICES.includes(device)) {
    throw new SoupError(`Unknown device "${device}": choose one of ${DEVICES.join(", ")}`);
  }
  const dir = await resolveModelDir(model, options);
  if (device === "reference") {
    if (options.precision === "float16") {
      throw new SoupError("The reference computes in float64: float16 is for GPU devices");
    }
    return await ReferenceEngine.load(dir, model);
  }
  if (device === "webgpu" && hasVulkan()) {
    const adapter = await webgpuAdapter();
    if (adapter?.software) {
      (options.onWarning ?? console.warn)(
        `warning: device webgpu runs on a software adapter (${describeAdapter(adapter)}): ` +
          `correct, but many times slower than device cpu`,
      );
    }
  }
  const engine = await OnnxEngine.load(
    dir,
    { provider: device, chunkSize: options.chunkSize, precision: options.precision },
    model,
  );
  // One token now opens the session, so the provider ("auto" resolved, or the CPU a GPU fell
  // back to), the name and the adapter are final before any caller reads them.
  try {
    await engine.run([0]);
  } catch (err) {
    await engine.close();
    throw err;
  }
  return engine;
}

/**
 * The engine's name and, on WebGPU, its adapter: "onnx-webgpu [llvmpipe (LLVM 15.0.6, 256
 * bits), vendor 65541, software]".
 */
export function describeEngine(engine: Engine): string {
  return engine.adapter ? `${engine.name} [${describeAdapter(engine.adapter)}]` : engine.name;
}
