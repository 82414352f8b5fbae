/**
 * Mamba on onnxruntime-node: the ONNX graph of `lib/onnx/mamba_graph.ts`, its weights read in
 * place from the checkpoint's safetensors files, run in chunks, one sequence or a batch of
 * sequences of different lengths, from any state.
 *
 * @module
 */

import { type MambaConfig, readMambaConfig } from "../model/config.ts";
import { SafetensorsCheckpoint } from "../model/safetensors.ts";
import { validateCheckpoint } from "../model/weights.ts";
import { buildMambaGraph } from "../onnx/mamba_graph.ts";
import { type Feed, OrtSession, type Provider } from "../onnx/session.ts";
import { SoupError } from "../util/errors.ts";
import { concat } from "../util/concat.ts";
import {
  type BatchOptions,
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
  /** Threads for one operator on the CPU. @default onnxruntime's choice */
  intraOpThreads?: number;
}

/** An {@link Engine} on onnxruntime-node. */
export class OnnxEngine implements Engine {
  readonly config: MambaConfig;
  readonly model: string;
  /** The folder that holds the safetensors files (links resolved). */
  readonly weightsDir: string;
  readonly #options: OnnxEngineOptions;
  readonly #tensors: SafetensorsCheckpoint["tensors"];
  readonly #locations: Map<string, string>;
  #sessions = new Map<boolean, Promise<OrtSession>>();
  #provider: string | undefined;

  private constructor(
    config: MambaConfig,
    model: string,
    weightsDir: string,
    tensors: SafetensorsCheckpoint["tensors"],
    locations: Map<string, string>,
    options: OnnxEngineOptions,
  ) {
    this.config = config;
    this.model = model;
    this.weightsDir = weightsDir;
    this.#tensors = tensors;
    this.#locations = locations;
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
    return new OnnxEngine(config, model, folders[0], ckpt.tensors, locations, options);
  }

  /** The implementation and the provider actually used (after the first run). */
  get name(): string {
    return `onnx-${this.#provider ?? this.#options.provider ?? "cpu"}`;
  }

  /**
   * The encoded ONNX model for one output variant. Its initializers are external data that
   * refer to the safetensors files in {@link OnnxEngine.weightsDir}, so it stays small.
   */
  modelBytes(allLogits: boolean): Uint8Array {
    return buildMambaGraph(this.config, this.#tensors, {
      allLogits,
      locationOf: (file) => this.#locations.get(file)!,
    });
  }

  #session(allLogits: boolean): Promise<OrtSession> {
    let s = this.#sessions.get(allLogits);
    if (s === undefined) {
      s = OrtSession.create(this.modelBytes(allLogits), {
        provider: this.#options.provider ?? "cpu",
        intraOpThreads: this.#options.intraOpThreads,
        externalDataFolder: this.weightsDir,
      });
      s.then((session) => (this.#provider = session.provider), () => {});
      this.#sessions.set(allLogits, s);
    }
    return s;
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
    const session = await this.#session(allLogits);
    const states = sequences.map((_, s) => {
      const st = options.states?.[s];
      if (st === undefined) return zeroState(c);
      if (st.conv.length !== nl * dIn * k || st.ssm.length !== nl * dIn * n) {
        throw new SoupError(
          `Cannot run the model: state ${s} holds conv ${st.conv.length} and ssm ${st.ssm.length} values, expected ${nl} x ${dIn} x ${k} and ${nl} x ${dIn} x ${n}`,
        );
      }
      return { conv: st.conv.slice(), ssm: st.ssm.slice(), decay: new Float32Array(nl * dIn) };
    });
    const logits = sequences.map((seq) => new Float32Array(allLogits ? seq.length * v : v));
    const chunk = Math.max(1, this.#options.chunkSize ?? 256);
    const longest = Math.max(...sequences.map((s) => s.length));
    for (let start = 0; start < longest; start += chunk) {
      const l = Math.min(chunk, longest - start);
      const ids = new BigInt64Array(b * l);
      const lengths = new BigInt64Array(b);
      for (let s = 0; s < b; s++) {
        const part = sequences[s].slice(start, start + l);
        lengths[s] = BigInt(part.length);
        for (let t = 0; t < part.length; t++) ids[s * l + t] = BigInt(part[t]);
      }
      const feeds: Record<string, Feed> = {
        input_ids: { type: "int64", data: ids, dims: [b, l] },
        lengths: { type: "int64", data: lengths, dims: [b] },
      };
      for (let i = 0; i < nl; i++) {
        feeds[`past_conv.${i}`] = {
          type: "float32",
          data: concat(states.map((st) => st.conv.subarray(i * dIn * k, (i + 1) * dIn * k))),
          dims: [b, dIn, k],
        };
        feeds[`past_ssm.${i}`] = {
          type: "float32",
          data: concat(states.map((st) => st.ssm.subarray(i * dIn * n, (i + 1) * dIn * n))),
          dims: [b, dIn, n],
        };
      }
      const out = await session.run(feeds);
      for (let s = 0; s < b; s++) {
        const len = Number(lengths[s]);
        if (len === 0) continue; // this sequence ended in an earlier chunk
        const st = states[s];
        for (let i = 0; i < nl; i++) {
          st.conv.set(
            out[`present_conv.${i}`].subarray(s * dIn * k, (s + 1) * dIn * k),
            i * dIn * k,
          );
          st.ssm.set(out[`present_ssm.${i}`].subarray(s * dIn * n, (s + 1) * dIn * n), i * dIn * n);
          const ds = out[`delta_sum.${i}`];
          for (let ch = 0; ch < dIn; ch++) st.decay[i * dIn + ch] += ds[s * dIn + ch];
        }
        if (allLogits) {
          logits[s].set(out.logits.subarray(s * l * v, (s * l + len) * v), start * v);
        } else if (start + len === sequences[s].length) {
          logits[s].set(out.logits.subarray(s * v, (s + 1) * v));
        }
      }
    }
    return states.map((state, s) => ({ logits: logits[s], state }));
  }

  async close(): Promise<void> {
    for (const s of this.#sessions.values()) await (await s.catch(() => undefined))?.release();
    this.#sessions.clear();
  }
}
