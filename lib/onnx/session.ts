/**
 * The one module that talks to onnxruntime-node. It opens sessions on the requested execution
 * provider (with a clear error when that provider is unavailable), reports which provider is
 * used, and checks every feed against the session's input names and dims before running.
 *
 * @module
 */

import * as ort from "npm:onnxruntime-node@1.30.0";
import { SoupError } from "../util/errors.ts";
import { type GpuAdapterInfo, webgpuAdapter } from "./adapter.ts";
import { cudaStatus, prepareCuda } from "./cuda.ts";
import { DT, GraphBuilder } from "./graph_builder.ts";

/**
 * Execution providers this project knows. Choosing among them (`--device auto`) happens in one
 * place, `openEngine`; a session opens on the one it is given.
 */
export type Provider = "cpu" | "webgpu" | "cuda";

/** Every {@link Provider}. */
export const PROVIDERS: readonly Provider[] = ["cpu", "webgpu", "cuda"];

/** A float32 or int64 tensor to feed. */
export interface Feed {
  /** `float32` or `int64`. */
  type: "float32" | "int64";
  /** Values, C order. */
  data: Float32Array | BigInt64Array;
  /** Dims. */
  dims: number[];
}

/**
 * An output kept in GPU memory (onnxruntime's `gpu-buffer` location): it can be fed back as an
 * input of the same session (or another on the same device) without a copy to the CPU, and read
 * with {@link OrtSession.readDevice}. Free it with {@link DeviceTensor.dispose}.
 */
export class DeviceTensor {
  /** @internal the onnxruntime tensor. */
  readonly tensor: ort.Tensor;
  constructor(tensor: ort.Tensor) {
    this.tensor = tensor;
  }
  /** Dims. */
  get dims(): readonly number[] {
    return this.tensor.dims;
  }
  /** Frees the GPU memory. */
  dispose(): void {
    this.tensor.dispose();
  }
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
  /**
   * Outputs to keep in GPU memory (WebGPU only): {@link OrtSession.runDevice} returns them as
   * {@link DeviceTensor}s. @default none
   */
  deviceOutputs?: string[];
  /** Write onnxruntime's profile (every node, its provider and types) under this prefix. */
  profilePrefix?: string;
}

/** Providers onnxruntime-node can load here: bundled ones, and cuda when its library is present. */
export function availableProviders(): { name: string; bundled: boolean }[] {
  // deno-lint-ignore no-explicit-any
  const list = (ort as any).listSupportedBackends?.() as { name: string; bundled: boolean }[];
  return list ?? [{ name: "cpu", bundled: true }];
}

let quiet = false;

/**
 * Whether onnxruntime-node's CUDA provider and every CUDA library it needs were installed and
 * found by `deno task setup cuda` (see `cuda.ts`).
 */
export function hasCudaProvider(): boolean {
  return cudaStatus().ready;
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

/**
 * The GPU providers `auto` tries, best first: cuda when it is set up, webgpu when a
 * Vulkan loader is present and the machine's WebGPU adapter is a real GPU. A software adapter
 * (Mesa's lavapipe, common on Linux without a GPU) is never chosen by `auto`: it is correct but
 * many times slower than the CPU provider.
 */
export async function gpuProviders(): Promise<("cuda" | "webgpu")[]> {
  const out: ("cuda" | "webgpu")[] = hasCudaProvider() ? ["cuda"] : [];
  if (hasVulkan()) {
    const adapter = await webgpuAdapter();
    if (adapter !== undefined && !adapter.software) out.push("webgpu");
  }
  return out;
}

/** An onnxruntime session with checked feeds. */
export class OrtSession {
  readonly #session: ort.InferenceSession;
  /** The provider actually used. */
  readonly provider: Provider;
  /** Input names and their declared dims (symbolic dims as strings). */
  readonly inputs: ReadonlyMap<string, readonly (number | string)[]>;
  /** The WebGPU adapter, when the provider is webgpu. */
  readonly adapter: GpuAdapterInfo | undefined;
  /** Outputs kept in GPU memory. */
  readonly deviceOutputs: ReadonlySet<string>;
  /** Identity sessions that copy device tensors to the CPU, by input signature. */
  #readers = new Map<string, Promise<ort.InferenceSession>>();

  private constructor(
    session: ort.InferenceSession,
    provider: Provider,
    adapter: GpuAdapterInfo | undefined,
    deviceOutputs: string[],
  ) {
    this.#session = session;
    this.provider = provider;
    this.adapter = adapter;
    this.deviceOutputs = new Set(deviceOutputs);
    const dims = new Map<string, readonly (number | string)[]>();
    for (const [i, name] of session.inputNames.entries()) {
      // deno-lint-ignore no-explicit-any
      const meta = (session as any).inputMetadata?.[i];
      dims.set(name, meta?.shape ?? []);
    }
    this.inputs = dims;
  }

  /**
   * Opens a model (a file, or its bytes) on `provider`; a provider that cannot open fails with
   * its reason in one line.
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
    const provider = requested;
    if (provider === "cuda") prepareCuda(); // its CUDA libraries, or one line on what is missing
    let failure: string;
    // One provider, as given: choosing one (`auto`) is openEngine's.
    try {
      const sessionOptions: ort.InferenceSession.SessionOptions = {
        executionProviders: [provider],
        graphOptimizationLevel: "all",
        ...(options.intraOpThreads ? { intraOpNumThreads: options.intraOpThreads } : {}),
        logSeverityLevel: 3,
        ...(options.profilePrefix
          ? { enableProfiling: true, profileFilePrefix: options.profilePrefix }
          : {}),
        ...(provider === "webgpu" && options.deviceOutputs?.length
          ? {
            preferredOutputLocation: Object.fromEntries(
              options.deviceOutputs.map((name) => [name, "gpu-buffer" as const]),
            ),
          }
          : {}),
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
      removeTelemetryLog();
      const adapter = provider === "webgpu" ? await webgpuAdapter() : undefined;
      const kept = provider === "webgpu" ? options.deviceOutputs ?? [] : [];
      return new OrtSession(session, provider, adapter, kept);
    } catch (err) {
      failure = (err as Error).message.split("\n")[0];
    }
    const hint = requested === "cuda"
      ? ` (${cudaStatus().reason}; "deno task soup doctor" lists the providers)`
      : requested === "webgpu"
      ? " (the WebGPU provider needs libvulkan.so.1 and a real Vulkan GPU)"
      : "";
    throw new SoupError(
      `Cannot open "${modelPath}" on ${requested}: ${failure}${hint}`,
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
   * exact dims and must not be backed by shared memory) instead of new ones. Outputs kept in
   * GPU memory are dropped here: use {@link OrtSession.runDevice} for them.
   */
  async run(
    feeds: Record<string, Feed | DeviceTensor>,
    into: Record<string, Feed> = {},
  ): Promise<Record<string, Float32Array>> {
    const { host, device } = await this.runDevice(feeds, into);
    for (const t of Object.values(device)) t.dispose();
    return host;
  }

  /**
   * Runs the session as {@link OrtSession.run} does; the outputs kept in GPU memory
   * (`deviceOutputs`) come back as {@link DeviceTensor}s, the others as arrays.
   */
  async runDevice(
    feeds: Record<string, Feed | DeviceTensor>,
    into: Record<string, Feed> = {},
  ): Promise<{ host: Record<string, Float32Array>; device: Record<string, DeviceTensor> }> {
    const missing = [...this.inputs.keys()].filter((n) => !(n in feeds));
    const unknown = Object.keys(feeds).filter((n) => !this.inputs.has(n));
    const badDims: string[] = [];
    for (const [name, feed] of Object.entries(feeds)) {
      const declared = this.inputs.get(name);
      if (declared === undefined) continue;
      const dims = feed.dims;
      const size = dims.reduce((a, b) => a * b, 1);
      const values = feed instanceof DeviceTensor ? size : feed.data.length;
      const fits = declared.length === 0 ||
        (declared.length === dims.length &&
          declared.every((d, i) => typeof d !== "number" || d === dims[i] || d < 0));
      if (!fits || size !== values) {
        badDims.push(`${name}: got [${dims}] (${values} values), expected [${declared}]`);
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
      ortFeeds[name] = f instanceof DeviceTensor
        ? f.tensor
        : new ort.Tensor(f.type, f.data, f.dims);
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
    const host: Record<string, Float32Array> = {};
    const device: Record<string, DeviceTensor> = {};
    for (const [name, tensor] of Object.entries(result)) {
      if (tensor.location === "gpu-buffer") device[name] = new DeviceTensor(tensor);
      else host[name] = tensor.data as Float32Array;
    }
    return { host, device };
  }

  /**
   * Copies float32 device tensors to the CPU, through a small identity session on this
   * session's provider (onnxruntime-node 1.30 aborts the process on `getData()` of a
   * `gpu-buffer` tensor, while feeding one to a session works).
   */
  async readDevice(tensors: Record<string, DeviceTensor>): Promise<Record<string, Float32Array>> {
    const names = Object.keys(tensors).sort();
    const key = names.map((n) => `${n}:${tensors[n].dims.length}`).join(",");
    let reader = this.#readers.get(key);
    if (reader === undefined) {
      const g = new GraphBuilder();
      for (const name of names) {
        const dims = tensors[name].dims.map((_, i) => `d${i}`);
        g.output(
          g.op1("Identity", [g.input(name, DT.FLOAT, dims)]),
          `read.${name}`,
          DT.FLOAT,
          dims,
        );
      }
      reader = ort.InferenceSession.create(g.encode({ "": 21 }, "read_device"), {
        executionProviders: [this.provider],
        logSeverityLevel: 3,
      });
      this.#readers.set(key, reader);
    }
    const feeds = Object.fromEntries(names.map((n) => [n, tensors[n].tensor]));
    const out = await (await reader).run(feeds);
    return Object.fromEntries(names.map((n) => [n, out[`read.${n}`].data as Float32Array]));
  }

  /** Ends profiling (sessions opened with `profilePrefix`): the profile file is written. */
  endProfiling(): void {
    this.#session.endProfiling();
  }

  /** Frees the session. */
  async release(): Promise<void> {
    for (const r of this.#readers.values()) await (await r.catch(() => undefined))?.release();
    this.#readers.clear();
    await this.#session.release();
  }
}

/**
 * onnxruntime's built-in telemetry library (Microsoft's 1DS SDK, inside libonnxruntime) creates
 * an empty `/tmp/mat-debug-<pid>.log` when the first session of a process opens and never
 * removes it. Once the file exists it is unlinked here when it is empty (the library keeps
 * writing to its open descriptor, if ever, and the bytes vanish with the process); a file with
 * anything in it is left for whoever wants to read it.
 */
function removeTelemetryLog(): void {
  if (telemetryLogChecked) return;
  telemetryLogChecked = true;
  const path = `/tmp/mat-debug-${Deno.pid}.log`;
  try {
    if (Deno.statSync(path).size === 0) Deno.removeSync(path);
  } catch { /* none (not Linux, or another build): nothing to remove */ }
}
let telemetryLogChecked = false;
