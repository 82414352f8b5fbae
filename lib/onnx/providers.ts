/**
 * Which execution providers this machine offers, and why not where one is missing: what
 * `soup doctor` prints.
 *
 * @module
 */

import { describeAdapter, webgpuAdapter } from "./adapter.ts";
import { cudaStatus, ORT_VERSION } from "./cuda.ts";
import { hasVulkan } from "./session.ts";

/** One provider's state. */
export interface ProviderReport {
  /** `cpu`, `webgpu` or `cuda`. */
  provider: "cpu" | "webgpu" | "cuda";
  /** Whether `--device <provider>` can be tried here. */
  available: boolean;
  /** Whether `--device auto` would try it. */
  auto: boolean;
  /** One line: where it runs, or what is missing and the command that brings it. */
  detail: string;
}

/**
 * Every provider, available or not, and why.
 *
 * @example
 * ```ts
 * import { providerReport } from "./providers.ts";
 * const [cpu] = await providerReport();
 * if (cpu.provider !== "cpu" || !cpu.available) throw new Error(cpu.detail);
 * ```
 */
export async function providerReport(): Promise<ProviderReport[]> {
  const out: ProviderReport[] = [{
    provider: "cpu",
    available: true,
    auto: true,
    detail: `onnxruntime-node ${ORT_VERSION}, bundled; the fallback of auto`,
  }];
  if (!hasVulkan()) {
    out.push({
      provider: "webgpu",
      available: false,
      auto: false,
      detail: "no Vulkan loader (libvulkan.so.1): apt-get install libvulkan1 and the GPU's " +
        "Vulkan driver (see docs/setup.md)",
    });
  } else {
    const adapter = await webgpuAdapter();
    out.push(
      adapter === undefined
        ? {
          provider: "webgpu",
          available: false,
          auto: false,
          detail: "a Vulkan loader but no WebGPU adapter: no Vulkan device or driver",
        }
        : {
          provider: "webgpu",
          available: true,
          auto: !adapter.software,
          detail: adapter.software
            ? `a software adapter (${describeAdapter(adapter)}): correct but slower than the ` +
              `CPU, so auto never picks it`
            : `on ${describeAdapter(adapter)}`,
        },
    );
  }
  const cuda = cudaStatus();
  out.push({
    provider: "cuda",
    available: cuda.ready,
    auto: cuda.ready,
    detail: cuda.ready ? `${cuda.reason}; a session opens on the first CUDA device` : cuda.reason,
  });
  return out;
}
