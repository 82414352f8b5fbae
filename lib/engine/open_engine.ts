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
import { gpuProviders, hasVulkan, type Provider } from "../onnx/session.ts";

/**
 * Where to run: an onnxruntime execution provider (`cpu`, `webgpu`, `cuda`, or `auto` for the
 * best available), or `reference`, the float64 TypeScript implementation.
 */
export type Device = "auto" | "cpu" | "webgpu" | "cuda" | "reference";

/** Every {@link Device} name. */
export const DEVICES: readonly Device[] = ["auto", "cpu", "webgpu", "cuda", "reference"];

/** Test seams: which GPU providers `auto` tries (the machine's, by default). */
export const engineHooks: { gpuProviders: () => Promise<Provider[]> } = { gpuProviders };

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
 * Loads `model` (a checkpoint folder or hub id) on the chosen device, and runs one token so that
 * the engine's session is open and its name, adapter and identity are final when it returns.
 *
 * This is the one place where `auto` is resolved: it tries the GPU providers the machine has
 * (`gpuProviders`: cuda when its library is installed, webgpu on a real Vulkan GPU) in that
 * order, then the CPU; when a GPU provider was tried and failed it says so through `onWarning`
 * (the reasons in one line) and runs on the CPU. A device named explicitly (`cuda`, `webgpu`,
 * `cpu`) never falls back: it opens, or fails with its reason in one line.
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
  const providers: Provider[] = device === "auto"
    ? [
      ...await engineHooks.gpuProviders(),
      ...(options.precision === "float16" ? [] : ["cpu" as const]),
    ]
    : [device];
  if (providers.length === 0) {
    throw new SoupError(
      `Cannot run in float16 on device auto: this machine has no GPU provider (see soup info)`,
    );
  }
  const failures: string[] = [];
  let last: unknown;
  for (const provider of providers) {
    const engine = await OnnxEngine.load(
      dir,
      { provider, chunkSize: options.chunkSize, precision: options.precision },
      model,
    );
    // One token now opens the session, so the provider, the name and the adapter are final
    // before any caller reads them.
    try {
      await engine.run([0]);
    } catch (err) {
      await engine.close();
      failures.push(oneLine(provider, err));
      last = err;
      continue;
    }
    if (failures.length > 0) {
      (options.onWarning ?? console.warn)(
        `warning: device auto runs on ${provider}: ${failures.join("; ")}`,
      );
    }
    return engine;
  }
  // Every provider failed: a named device's own error, or all of auto's reasons in one line.
  if (device !== "auto") throw last;
  throw new SoupError(`Cannot open "${model}" on device auto: ${failures.join("; ")}`);
}

/** `provider: the error's first line`. */
function oneLine(provider: string, err: unknown): string {
  return `${provider} failed (${String((err as Error)?.message ?? err).split("\n")[0]})`;
}

/**
 * The engine's name and, on WebGPU, its adapter: "onnx-webgpu [llvmpipe (LLVM 15.0.6, 256
 * bits), vendor 65541, software]".
 */
export function describeEngine(engine: Engine): string {
  return engine.adapter ? `${engine.name} [${describeAdapter(engine.adapter)}]` : engine.name;
}
