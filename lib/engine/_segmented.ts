/**
 * Mamba on the CPU as onnxruntime segments joined by the WebAssembly kernels: per layer,
 * onnxruntime runs layer i - 1's out_proj with the residual and layer i's norm and in_proj,
 * the conv kernel runs the causal conv with its SiLU, onnxruntime runs x_proj and dt_proj,
 * and the scan kernel runs the selective scan (softplus, recurrence, D term and the gate's
 * SiLU fused); then the head. Activations stay token-major, so nothing is transposed. Same
 * feeds and outputs as the one-graph model of `buildMambaGraph`.
 *
 * @module
 */

import type { MambaConfig } from "../model/config.ts";
import { SafetensorsCheckpoint } from "../model/safetensors.ts";
import type { Feed, OrtSession } from "../onnx/session.ts";
import type { WasmScan } from "../scan/wasm_scan.ts";

/** Per layer: A = -exp(A_log) and D (state axis padded to the kernel's width), the conv's weights. */
export interface ScanWeights {
  a: Float32Array[];
  d: Float32Array[];
  /** conv1d weights transposed to (K, d_in), and its bias (d_in; zeros when it has none). */
  convW: Float32Array[];
  convBias: Float32Array[];
}

/** `rows` rows of `from` values as rows of `to` values, zero-filled or cut (C order). */
function restride(src: Float32Array, rows: number, from: number, to: number): Float32Array {
  if (from === to) return src.slice(0, rows * to);
  const out = new Float32Array(rows * to);
  const width = Math.min(from, to);
  for (let r = 0; r < rows; r++) out.set(src.subarray(r * from, r * from + width), r * to);
  return out;
}

/** Reads A = -exp(A_log) (state axis padded to `nPad`), D and the conv of every layer. */
export async function readScanWeights(
  dir: string,
  config: MambaConfig,
  nPad: number,
): Promise<ScanWeights> {
  const { intermediateSize: dIn, stateSize: n, convKernel: k } = config;
  using ckpt = await SafetensorsCheckpoint.open(dir);
  const weights: ScanWeights = { a: [], d: [], convW: [], convBias: [] };
  for (let i = 0; i < config.numHiddenLayers; i++) {
    const p = `backbone.layers.${i}.mixer`;
    const aLog = await ckpt.readFloat32(`${p}.A_log`);
    weights.a.push(restride(aLog.map((x) => -Math.exp(x)), dIn, n, nPad));
    weights.d.push(await ckpt.readFloat32(`${p}.D`));
    const w = await ckpt.readFloat32(`${p}.conv1d.weight`); // (d_in, 1, K)
    const wt = new Float32Array(k * dIn);
    for (let c = 0; c < dIn; c++) for (let j = 0; j < k; j++) wt[j * dIn + c] = w[c * k + j];
    weights.convW.push(wt);
    weights.convBias.push(
      ckpt.tensors.has(`${p}.conv1d.bias`)
        ? await ckpt.readFloat32(`${p}.conv1d.bias`)
        : new Float32Array(dIn),
    );
  }
  return weights;
}

/** The segments of one model variant and the kernels that join them. */
export class SegmentedMamba {
  readonly #config: MambaConfig;
  /** Per layer: in_proj (`in.{i}`) and x_proj with dt_proj (`ssm.{i}`). */
  readonly #layers: { in: OrtSession; ssm: OrtSession }[];
  readonly #head: OrtSession;
  readonly #scan: WasmScan;
  readonly #weights: ScanWeights;
  /** onnxruntime's input and output buffers, reused across layers and runs. */
  #buffers: Record<string, Float32Array> = {};
  #rows = 0;

  constructor(
    config: MambaConfig,
    sessions: { layers: { in: OrtSession; ssm: OrtSession }[]; head: OrtSession },
    scan: WasmScan,
    weights: ScanWeights,
  ) {
    this.#config = config;
    this.#layers = sessions.layers;
    this.#head = sessions.head;
    this.#scan = scan;
    this.#weights = weights;
  }

  /**
   * Runs all layers and the head; outputs as the one-graph model names them. Runs that share
   * the kernels (of this engine's variants, or started at once) take turns.
   */
  run(feeds: Record<string, Feed>): Promise<Record<string, Float32Array>> {
    return this.#scan.exclusive(() => this.#run(feeds));
  }

  async #run(feeds: Record<string, Feed>): Promise<Record<string, Float32Array>> {
    const { intermediateSize: dIn, stateSize: n, convKernel: k, hiddenSize: d } = this.#config;
    const nPad = this.#scan.nPad;
    const [b, l] = feeds.input_ids.dims;
    const lengths = Array.from(feeds.lengths.data as BigInt64Array, Number);
    const base = { input_ids: feeds.input_ids, lengths: feeds.lengths };
    const out: Record<string, Float32Array> = {};
    const rows = b * l;
    if (rows !== this.#rows) {
      const sizes = { x: dIn, z: dIn, u: dIn, dt: dIn, B: nPad, C: nPad, h0: d, h1: d, y: dIn };
      this.#buffers = Object.fromEntries(
        Object.entries(sizes).map(([key, w]) => [key, new Float32Array(rows * w)]),
      );
      this.#rows = rows;
    }
    const buf = this.#buffers;
    const f = (data: Float32Array, width: number): Feed => ({
      type: "float32",
      data,
      dims: [rows, width],
    });
    const kb = this.#scan.buffers(b, l);
    kb.lens.set(lengths);
    let carry: Record<string, Feed> = {};
    for (let i = 0; i < this.#layers.length; i++) {
      const hidden = i % 2 ? buf.h1 : buf.h0;
      await this.#layers[i].in.run({ ...base, ...carry }, {
        hidden_out: f(hidden, d),
        x: f(buf.x, dIn),
        z: f(buf.z, dIn),
      });
      // The conv's window per row: the state (b, d_in, K) transposed, then the new inputs.
      const past = feeds[`past_conv.${i}`].data as Float32Array;
      for (let r = 0; r < b; r++) {
        const w0 = r * (k + l) * dIn;
        for (let c = 0; c < dIn; c++) {
          for (let j = 0; j < k; j++) kb.xw[w0 + j * dIn + c] = past[(r * dIn + c) * k + j];
        }
        kb.xw.set(buf.x.subarray(r * l * dIn, (r + 1) * l * dIn), w0 + k * dIn);
      }
      kb.convW.set(this.#weights.convW[i]);
      kb.convBias.set(this.#weights.convBias[i]);
      await this.#scan.conv(kb);
      // present_conv[r, c, j] = window[r, lengths[r] + j, c]
      const present = new Float32Array(b * dIn * k);
      for (let r = 0; r < b; r++) {
        const w0 = (r * (k + l) + lengths[r]) * dIn;
        for (let c = 0; c < dIn; c++) {
          for (let j = 0; j < k; j++) present[(r * dIn + c) * k + j] = kb.xw[w0 + j * dIn + c];
        }
      }
      out[`present_conv.${i}`] = present;
      buf.u.set(kb.u);
      await this.#layers[i].ssm.run({ ...base, u: f(buf.u, dIn) }, {
        dt: f(buf.dt, dIn),
        B: f(buf.B, nPad),
        C: f(buf.C, nPad),
      });
      kb.dt.set(buf.dt);
      kb.gate.set(buf.z);
      kb.b.set(buf.B);
      kb.c.set(buf.C);
      kb.a.set(this.#weights.a[i]);
      kb.d.set(this.#weights.d[i]);
      const pastSsm = feeds[`past_ssm.${i}`].data as Float32Array; // (b, d_in, n)
      kb.h.set(n === nPad ? pastSsm : restride(pastSsm, b * dIn, n, nPad));
      await this.#scan.scan(kb, { siluGate: true });
      out[`present_ssm.${i}`] = restride(kb.h, b * dIn, nPad, n);
      out[`delta_sum.${i}`] = kb.deltaSum.slice();
      buf.y.set(kb.y);
      carry = { hidden: f(hidden, d), scan_out: f(buf.y, dIn) };
    }
    out.logits = (await this.#head.run({ ...base, ...carry })).logits;
    return out;
  }
}
