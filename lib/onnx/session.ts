/**
 * The one module that talks to onnxruntime-node. It opens sessions on the requested execution
 * provider (with a clear error when that provider is unavailable), reports which provider is
 * used, and checks every feed against the session's input names and dims before running.
 *
 * @module
 */

import * as ort from "onnxruntime-node";
import { SoupError } from "../util/errors.ts";

/** Execution providers this project knows; `auto` picks the best available. */
export type Provider = "cpu" | "webgpu" | "cuda" | "auto";

/** Every {@link Provider}. */
export const PROVIDERS: readonly Provider[] = ["cpu", "webgpu", "cuda", "auto"];

/** A float32 or int64 tensor to feed. */
export interface Feed {
  /** `float32` or `int64`. */
  type: "float32" | "int64";
  /** Values, C order. */
  data: Float32Array | BigInt64Array;
  /** Dims. */
  dims: number[];
}

/** Options of {@link OrtSession.create}. */
export interface SessionOptions {
  /** Execution provider. @default "cpu" */
  provider?: Provider;
  /** Threads for one operator on the CPU. @default onnxruntime's choice (all cores) */
  intraOpThreads?: number;
  /**
   * Folder that external-data `location`s are relative to, for a model given as bytes.
   * onnxruntime resolves links and refuses data outside this folder.
   */
  externalDataFolder?: string;
  /**
   * Whether onnxruntime's worker threads spin while waiting for work. Turn it off when other
   * code runs between session runs on the same cores. @default true
   */
  allowSpinning?: boolean;
}

/** Providers onnxruntime-node can load here: bundled ones, and cuda when its library is present. */
export function availableProviders(): { name: string; bundled: boolean }[] {
  // deno-lint-ignore no-explicit-any
  const list = (ort as any).listSupportedBackends?.() as { name: string; bundled: boolean }[];
  return list ?? [{ name: "cpu", bundled: true }];
}

let quiet = false;

/** Whether onnxruntime-node's CUDA provider library was installed (its postinstall fetches it). */
export function hasCudaProvider(): boolean {
  try {
    const binding = new URL(import.meta.resolve("onnxruntime-node")).pathname;
    const root = binding.slice(0, binding.lastIndexOf("/onnxruntime-node/") + 18);
    const dir = `${root}bin/napi-v6/${Deno.build.os}/${
      Deno.build.arch === "x86_64" ? "x64" : "arm64"
    }`;
    return Deno.statSync(`${dir}/libonnxruntime_providers_cuda.so`).isFile;
  } catch {
    return false;
  }
}

/** Whether a Vulkan loader (libvulkan.so.1), which the WebGPU provider needs on Linux, is present. */
export function hasVulkan(): boolean {
  if (Deno.build.os !== "linux") return true;
  const dirs = [
    ...(Deno.env.get("LD_LIBRARY_PATH") ?? "").split(":").filter(Boolean),
    "/usr/lib/x86_64-linux-gnu",
    "/usr/lib/aarch64-linux-gnu",
    "/usr/lib64",
    "/usr/lib",
    "/lib/x86_64-linux-gnu",
    "/usr/local/lib",
  ];
  return dirs.some((d) => {
    try {
      return Deno.statSync(`${d}/libvulkan.so.1`).isFile;
    } catch {
      return false;
    }
  });
}

/** The GPU providers `auto` tries, best first: those whose libraries are present here. */
export function gpuProviders(): ("cuda" | "webgpu")[] {
  return [
    ...(hasCudaProvider() ? ["cuda" as const] : []),
    ...(hasVulkan() ? ["webgpu" as const] : []),
  ];
}

/** An onnxruntime session with checked feeds. */
export class OrtSession {
  readonly #session: ort.InferenceSession;
  /** The provider actually used. */
  readonly provider: Exclude<Provider, "auto">;
  /** Input names and their declared dims (symbolic dims as strings). */
  readonly inputs: ReadonlyMap<string, readonly (number | string)[]>;

  private constructor(
    session: ort.InferenceSession,
    provider: Exclude<Provider, "auto">,
  ) {
    this.#session = session;
    this.provider = provider;
    const dims = new Map<string, readonly (number | string)[]>();
    for (const [i, name] of session.inputNames.entries()) {
      // deno-lint-ignore no-explicit-any
      const meta = (session as any).inputMetadata?.[i];
      dims.set(name, meta?.shape ?? []);
    }
    this.inputs = dims;
  }

  /**
   * Opens a model (a file, or its bytes) on `provider`. `auto` tries cuda, then webgpu, then cpu and keeps the
   * first that opens. A named provider that cannot open fails with its reason.
   */
  static async create(
    model: string | Uint8Array,
    options: SessionOptions = {},
  ): Promise<OrtSession> {
    const modelPath = typeof model === "string" ? model : "<model bytes>";
    if (!quiet) {
      ort.env.logLevel = "error";
      quiet = true;
    }
    const requested = options.provider ?? "cpu";
    if (!PROVIDERS.includes(requested)) {
      throw new SoupError(
        `Unknown execution provider "${requested}": choose one of ${PROVIDERS.join(", ")}`,
      );
    }
    const order: Exclude<Provider, "auto">[] = requested === "auto"
      ? [...gpuProviders(), "cpu"]
      : [requested];
    const failures: string[] = [];
    for (const provider of order) {
      try {
        const sessionOptions: ort.InferenceSession.SessionOptions = {
          executionProviders: [provider],
          graphOptimizationLevel: "all",
          ...(options.intraOpThreads ? { intraOpNumThreads: options.intraOpThreads } : {}),
          logSeverityLevel: 3,
          extra: {
            session: {
              ...(options.externalDataFolder
                ? { model_external_initializers_file_folder_path: options.externalDataFolder }
                : {}),
              ...(options.allowSpinning === false ? { intra_op: { allow_spinning: "0" } } : {}),
            },
          },
        };
        const session = typeof model === "string"
          ? await ort.InferenceSession.create(model, sessionOptions)
          : await ort.InferenceSession.create(model, sessionOptions);
        return new OrtSession(session, provider);
      } catch (err) {
        failures.push(`${provider}: ${(err as Error).message.split("\n")[0]}`);
      }
    }
    const hint = requested === "cuda"
      ? " (onnxruntime-node fetches its CUDA provider in a postinstall script: run Deno with --allow-scripts=npm:onnxruntime-node on a machine with CUDA, see README)"
      : requested === "webgpu"
      ? " (the WebGPU provider needs libvulkan.so.1 and a real Vulkan GPU)"
      : "";
    throw new SoupError(
      `Cannot open "${modelPath}" on ${requested}: ${failures.join("; ")}${hint}`,
      { file: modelPath },
    );
  }

  /** Output names in graph order. */
  get outputNames(): readonly string[] {
    return this.#session.outputNames;
  }

  /**
   * Runs the session. Feeds must name exactly the session's inputs, with dims that agree
   * with the declared ones; otherwise a {@link SoupError} lists what is missing or wrong.
   * Outputs named in `into` are written into those buffers (which must have the output's
   * exact dims and must not be backed by shared memory) instead of new ones.
   */
  async run(
    feeds: Record<string, Feed>,
    into: Record<string, Feed> = {},
  ): Promise<Record<string, Float32Array>> {
    const missing = [...this.inputs.keys()].filter((n) => !(n in feeds));
    const unknown = Object.keys(feeds).filter((n) => !this.inputs.has(n));
    const badDims: string[] = [];
    for (const [name, feed] of Object.entries(feeds)) {
      const declared = this.inputs.get(name);
      if (declared === undefined) continue;
      const size = feed.dims.reduce((a, b) => a * b, 1);
      const fits = declared.length === 0 ||
        (declared.length === feed.dims.length &&
          declared.every((d, i) => typeof d !== "number" || d === feed.dims[i] || d < 0));
      if (!fits || size !== feed.data.length) {
        badDims.push(
          `${name}: got [${feed.dims}] (${feed.data.length} values), expected [${declared}]`,
        );
      }
    }
    if (missing.length || unknown.length || badDims.length) {
      const parts = [
        missing.length ? `missing inputs ${missing.join(", ")}` : "",
        unknown.length ? `unknown inputs ${unknown.join(", ")}` : "",
        badDims.length ? `wrong dims: ${badDims.join("; ")}` : "",
      ].filter(Boolean);
      throw new SoupError(`Cannot run the model: ${parts.join("; ")}`);
    }
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const [name, f] of Object.entries(feeds)) {
      ortFeeds[name] = new ort.Tensor(f.type, f.data, f.dims);
    }
    let result: ort.InferenceSession.ReturnType;
    if (Object.keys(into).length === 0) {
      result = await this.#session.run(ortFeeds);
    } else {
      // Every output is fetched; those in `into` land in the given (non-shared) buffers.
      const fetches: Record<string, ort.Tensor | null> = {};
      for (const name of this.#session.outputNames) {
        const f = into[name];
        fetches[name] = f === undefined ? null : new ort.Tensor(f.type, f.data, f.dims);
      }
      result = await this.#session.run(ortFeeds, fetches);
    }
    const out: Record<string, Float32Array> = {};
    for (const [name, tensor] of Object.entries(result)) {
      out[name] = tensor.data as Float32Array;
    }
    return out;
  }

  /** Frees the session. */
  async release(): Promise<void> {
    await this.#session.release();
  }
}
