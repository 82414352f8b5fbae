/**
 * A plain TypeScript forward pass of Hugging Face's `MambaForCausalLM`, token by token in
 * float64: slow and obviously correct. It is the yardstick for the ONNX engine.
 *
 * Glossary of dimension letters (paper notation in brackets):
 * - l: tokens processed, V: vocabulary rows, L: layers
 * - d: model width (D), d_in: inner width (E*D), n: state size per channel (N)
 * - K: conv kernel width, r: rank of the delta projection (dt_rank)
 *
 * States have HF's `cache_params` meaning: the conv state of a layer is (d_in, K), the last K
 * pre-conv inputs, oldest first; the SSM state is (d_in, n). Layers are stacked first, so the
 * flat arrays are (L, d_in, K) and (L, d_in, n) in C order, exactly the `conv.npy` and
 * `ssm.npy` layout.
 *
 * Each step mirrors HF's `MambaMixer.slow_forward` decoding path:
 * x = RMSNorm(h) w; (x, z) = in_proj x; conv state rolls left and takes x; x = SiLU(conv);
 * (dt, B, C) = x_proj x; delta = softplus(dt_proj dt + bias); A = -exp(A_log);
 * s = exp(delta A) s + delta B x; y = C.s + D x; y = y SiLU(z); h = h + out_proj y.
 *
 * @module
 */

import { SoupError } from "../util/errors.ts";
import type { MambaWeights } from "./weights.ts";

/** Options of {@link referenceForward}. */
export interface ReferenceOptions {
  /** Initial conv states (L, d_in, K), flat. @default zeros */
  conv?: ArrayLike<number>;
  /** Initial SSM states (L, d_in, n), flat. @default zeros */
  ssm?: ArrayLike<number>;
  /** Return logits for every position (l, V) instead of only the last (V). @default true */
  allLogits?: boolean;
}

/** Everything {@link referenceForward} computes. */
export interface ReferenceOutput {
  /** Logits, (l, V) or (V) for the last position only; float64. */
  logits: Float64Array;
  /** Final conv states (L, d_in, K). */
  conv: Float64Array;
  /** Final SSM states (L, d_in, n). */
  ssm: Float64Array;
  /**
   * Per layer and channel, the sum over processed tokens of the step size delta, (L, d_in).
   * The product of the decays over the tokens is exp(A * deltaSum).
   */
  deltaSum: Float64Array;
}

const silu = (x: number) => x / (1 + Math.exp(-x));
// torch.nn.functional.softplus with its default threshold 20.
const softplus = (x: number) => (x > 20 ? x : Math.log1p(Math.exp(x)));

/** out (rows) = W (rows, cols) . x (cols) [+ bias]. */
function matVec(
  w: Float32Array,
  x: ArrayLike<number>,
  rows: number,
  cols: number,
  bias?: Float32Array,
  rowStart = 0,
): Float64Array {
  const out = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    let s = bias ? bias[rowStart + i] : 0;
    const base = (rowStart + i) * cols;
    for (let j = 0; j < cols; j++) s += w[base + j] * x[j];
    out[i] = s;
  }
  return out;
}

/** RMSNorm: x / sqrt(mean(x^2) + eps) * w. */
function rmsNorm(x: Float64Array, w: Float32Array, eps: number): Float64Array {
  let ms = 0;
  for (let i = 0; i < x.length; i++) ms += x[i] * x[i];
  const scale = 1 / Math.sqrt(ms / x.length + eps);
  const out = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = x[i] * scale * w[i];
  return out;
}

/**
 * Runs token ids through the model from the given (or zero) states.
 *
 * @example
 * ```ts
 * import { referenceForward } from "./reference_forward.ts";
 * import { randomMambaTensors, tinyMambaConfig } from "./random_checkpoint.ts";
 * import { weightsFromTensors } from "./weights.ts";
 * const config = tinyMambaConfig();
 * const w = weightsFromTensors(config, randomMambaTensors(config, 3));
 * const all = referenceForward(w, [1, 2, 3, 4]);
 * const a = referenceForward(w, [1, 2]);
 * const b = referenceForward(w, [3, 4], { conv: a.conv, ssm: a.ssm });
 * const diff = Math.abs(all.logits[3 * 64 + 5] - b.logits[64 + 5]);
 * if (diff > 1e-12) throw new Error("resuming from a state equals one pass");
 * ```
 */
export function referenceForward(
  weights: MambaWeights,
  ids: readonly number[],
  options: ReferenceOptions = {},
): ReferenceOutput {
  const c = weights.config;
  const { hiddenSize: d, intermediateSize: dIn, stateSize: n, convKernel: k } = c;
  const { timeStepRank: r, vocabSize: v, numHiddenLayers: nl, layerNormEpsilon: eps } = c;
  for (const [i, id] of ids.entries()) {
    if (!Number.isInteger(id) || id < 0 || id >= v) {
      throw new SoupError(`Cannot run the model: token ${i} is ${id}, outside 0..${v - 1}`);
    }
  }
  const conv = new Float64Array(nl * dIn * k);
  const ssm = new Float64Array(nl * dIn * n);
  if (options.conv !== undefined) {
    if (options.conv.length !== conv.length) {
      throw new SoupError(
        `Cannot run the model: conv state holds ${options.conv.length} values, expected ${nl} x ${dIn} x ${k}`,
      );
    }
    conv.set(options.conv);
  }
  if (options.ssm !== undefined) {
    if (options.ssm.length !== ssm.length) {
      throw new SoupError(
        `Cannot run the model: ssm state holds ${options.ssm.length} values, expected ${nl} x ${dIn} x ${n}`,
      );
    }
    ssm.set(options.ssm);
  }
  const allLogits = options.allLogits ?? true;
  const logits = new Float64Array(allLogits ? ids.length * v : v);
  const deltaSum = new Float64Array(nl * dIn);
  // A = -exp(A_log) per layer, (d_in, n).
  const aMats = weights.layers.map((lw) => Float64Array.from(lw.aLog, (x) => -Math.exp(x)));

  for (const [t, id] of ids.entries()) {
    const h = Float64Array.from(weights.embeddings.subarray(id * d, (id + 1) * d)); // (d)
    for (let li = 0; li < nl; li++) {
      const lw = weights.layers[li];
      const xn = rmsNorm(h, lw.norm, eps); // (d)
      const xs = matVec(lw.inProj, xn, dIn, d, lw.inProjBias, 0); // (d_in)
      const z = matVec(lw.inProj, xn, dIn, d, lw.inProjBias, dIn); // (d_in)
      const u = new Float64Array(dIn); // (d_in) after conv and SiLU
      for (let ch = 0; ch < dIn; ch++) {
        const base = (li * dIn + ch) * k;
        for (let j = 0; j < k - 1; j++) conv[base + j] = conv[base + j + 1]; // roll left
        conv[base + k - 1] = xs[ch];
        let s = lw.convBias ? lw.convBias[ch] : 0;
        for (let j = 0; j < k; j++) s += lw.conv[ch * k + j] * conv[base + j];
        u[ch] = silu(s);
      }
      const xdbl = matVec(lw.xProj, u, r + 2 * n, dIn); // (r + 2n): dt, B, C
      const y = new Float64Array(dIn);
      for (let ch = 0; ch < dIn; ch++) {
        let pre = lw.dtProjBias[ch];
        for (let j = 0; j < r; j++) pre += lw.dtProj[ch * r + j] * xdbl[j];
        const delta = softplus(pre);
        deltaSum[li * dIn + ch] += delta;
        let acc = 0;
        for (let j = 0; j < n; j++) {
          const idx = (li * dIn + ch) * n + j;
          ssm[idx] = Math.exp(delta * aMats[li][ch * n + j]) * ssm[idx] +
            delta * xdbl[r + j] * u[ch];
          acc += xdbl[r + n + j] * ssm[idx];
        }
        y[ch] = (acc + lw.d[ch] * u[ch]) * silu(z[ch]);
      }
      const out = matVec(lw.outProj, y, d, dIn, lw.outProjBias); // (d)
      for (let i = 0; i < d; i++) h[i] += out[i];
    }
    if (allLogits || t === ids.length - 1) {
      const hn = rmsNorm(h, weights.normF, eps);
      logits.set(matVec(weights.lmHead, hn, v, d), allLogits ? t * v : 0);
    }
  }
  return { logits, conv, ssm, deltaSum };
}
