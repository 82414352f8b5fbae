/**
 * Which WebGPU adapter this machine offers, seen through Deno's own `navigator.gpu` (the same
 * Vulkan devices onnxruntime's WebGPU provider sees): its vendor and description, whether it is
 * a software rasterizer (Mesa's llvmpipe/lavapipe, SwiftShader), and whether it has
 * `shader-f16`. `--device auto` uses it to never pick a software adapter, which is correct but
 * far slower than the CPU provider.
 *
 * @module
 */

/** What a WebGPU adapter says of itself. */
export interface GpuAdapterInfo {
  /** Vendor (PCI id in decimal, or a name), as the adapter reports it. */
  vendor: string;
  /** Architecture, when reported. */
  architecture: string;
  /** Device, when reported. */
  device: string;
  /** Human-readable description, e.g. "llvmpipe (LLVM 15.0.6, 256 bits)". */
  description: string;
  /** Whether it is a software (CPU) implementation. */
  software: boolean;
  /** Whether it supports half-precision shaders (`shader-f16`). */
  shaderF16: boolean;
}

const SOFTWARE = /llvmpipe|lavapipe|softpipe|swiftshader|software|microsoft basic render/i;

/** Whether an adapter's own report marks it as software: the fallback flag or a known name. */
export function isSoftwareAdapter(
  info: { description?: string; isFallbackAdapter?: boolean; vendor?: string },
): boolean {
  return info.isFallbackAdapter === true || SOFTWARE.test(info.description ?? "") ||
    SOFTWARE.test(info.vendor ?? "");
}

let found: Promise<GpuAdapterInfo | undefined> | undefined;

/**
 * The high-performance WebGPU adapter of this machine, or undefined when there is none (no
 * `navigator.gpu`, no Vulkan loader or device). Asked once per process.
 *
 * @example
 * ```ts
 * import { webgpuAdapter } from "./adapter.ts";
 * const adapter = await webgpuAdapter();
 * console.log(adapter ? `${adapter.description}${adapter.software ? " (software)" : ""}` : "none");
 * ```
 */
export function webgpuAdapter(): Promise<GpuAdapterInfo | undefined> {
  found ??= (async () => {
    const gpu = (globalThis.navigator as { gpu?: GPU } | undefined)?.gpu;
    if (gpu === undefined) return undefined;
    let adapter: GPUAdapter | null;
    try {
      adapter = await gpu.requestAdapter({ powerPreference: "high-performance" });
    } catch {
      return undefined; // no usable Vulkan device: the same as no adapter
    }
    if (adapter === null) return undefined;
    const info = adapter.info as GPUAdapterInfo & { isFallbackAdapter?: boolean };
    return {
      vendor: info.vendor ?? "",
      architecture: info.architecture ?? "",
      device: info.device ?? "",
      description: info.description ?? "",
      software: isSoftwareAdapter(info),
      shaderF16: adapter.features.has("shader-f16"),
    };
  })();
  return found;
}

/** One line naming an adapter, e.g. "llvmpipe (LLVM 15.0.6, 256 bits), vendor 65541, software". */
export function describeAdapter(a: GpuAdapterInfo): string {
  return `${a.description || "unnamed adapter"}, vendor ${a.vendor || "?"}${
    a.software ? ", software" : ""
  }`;
}
