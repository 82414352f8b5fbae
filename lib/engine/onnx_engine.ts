/**
 * Mamba on onnxruntime-node: the ONNX graph of `lib/onnx/mamba_graph.ts`, its weights read in
 * place from the checkpoint's safetensors files, run in chunks, one sequence or a batch of
 * sequences of different lengths, from any state.
 *
 * @module
 */

import { configHash, type MambaConfig, readMambaConfig } from "../model/config.ts";
import { SafetensorsCheckpoint } from "../model/safetensors.ts";
import { validateCheckpoint } from "../model/weights.ts";
import { buildMambaGraph, buildMambaSegments } from "../onnx/mamba_graph.ts";
import { type DeviceTensor, type Feed, OrtSession, type Provider } from "../onnx/session.ts";
import { describeAdapter, type GpuAdapterInfo, webgpuAdapter } from "../onnx/adapter.ts";
import { padState } from "../scan/scan_kernel.ts";
import { WasmScan } from "../scan/wasm_scan.ts";
import { readScanWeights, type ScanWeights, SegmentedMamba } from "./_segmented.ts";
import { SoupError } from "../util/errors.ts";
import { concat } from "../util/concat.ts";
import { checkStartState, State, type StateIdentity, stateShape } from "../states/state.ts";
import { weightsFingerprint } from "../model/fingerprint.ts";
import {
  type BatchOptions,
  countEngineCall,
  type Engine,
  type RunOptions,
  type RunResult,
  zeroState,
} from "./types.ts";

/** Options of {@link OnnxEngine.load}. */
export interface OnnxEngineOptions {
  /** Execution provider. @default "cpu" */
  provider?: Provider;
  /** Tokens per sequence in one session run; longer inputs are run in chunks. @default 256 */
  chunkSize?: number;
  /** Threads for one operator on the CPU, and for the scan kernel. @default all cores */
  intraOpThreads?: number;
  /**
   * How the selective scan runs on the CPU: `wasm`, the WebAssembly SIMD kernel between
   * onnxruntime segments of the model (fast), or `onnx`, onnxruntime's `LinearAttention`
   * inside one graph. GPU providers always run the one graph. @default "wasm"
   */
  cpuScan?: "wasm" | "onnx";
  /**
   * On WebGPU, keep the conv and SSM states in GPU memory between the chunks of one run
   * (onnxruntime's `gpu-buffer` outputs fed back as the next chunk's inputs) and copy them to
   * the CPU once at the end. @default true
   */
  statesOnDevice?: boolean;
  /**
   * `float16` runs the matrix products and the embedding in half precision with float16
   * weights, the rest in float32 (see `MambaGraphOptions.precision`). GPU providers only; on
   * WebGPU the adapter must have `shader-f16`. @default "float32"
   */
  precision?: "float32" | "float16";
}

/** Runs the model's feeds to its outputs: one onnxruntime session, or segments and the kernel. */
interface Runner {
  provider: string;
  /** The WebGPU adapter, on webgpu. */
  adapter?: GpuAdapterInfo;
  run(feeds: Record<string, Feed>): Promise<Record<string, Float32Array>>;
  /** The session, when it keeps `present_conv.*` and `present_ssm.*` in GPU memory. */
  chained?: OrtSession;
  release(): Promise<void>;
}

/** An {@link Engine} on onnxruntime-node. */
export class OnnxEngine implements Engine {
  readonly config: MambaConfig;
  readonly model: string;
  /** The checkpoint its states belong to. */
  readonly identity: StateIdentity;
  /** The folder that holds the safetensors files (links resolved). */
  readonly weightsDir: string;
  readonly #options: OnnxEngineOptions;
  readonly #tensors: SafetensorsCheckpoint["tensors"];
  readonly #locations: Map<string, string>;
  /** The checkpoint folder as given (its files are read again for the CPU scan's A and D). */
  readonly #dir: string;
  #runners = new Map<boolean, Promise<Runner>>();
  #segments = new Map<number, Promise<OrtSession>>();
  /** The scan kernel and the A and D it needs, made on first use of the CPU path. */
  #scan: Promise<{ scan: WasmScan; weights: ScanWeights }> | undefined;
  #provider: string | undefined;
  #adapter: GpuAdapterInfo | undefined;

  private constructor(
    config: MambaConfig,
    model: string,
    dir: string,
    weightsDir: string,
    tensors: SafetensorsCheckpoint["tensors"],
    locations: Map<string, string>,
    options: OnnxEngineOptions,
    identity: StateIdentity,
  ) {
    this.config = config;
    this.model = model;
    this.identity = identity;
    this.weightsDir = weightsDir;
    this.#tensors = tensors;
    this.#locations = locations;
    this.#dir = dir;
    this.#options = options;
  }

  /**
   * Prepares the engine for a checkpoint folder: validates the weights and plans the graph.
   * Sessions open on first use. The weights are read in place: the graph refers to byte ranges
   * of the safetensors files, which must all sit in one folder (after resolving links, as in
   * the Hugging Face cache).
   */
  static async load(
    dir: string,
    options: OnnxEngineOptions = {},
    model = dir,
  ): Promise<OnnxEngine> {
    const config = await readMambaConfig(dir);
    using ckpt = await SafetensorsCheckpoint.open(dir);
    validateCheckpoint(ckpt, config);
    const real = await Promise.all(ckpt.files.map((f) => Deno.realPath(f)));
    const folders = [...new Set(real.map((f) => f.slice(0, f.lastIndexOf("/"))))];
    if (folders.length !== 1) {
      throw new SoupError(
        `Cannot use "${dir}": its safetensors files lie in ${folders.length} folders (${
          folders.join(", ")
        }); onnxruntime reads external weights from one`,
        { file: dir },
      );
    }
    const locations = new Map(ckpt.files.map((f, i) => [f, real[i].slice(folders[0].length + 1)]));
    const identity = {
      configHash: await configHash(config),
      weights: await weightsFingerprint(dir),
      model,
    };
    return new OnnxEngine(
      config,
      model,
      dir,
      folders[0],
      ckpt.tensors,
      locations,
      options,
      identity,
    );
  }

  /**
   * The implementation and its provider, with "-float16" when the matrix products run in half
   * precision.
   */
  get name(): string {
    const half = this.#options.precision === "float16" ? "-float16" : "";
    return `onnx-${this.#provider ?? this.#options.provider ?? "cpu"}${half}`;
  }

  /** The WebGPU adapter used (after the first run on webgpu, as for `name`), else undefined. */
  get adapter(): GpuAdapterInfo | undefined {
    return this.#adapter;
  }

  /**
   * The encoded ONNX model for one output variant. Its initializers are external data that
   * refer to the safetensors files in {@link OnnxEngine.weightsDir}, so it stays small.
   */
  modelBytes(allLogits: boolean): Uint8Array {
    return buildMambaGraph(this.config, this.#tensors, {
      allLogits,
      locationOf: (file) => this.#locations.get(file)!,
      precision: this.#options.precision,
    });
  }

  /**
   * The encoded segments of the model cut at every scan (the CPU path with the WebAssembly
   * kernel): L layer segments and the head for this output variant.
   */
  segmentBytes(allLogits: boolean): Uint8Array[] {
    return buildMambaSegments(this.config, this.#tensors, {
      allLogits,
      locationOf: (file) => this.#locations.get(file)!,
      statePad: padState(this.config.stateSize),
    });
  }

  #open(
    model: Uint8Array,
    provider: Provider,
    spin = true,
    deviceOutputs: string[] = [],
  ): Promise<OrtSession> {
    return OrtSession.create(model, {
      provider,
      intraOpThreads: this.#options.intraOpThreads,
      externalDataFolder: this.weightsDir,
      allowSpinning: spin,
      deviceOutputs,
    });
  }

  /** One graph on `provider`, LinearAttention as the scan. */
  async #oneGraph(allLogits: boolean, provider: Provider): Promise<Runner> {
    if (this.#options.precision === "float16" && provider === "webgpu") {
      const adapter = await webgpuAdapter();
      if (adapter !== undefined && !adapter.shaderF16) {
        throw new SoupError(
          `Cannot run in float16 on ${describeAdapter(adapter)}: it has no shader-f16`,
        );
      }
    }
    const nl = this.config.numHiddenLayers;
    const states = (this.#options.statesOnDevice ?? true)
      ? Array.from({ length: nl }, (_, i) => [`present_conv.${i}`, `present_ssm.${i}`]).flat()
      : [];
    const session = await this.#open(this.modelBytes(allLogits), provider, true, states);
    return {
      provider: session.provider,
      adapter: session.adapter,
      run: (feeds) => session.run(feeds),
      chained: session.deviceOutputs.size > 0 ? session : undefined,
      release: () => session.release(),
    };
  }

  /** Segments on the CPU joined by the WebAssembly scan; layer segments shared by variants. */
  async #segmented(allLogits: boolean): Promise<Runner> {
    if (this.#options.precision === "float16") {
      throw new SoupError(
        "Cannot run in float16 on the CPU: half precision is for GPU providers (webgpu with " +
          "shader-f16, or cuda)",
      );
    }
    const bytes = this.segmentBytes(allLogits);
    const nl = this.config.numHiddenLayers;
    const segment = (key: number, i: number) => {
      let s = this.#segments.get(key);
      if (s === undefined) {
        s = this.#open(bytes[i], "cpu", false);
        this.#segments.set(key, s);
      }
      return s;
    };
    const layers = await Promise.all(
      Array.from({ length: nl }, async (_, i) => ({
        in: await segment(2 * i, 2 * i),
        ssm: await segment(2 * i + 1, 2 * i + 1),
      })),
    );
    const head = await segment(allLogits ? -2 : -1, 2 * nl);
    this.#scan ??= (async () => {
      const scan = await WasmScan.create(this.config.intermediateSize, this.config.stateSize, {
        threads: this.#options.intraOpThreads,
        convKernel: this.config.convKernel,
      });
      try {
        return { scan, weights: await readScanWeights(this.#dir, this.config, scan.nPad) };
      } catch (err) {
        scan.close();
        throw err;
      }
    })();
    const { scan, weights } = await this.#scan;
    const model = new SegmentedMamba(this.config, { layers, head }, scan, weights);
    return { provider: "cpu", run: (feeds) => model.run(feeds), release: async () => {} };
  }

  #runner(allLogits: boolean): Promise<Runner> {
    let r = this.#runners.get(allLogits);
    if (r === undefined) {
      const provider = this.#options.provider ?? "cpu";
      const wasm = (this.#options.cpuScan ?? "wasm") === "wasm";
      r = (async () => {
        if (this.#options.precision === "float16" && provider === "cpu") {
          throw new SoupError(
            "Cannot run in float16 on the CPU: half precision is for GPU providers (webgpu " +
              "with shader-f16, or cuda)",
          );
        }
        if (!wasm || provider !== "cpu") return await this.#oneGraph(allLogits, provider);
        return await this.#segmented(allLogits);
      })();
      r.then((runner) => {
        this.#provider = runner.provider;
        this.#adapter = runner.adapter;
      }, () => {});
      this.#runners.set(allLogits, r);
    }
    return r;
  }

  async run(ids: readonly number[], options: RunOptions = {}): Promise<RunResult> {
    const [result] = await this.runBatch([ids], {
      states: [options.state],
      allLogits: options.allLogits,
    });
    return result;
  }

  /**
   * Reads several sequences at once, each from its own state; gives exactly what each
   * sequence gives alone (shorter rows are right-padded and masked).
   */
  async runBatch(
    sequences: readonly (readonly number[])[],
    options: BatchOptions = {},
  ): Promise<RunResult[]> {
    const started = performance.now();
    const out = await this.#runBatch(sequences, options);
    countEngineCall(sequences, options.allLogits ?? false, started);
    return out;
  }

  async #runBatch(
    sequences: readonly (readonly number[])[],
    options: BatchOptions,
  ): Promise<RunResult[]> {
    const c = this.config;
    const { numHiddenLayers: nl, intermediateSize: dIn, convKernel: k, stateSize: n } = c;
    const v = c.vocabSize;
    const b = sequences.length;
    if (b === 0) return [];
    for (const [s, seq] of sequences.entries()) {
      if (seq.length === 0) throw new SoupError(`Cannot run the model: sequence ${s} is empty`);
      for (const [i, id] of seq.entries()) {
        if (!Number.isInteger(id) || id < 0 || id >= v) {
          throw new SoupError(
            `Cannot run the model: token ${i} of sequence ${s} is ${id}, outside 0..${v - 1}`,
          );
        }
      }
    }
    const allLogits = options.allLogits ?? false;
    const session = await this.#runner(allLogits);
    const shape = stateShape(c);
    const states = sequences.map((_, s) => {
      const st = options.states?.[s];
      if (st === undefined) return zeroState(c, this.identity);
      checkStartState(st, shape, this.identity, s);
      return new State(shape, {
        conv: st.conv.slice(),
        ssm: st.ssm.slice(),
        deltaSum: new Float32Array(nl * dIn),
      }, { identity: this.identity });
    });
    const logits = sequences.map((seq) => new Float32Array(allLogits ? seq.length * v : v));
    const chunk = Math.max(1, this.#options.chunkSize ?? 256);
    const longest = Math.max(...sequences.map((s) => s.length));
    // On the GPU the states of one chunk feed the next without leaving GPU memory; a row whose
    // sequence has ended reads no tokens (length 0), which leaves its state unchanged.
    const chained = session.chained;
    /** Copies row `s` of the `present_*` outputs into a sequence's state. */
    const takeStates = (out: Record<string, Float32Array>, s: number, st: State) => {
      for (let i = 0; i < nl; i++) {
        st.conv.set(out[`present_conv.${i}`].subarray(s * dIn * k, (s + 1) * dIn * k), i * dIn * k);
        st.ssm.set(out[`present_ssm.${i}`].subarray(s * dIn * n, (s + 1) * dIn * n), i * dIn * n);
      }
    };
    let held: Record<string, DeviceTensor> | undefined;
    try {
      for (let start = 0; start < longest; start += chunk) {
        const l = Math.min(chunk, longest - start);
        const ids = new BigInt64Array(b * l);
        const lengths = new BigInt64Array(b);
        for (let s = 0; s < b; s++) {
          const part = sequences[s].slice(start, start + l);
          lengths[s] = BigInt(part.length);
          for (let t = 0; t < part.length; t++) ids[s * l + t] = BigInt(part[t]);
        }
        const feeds: Record<string, Feed | DeviceTensor> = {
          input_ids: { type: "int64", data: ids, dims: [b, l] },
          lengths: { type: "int64", data: lengths, dims: [b] },
        };
        for (let i = 0; i < nl; i++) {
          feeds[`past_conv.${i}`] = held?.[`present_conv.${i}`] ?? {
            type: "float32",
            data: concat(states.map((st) => st.conv.subarray(i * dIn * k, (i + 1) * dIn * k))),
            dims: [b, dIn, k],
          };
          feeds[`past_ssm.${i}`] = held?.[`present_ssm.${i}`] ?? {
            type: "float32",
            data: concat(states.map((st) => st.ssm.subarray(i * dIn * n, (i + 1) * dIn * n))),
            dims: [b, dIn, n],
          };
        }
        let out: Record<string, Float32Array>;
        if (chained) {
          const r = await chained.runDevice(feeds);
          for (const t of Object.values(held ?? {})) t.dispose();
          const off = [...chained.deviceOutputs].filter((name) => !(name in r.device));
          if (off.length > 0) {
            for (const t of Object.values(r.device)) t.dispose();
            held = undefined;
            throw new SoupError(
              `Cannot keep states on the GPU: onnxruntime returned ${off.join(", ")} on the CPU ` +
                `(run with statesOnDevice: false)`,
            );
          }
          held = r.device;
          out = r.host;
        } else {
          out = await session.run(feeds as Record<string, Feed>);
        }
        for (let s = 0; s < b; s++) {
          const len = Number(lengths[s]);
          if (len === 0) continue; // this sequence ended in an earlier chunk
          const st = states[s];
          if (!chained) takeStates(out, s, st);
          for (let i = 0; i < nl; i++) {
            const ds = out[`delta_sum.${i}`];
            for (let ch = 0; ch < dIn; ch++) st.deltaSum[i * dIn + ch] += ds[s * dIn + ch];
          }
          if (allLogits) {
            logits[s].set(out.logits.subarray(s * l * v, (s * l + len) * v), start * v);
          } else if (start + len === sequences[s].length) {
            logits[s].set(out.logits.subarray(s * v, (s + 1) * v));
          }
        }
      }
      if (chained && held) {
        const read = await chained.readDevice(held);
        for (const [s, st] of states.entries()) takeStates(read, s, st);
      }
    } finally {
      for (const t of Object.values(held ?? {})) t.dispose();
    }
    return states.map((state, s) => ({ logits: logits[s], state }));
  }

  async close(): Promise<void> {
    for (const r of this.#runners.values()) await (await r.catch(() => undefined))?.release();
    for (const s of this.#segments.values()) await (await s.catch(() => undefined))?.release();
    (await this.#scan?.catch(() => undefined))?.scan.close();
    this.#runners.clear();
    this.#segments.clear();
    this.#scan = undefined;
  }
}
