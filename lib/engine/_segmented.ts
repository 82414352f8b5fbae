/**
 * Mamba on the CPU as onnxruntime segments joined by the WebAssembly scan kernel: segment i
 * runs everything of layer i up to its selective scan (and layer i - 1's out_proj), the kernel
 * runs the scan (softplus, recurrence, D term and gate fused), and so on to the head. Same
 * feeds and outputs as the one-graph model of `buildMambaGraph`.
 *
 * @module
 */

import type { MambaConfig } from "../model/config.ts";
import { SafetensorsCheckpoint } from "../model/safetensors.ts";
import type { Feed, OrtSession } from "../onnx/session.ts";
import type { WasmScan } from "../scan/wasm_scan.ts";

/** Per layer: A = -exp(A_log) and D, state axis padded to the kernel's width. */
export interface ScanWeights {
  a: Float32Array[];
  d: Float32Array[];
}

/** `rows` rows of `from` values as rows of `to` values, zero-filled or cut (C order). */
function restride(src: Float32Array, rows: number, from: number, to: number): Float32Array {
  if (from === to) return src.slice(0, rows * to);
  const out = new Float32Array(rows * to);
  const width = Math.min(from, to);
  for (let r = 0; r < rows; r++) out.set(src.subarray(r * from, r * from + width), r * to);
  return out;
}

/** Reads A = -exp(A_log) (state axis padded to `nPad`) and D of every layer from `dir`. */
export async function readScanWeights(
  dir: string,
  config: MambaConfig,
  nPad: number,
): Promise<ScanWeights> {
  const { intermediateSize: dIn, stateSize: n } = config;
  using ckpt = await SafetensorsCheckpoint.open(dir);
  const weights: ScanWeights = { a: [], d: [] };
  for (let i = 0; i < config.numHiddenLayers; i++) {
    const aLog = await ckpt.readFloat32(`backbone.layers.${i}.mixer.A_log`);
    weights.a.push(restride(aLog.map((x) => -Math.exp(x)), dIn, n, nPad));
    weights.d.push(await ckpt.readFloat32(`backbone.layers.${i}.mixer.D`));
  }
  return weights;
}

/** The segments of one model variant and the kernel that joins them. */
export class SegmentedMamba {
  readonly #config: MambaConfig;
  readonly #layers: OrtSession[];
  readonly #head: OrtSession;
  readonly #scan: WasmScan;
  readonly #weights: ScanWeights;
  /** Output buffers reused across layers and runs (fresh ones cost page faults). */
  #buffers: Record<string, Float32Array> = {};
  #rows = 0;

  constructor(
    config: MambaConfig,
    sessions: { layers: OrtSession[]; head: OrtSession },
    scan: WasmScan,
    weights: ScanWeights,
  ) {
    this.#config = config;
    this.#layers = sessions.layers;
    this.#head = sessions.head;
    this.#scan = scan;
    this.#weights = weights;
  }

  /** Runs all layers and the head; outputs as the one-graph model names them. */
  async run(feeds: Record<string, Feed>): Promise<Record<string, Float32Array>> {
    const { intermediateSize: dIn, stateSize: n } = this.#config;
    const nPad = this.#scan.nPad;
    const [b, l] = feeds.input_ids.dims;
    const lengths = Array.from(feeds.lengths.data as BigInt64Array, Number);
    const base = { input_ids: feeds.input_ids, lengths: feeds.lengths };
    const out: Record<string, Float32Array> = {};
    let carry: Record<string, Feed> = {};
    const rows = b * l;
    const d = this.#config.hiddenSize;
    if (rows !== this.#rows) {
      const sizes = { u: dIn, dt: dIn, gate: dIn, B: nPad, C: nPad, h0: d, h1: d, y: dIn };
      this.#buffers = Object.fromEntries(
        Object.entries(sizes).map(([k, w]) => [k, new Float32Array(rows * w)]),
      );
      this.#rows = rows;
    }
    const buf = this.#buffers;
    const f = (data: Float32Array, width: number): Feed => ({
      type: "float32",
      data,
      dims: [rows, width],
    });
    for (let i = 0; i < this.#layers.length; i++) {
      const hidden = i % 2 ? buf.h1 : buf.h0;
      const seg = await this.#layers[i].run({
        ...base,
        ...carry,
        [`past_conv.${i}`]: feeds[`past_conv.${i}`],
      }, {
        u: f(buf.u, dIn),
        dt: f(buf.dt, dIn),
        gate: f(buf.gate, dIn),
        B: f(buf.B, nPad),
        C: f(buf.C, nPad),
        hidden_out: f(hidden, d),
      });
      out[`present_conv.${i}`] = seg[`present_conv.${i}`];
      const past = feeds[`past_ssm.${i}`].data as Float32Array; // (b, d_in, n)
      const res = await this.#scan.run({
        rows: b,
        tokens: l,
        lengths,
        dt: buf.dt,
        u: buf.u,
        gate: buf.gate,
        b: buf.B,
        c: buf.C,
        a: this.#weights.a[i],
        d: this.#weights.d[i],
        h: restride(past, b * dIn, n, nPad),
      });
      out[`present_ssm.${i}`] = restride(res.h, b * dIn, nPad, n);
      out[`delta_sum.${i}`] = res.deltaSum.slice();
      buf.y.set(res.y);
      carry = { hidden: f(hidden, d), scan_out: f(buf.y, dIn) };
    }
    out.logits = (await this.#head.run({ ...base, ...carry })).logits;
    return out;
  }
}
