/**
 * onnxruntime-node's CUDA provider, installed by `deno task setup cuda` and used by `--device
 * cuda` (and `auto`) with no environment variables to remember.
 *
 * onnxruntime-node's npm package holds the CPU and WebGPU providers but not the CUDA one (its
 * postinstall fetches a CUDA 12 build from NuGet). The setup takes the provider of the same
 * version from PyPI's `onnxruntime-gpu` wheel (pinned by its sha256 in {@link ORT_GPU_WHEELS}),
 * puts it beside the binding, finds the CUDA 13 libraries it needs (the system's, PyPI's
 * `nvidia-*` wheels, an existing PyTorch environment's) and records where in
 * `soup-cuda.json` beside the binding. Before a CUDA session opens, {@link prepareCuda} loads
 * those libraries by their recorded paths, so the provider's dependencies resolve by name
 * (the dynamic loader matches an already loaded library by its soname).
 *
 * @module
 */

import { SoupError } from "../util/errors.ts";

/** A library the CUDA provider needs, and what brings it. */
export interface CudaLibrary {
  /** The name the provider asks the dynamic loader for. */
  readonly soname: string;
  /** The command that brings it. */
  readonly fix: string;
}

/**
 * What `libonnxruntime_providers_cuda.so` of onnxruntime 1.30 needs (its `readelf -d` NEEDED
 * entries beyond the C and C++ runtimes), in the order they load (libcublas needs libcublasLt).
 * The last is the NVIDIA driver's: without it there is no CUDA device.
 */
export const CUDA_LIBRARIES: readonly CudaLibrary[] = [
  { soname: "libcudart.so.13", fix: "pip install 'nvidia-cuda-runtime~=13.0'" },
  { soname: "libcublasLt.so.13", fix: "pip install 'nvidia-cublas~=13.0'" },
  { soname: "libcublas.so.13", fix: "pip install 'nvidia-cublas~=13.0'" },
  { soname: "libcurand.so.10", fix: "pip install 'nvidia-curand~=10.0'" },
  {
    soname: "libcuda.so.1",
    fix: "install the NVIDIA driver (it brings libcuda.so.1; there is no CUDA device without it)",
  },
];

/** The provider libraries the setup takes from the wheel. */
export const PROVIDER_FILES = [
  "libonnxruntime_providers_shared.so",
  "libonnxruntime_providers_cuda.so",
] as const;

/** PyPI's `onnxruntime-gpu` wheel per onnxruntime-node version: file name and sha256. */
export const ORT_GPU_WHEELS: Readonly<Record<string, { file: string; sha256: string }>> = {
  "1.30.0": {
    file: "onnxruntime_gpu-1.30.0-cp311-cp311-manylinux_2_28_x86_64.whl",
    sha256: "4fbf0c5d7b5fb99266c2e8a802e3e64af68bdc383e0f3c7349b985f1087eedaa",
  },
};

/** The onnxruntime-node version this project runs. */
export const ORT_VERSION = "1.30.0";

/** What `soup-cuda.json` records. */
export interface CudaRecord {
  /** onnxruntime-node's version the provider belongs to. */
  onnxruntime: string;
  /** The wheel it came from. */
  wheel: { file: string; sha256: string };
  /** Each library of {@link CUDA_LIBRARIES}: where it was found, or null. */
  libraries: Record<string, string | null>;
  /** The folders searched, in order. */
  searched: string[];
  /** ISO time of the setup. */
  created: string;
}

/** The folder of onnxruntime-node's binding that this process loads (where the provider goes). */
export function bindingDir(): string {
  const binding = new URL(import.meta.resolve(`npm:onnxruntime-node@${ORT_VERSION}`)).pathname;
  const root = binding.slice(0, binding.lastIndexOf("/onnxruntime-node/") + 18);
  return `${root}bin/napi-v6/${Deno.build.os}/${Deno.build.arch === "x86_64" ? "x64" : "arm64"}`;
}

/** The record's path: `soup-cuda.json` beside the binding. */
export function recordPath(dir = bindingDir()): string {
  return `${dir}/soup-cuda.json`;
}

/** The record of the setup, or undefined when `deno task setup cuda` has not run here. */
export function readCudaRecord(dir = bindingDir()): CudaRecord | undefined {
  try {
    return JSON.parse(Deno.readTextFileSync(recordPath(dir)));
  } catch {
    return undefined;
  }
}

/** Where CUDA's state stands here, and the one line that says what is missing. */
export interface CudaStatus {
  /** The provider's libraries are beside the binding. */
  installed: boolean;
  /** Libraries the record lacks (or whose file is gone), with what brings each. */
  missing: CudaLibrary[];
  /** Installed and every library found: a CUDA session can be tried. */
  ready: boolean;
  /** One line: why it is not ready (with the command), or where it stands. */
  reason: string;
}

/**
 * Reads the setup's record and checks that its files are still there.
 *
 * @example
 * ```ts
 * import { cudaStatus } from "./cuda.ts";
 * const dir = await Deno.makeTempDir(); // a binding folder without the provider
 * const status = cudaStatus(dir);
 * if (status.installed || status.ready || !status.reason.includes("deno task setup cuda")) {
 *   throw new Error(status.reason);
 * }
 * ```
 */
export function cudaStatus(dir = bindingDir()): CudaStatus {
  const exists = (p: string) => {
    try {
      return Deno.statSync(p).isFile;
    } catch {
      return false;
    }
  };
  const installed = PROVIDER_FILES.every((f) => exists(`${dir}/${f}`));
  const record = readCudaRecord(dir);
  if (!installed || record === undefined) {
    return {
      installed,
      missing: [],
      ready: false,
      reason: `the CUDA provider is not installed: run "deno task setup cuda"`,
    };
  }
  const missing = CUDA_LIBRARIES.filter((lib) => {
    const at = record.libraries[lib.soname];
    return typeof at !== "string" || !exists(at);
  });
  const [first, ...more] = missing;
  const reason = first === undefined
    ? `the CUDA provider ${record.onnxruntime} and its CUDA 13 libraries are installed`
    : `${first.soname} was not found (${first.fix})${
      more.length > 0 ? `, nor ${more.map((m) => m.soname).join(", ")}` : ""
    }; then run "deno task setup cuda" again`;
  return { installed, missing, ready: missing.length === 0, reason };
}

let prepared = false;

/**
 * Loads the recorded CUDA libraries so that the provider's dependencies resolve, once per
 * process. Throws a one-line {@link SoupError} naming what is missing and the command that
 * brings it: the provider, a library, or the driver (no CUDA device).
 */
export function prepareCuda(dir = bindingDir()): void {
  if (prepared) return;
  const status = cudaStatus(dir);
  if (!status.ready) throw new SoupError(`Cannot use device cuda: ${status.reason}`);
  const record = readCudaRecord(dir)!;
  for (const lib of CUDA_LIBRARIES) {
    const path = record.libraries[lib.soname]!;
    try {
      Deno.dlopen(path, {});
    } catch (err) {
      throw new SoupError(
        `Cannot use device cuda: ${lib.soname} at ${path} does not load (${
          String((err as Error).message).split("\n")[0]
        }); ${lib.fix}`,
      );
    }
  }
  prepared = true;
}

/**
 * Asks the real dynamic loader how far the provider gets: loads the recorded libraries that were
 * found, then the provider's two libraries. Returns undefined when everything loads (a machine
 * with CUDA), else the loader's one-line reason (e.g. "libcuda.so.1: cannot open shared object
 * file"). Throws when the provider is not installed.
 *
 * @example
 * ```ts ignore
 * console.log(probeCuda() ?? "the CUDA provider and its libraries load");
 * ```
 */
export function probeCuda(dir = bindingDir()): string | undefined {
  const status = cudaStatus(dir);
  if (!status.installed) throw new SoupError(`Cannot probe device cuda: ${status.reason}`);
  const record = readCudaRecord(dir);
  const paths = [
    ...CUDA_LIBRARIES.map((lib) => record?.libraries[lib.soname]).filter((p) =>
      typeof p === "string"
    ),
    ...PROVIDER_FILES.map((f) => `${dir}/${f}`),
  ] as string[];
  for (const path of paths) {
    try {
      Deno.dlopen(path, {});
    } catch (err) {
      return String((err as Error).message).split("\n")[0];
    }
  }
  return undefined;
}

/**
 * Finds each of {@link CUDA_LIBRARIES} in `dirs`, searched in order (the first hit wins), and
 * below each `nvidia/` folder of them (where PyPI's `nvidia-*` wheels put their libraries:
 * `nvidia/cu13/lib/`, `nvidia/cublas/lib/`).
 *
 * @example
 * ```ts
 * import { findCudaLibraries } from "./cuda.ts";
 * const site = await Deno.makeTempDir();
 * await Deno.mkdir(`${site}/nvidia/cu13/lib`, { recursive: true });
 * await Deno.writeFile(`${site}/nvidia/cu13/lib/libcudart.so.13`, new Uint8Array(1));
 * const found = findCudaLibraries([site]);
 * if (found["libcudart.so.13"] !== `${site}/nvidia/cu13/lib/libcudart.so.13`) throw new Error();
 * if (found["libcuda.so.1"] !== null) throw new Error("no driver there");
 * ```
 */
export function findCudaLibraries(dirs: readonly string[]): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  const candidates = dirs.flatMap((d) => [d, ...nvidiaLibDirs(d)]);
  for (const lib of CUDA_LIBRARIES) {
    out[lib.soname] = null;
    for (const d of candidates) {
      try {
        if (Deno.statSync(`${d}/${lib.soname}`).isFile) {
          out[lib.soname] = `${d}/${lib.soname}`;
          break;
        }
      } catch { /* not here */ }
    }
  }
  return out;
}

/** `<dir>/nvidia/<package>/lib` folders, sorted. */
function nvidiaLibDirs(dir: string): string[] {
  try {
    return [...Deno.readDirSync(`${dir}/nvidia`)]
      .filter((e) => e.isDirectory)
      .map((e) => `${dir}/nvidia/${e.name}/lib`)
      .sort();
  } catch {
    return [];
  }
}

/**
 * The folders the setup searches, in order: `extra` (the user's `--lib-dir`), `LD_LIBRARY_PATH`,
 * the folders of the dynamic loader's cache (`ldconfig -p`), the usual CUDA and driver folders,
 * then the site-packages of each Python in `pythons` (where `nvidia-*` wheels and PyTorch's
 * CUDA libraries live).
 */
export async function cudaSearchDirs(
  options: { extra?: readonly string[]; pythons?: readonly string[] } = {},
): Promise<string[]> {
  const dirs: string[] = [...(options.extra ?? [])];
  dirs.push(...(Deno.env.get("LD_LIBRARY_PATH") ?? "").split(":").filter(Boolean));
  const ldconfig = await output("ldconfig", ["-p"]) ?? await output("/sbin/ldconfig", ["-p"]);
  for (const line of (ldconfig ?? "").split("\n")) {
    const path = /=>\s*(\S+)$/.exec(line)?.[1];
    if (path && /libcu(da|blas|rand|dart)/.test(path)) {
      dirs.push(path.slice(0, path.lastIndexOf("/")));
    }
  }
  dirs.push(
    "/usr/local/cuda/lib64",
    "/usr/local/cuda-13/lib64",
    "/usr/local/nvidia/lib64",
    "/usr/local/nvidia/lib",
    "/usr/lib/x86_64-linux-gnu",
    "/usr/lib64",
  );
  for (const python of options.pythons ?? ["python3"]) {
    const site = await output(python, [
      "-c",
      "import site, sys; print('\\n'.join(site.getsitepackages() + [site.getusersitepackages()]))",
    ]);
    dirs.push(...(site ?? "").split("\n").map((s) => s.trim()).filter(Boolean));
  }
  return [...new Set(dirs)];
}

/** A command's stdout, or undefined when it cannot run or fails. */
async function output(cmd: string, args: string[]): Promise<string | undefined> {
  try {
    const r = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "null" }).output();
    return r.success ? new TextDecoder().decode(r.stdout) : undefined;
  } catch {
    return undefined;
  }
}
