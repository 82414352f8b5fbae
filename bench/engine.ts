/**
 * Prefill speed of the ONNX engine on the CPU for a mamba-130m-shaped random checkpoint
 * (24 layers, d 768, d_in 1536, n 16, vocab 50280), next to onnxruntime's own large-MatMul
 * rate measured in the same run: the fraction of that roofline the engine reaches, for the
 * default CPU path (the WebAssembly scan kernel between onnxruntime segments) and for the one
 * graph whose scan is onnxruntime's LinearAttention. Times are medians of 5 (3) runs.
 *
 * @module
 */

import {
  type MambaConfig,
  readMambaConfig,
  tinyMambaConfig,
  writeRandomCheckpoint,
} from "../lib/model/mod.ts";
import { BUNDLED_MODELS } from "../lib/hub/mod.ts";
import { OnnxEngine } from "../lib/engine/mod.ts";
import { DT, GraphBuilder } from "../lib/onnx/graph_builder.ts";
import { OrtSession } from "../lib/onnx/session.ts";
import { time } from "./_time.ts";

/**
 * GFLOP/s of onnxruntime's CPU MatMul on large float32 products: a chain of `pairs` times
 * (m, k) x (k, n) then (m, n) x (n, k), reduced to one number so that copying results out of
 * onnxruntime does not count.
 */
export async function matmulRoofline(m = 2048, k = 768, n = 3072, pairs = 4): Promise<number> {
  const g = new GraphBuilder();
  let x = g.input("a", DT.FLOAT, [m, k]);
  const scale = 1 / Math.sqrt(k * n);
  const w1 = g.floats(
    Float32Array.from({ length: k * n }, (_, i) => (((i * 7919) % 1000) / 500 - 1) * scale),
    [k, n],
  );
  const w2 = g.floats(
    Float32Array.from({ length: n * k }, (_, i) => (((i * 104729) % 1000) / 500 - 1) * scale),
    [n, k],
  );
  for (let p = 0; p < pairs; p++) x = g.op1("MatMul", [g.op1("MatMul", [x, w1]), w2]);
  g.output(g.op1("ReduceSum", [x], { keepdims: 0 }), "y", DT.FLOAT, []);
  const session = await OrtSession.create(g.encode({ "": 21 }));
  const data = Float32Array.from({ length: m * k }, (_, i) => ((i * 104729) % 1000) / 1000 - 0.5);
  const seconds = await time(() => session.run({ a: { type: "float32", data, dims: [m, k] } }), 5);
  await session.release();
  return (pairs * 2 * 2 * m * k * n) / seconds / 1e9;
}

const SCAN_NAMES = {
  wasm: "WebAssembly scan (default)",
  onnx: "onnxruntime LinearAttention",
};

/** `batch` prompts of `length` token ids spread over the tokenizer's ids (fixed, no RNG). */
export function promptIds(batch: number, length: number): number[][] {
  return Array.from(
    { length: batch },
    (_, s) => Array.from({ length }, (_, t) => (s * 131 + t * 7919) % 50277),
  );
}

/** Multiply-adds of the matrix products per token (all layers), the bulk of the work. */
export function flopsPerToken(
  d: number,
  dIn: number,
  n: number,
  r: number,
  layers: number,
): number {
  return 2 * layers * (d * 2 * dIn + dIn * (r + 2 * n) + r * dIn + dIn * d);
}

/** mamba-130m's shape (24 layers, d 768, d_in 1536, n 16, dt rank 48, vocab 50280). */
export const MAMBA_130M_SHAPE: MambaConfig = tinyMambaConfig({
  hiddenSize: 768,
  intermediateSize: 1536,
  stateSize: 16,
  timeStepRank: 48,
  numHiddenLayers: 24,
  vocabSize: 50280,
});

/** {@link flopsPerToken} of a config. */
export function flopsPerTokenOf(c: MambaConfig): number {
  return flopsPerToken(
    c.hiddenSize,
    c.intermediateSize,
    c.stateSize,
    c.timeStepRank,
    c.numHiddenLayers,
  );
}

export async function benchEngine(): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "soup-bench-" });
  try {
    const config = MAMBA_130M_SHAPE;
    console.log("writing a mamba-130m-shaped random checkpoint ...");
    await writeRandomCheckpoint(dir, config, { seed: 0 });
    const roofline = await matmulRoofline();
    console.log(
      `onnxruntime CPU MatMul 2048x768 @ 768x3072: ${roofline.toFixed(1)} GFLOP/s (roofline)`,
    );
    const perToken = flopsPerTokenOf(config);
    const rate = new Map<string, number>();
    for (const [batch, length] of [[1, 256], [8, 256], [32, 64]]) {
      const seqs = promptIds(batch, length);
      const tokens = batch * length;
      for (const cpuScan of ["wasm", "onnx"] as const) {
        const engine = await OnnxEngine.load(dir, { chunkSize: length, cpuScan });
        const seconds = await time(() => engine.runBatch(seqs), cpuScan === "wasm" ? 5 : 3);
        await engine.close();
        const gflops = (tokens * perToken) / seconds / 1e9;
        rate.set(`${batch}x${length} ${cpuScan}`, tokens / seconds);
        console.log(
          `prefill batch ${batch} x ${length} tokens, ${SCAN_NAMES[cpuScan]}: ` +
            `${(tokens / seconds).toFixed(0)} tokens/s, ${gflops.toFixed(1)} GFLOP/s = ${
              (100 * gflops / roofline).toFixed(0)
            }% of the MatMul roofline`,
        );
      }
      const speedup = rate.get(`${batch}x${length} wasm`)! / rate.get(`${batch}x${length} onnx`)!;
      console.log(`  WebAssembly scan / LinearAttention: ${speedup.toFixed(2)}x`);
    }
    await benchOrganism(roofline);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * The model organism shipped in data/models/organism (4 layers, d 256): CPU prefill next to the
 * MatMul roofline measured in the same run. Its matrix products are small (d 256), so the
 * fraction of the roofline is lower than for mamba-130m; the head is not counted (prefill
 * computes the last position's logits only).
 */
async function benchOrganism(roofline: number): Promise<void> {
  const dir = BUNDLED_MODELS.organism;
  const config = await readMambaConfig(dir);
  const perToken = flopsPerTokenOf(config);
  for (const [batch, length] of [[1, 256], [8, 256]]) {
    const seqs = promptIds(batch, length);
    const tokens = batch * length;
    const engine = await OnnxEngine.load(dir, { chunkSize: length });
    const seconds = await time(() => engine.runBatch(seqs), 5);
    await engine.close();
    const gflops = (tokens * perToken) / seconds / 1e9;
    console.log(
      `organism prefill batch ${batch} x ${length} tokens (CPU, WebAssembly scan): ` +
        `${(tokens / seconds).toFixed(0)} tokens/s, ${gflops.toFixed(1)} GFLOP/s = ${
          (100 * gflops / roofline).toFixed(0)
        }% of the MatMul roofline`,
    );
  }
}

if (import.meta.main) await benchEngine();
