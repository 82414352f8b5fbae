/**
 * Mamba-1 (`MambaForCausalLM`) as an ONNX graph, read top-down: rms norm, mixer, block, model.
 * Weights are ONNX external data pointing straight into the checkpoint's safetensors files;
 * F16/BF16 weights are cast to float32 inside the graph.
 *
 * Dimension letters (paper notation in brackets):
 * - b: batch, l: tokens in this call, V: vocabulary rows, L: layers
 * - d: model width (D), d_in: inner width (E*D), n: state size (N), K: conv width, r: dt_rank
 *
 * Inputs: `input_ids` (b, l) int64; `lengths` (b) int64, the real tokens of each row (the rest
 * is right padding, which changes no state); per layer `past_conv.{i}` (b, d_in, K) and
 * `past_ssm.{i}` (b, d_in, n), HF `cache_params` meaning.
 * Outputs: `logits` (b, V) after each row's last real token, or (b, l, V) for every position;
 * per layer `present_conv.{i}`, `present_ssm.{i}` and `delta_sum.{i}` (b, d_in), the sum of
 * delta over the real tokens (the A-decay factor is exp(A * delta_sum)).
 *
 * The selective scan is onnxruntime's `com.microsoft` `LinearAttention` with the gated rule,
 * one value head per channel and one key head (B) shared by all of them, as grouped-query
 * attention shares keys: state S_c (n, 1) <- exp(delta_c A_c) S_c + B (delta_c x_c), and
 * y_c = C . S_c, which is Mamba's h <- exp(delta A) h + delta B x, y = C h.
 *
 * @module
 */

import type { MambaConfig } from "../model/config.ts";
import type { TensorInfo } from "../model/safetensors.ts";
import { DT, float, GraphBuilder } from "./graph_builder.ts";

/** Options of {@link buildMambaGraph}. */
export interface MambaGraphOptions {
  /** Emit logits for every position (b, l, V) instead of the last real one (b, V). */
  allLogits: boolean;
  /** Name under which each safetensors file sits beside the model file. */
  locationOf: (file: string) => string;
}

const ONNX_TYPE = { F32: DT.FLOAT, F16: DT.FLOAT16, BF16: DT.BFLOAT16 } as Record<string, number>;

/** Builds the encoded ONNX model. `tensors` are the checkpoint's tensors by HF name. */
export function buildMambaGraph(
  config: MambaConfig,
  tensors: ReadonlyMap<string, TensorInfo>,
  options: MambaGraphOptions,
): Uint8Array {
  const g = new GraphBuilder();
  const { hiddenSize: d, intermediateSize: dIn, stateSize: n, convKernel: k } = config;
  const { timeStepRank: r, vocabSize: v, numHiddenLayers: nl, layerNormEpsilon: eps } = config;

  /** A weight as float32, straight from the safetensors file. */
  const weight = (name: string): string => {
    const t = tensors.get(name);
    if (t === undefined) throw new Error(`tensor "${name}" is missing`);
    const type = ONNX_TYPE[t.dtype];
    if (type === undefined) throw new Error(`tensor "${name}" has unsupported dtype ${t.dtype}`);
    const ext = g.external(name, type, t.shape, options.locationOf(t.file), t.offset, t.byteLength);
    return type === DT.FLOAT ? ext : g.op1("Cast", [ext], { to: DT.FLOAT });
  };
  const optionalWeight = (name: string) => (tensors.has(name) ? weight(name) : "");

  // Inputs.
  const ids = g.input("input_ids", DT.INT64, ["batch", "sequence"]);
  const lengths = g.input("lengths", DT.INT64, ["batch"]);
  const idsShape = g.op1("Shape", [ids]); // [b, l]
  const shapeBy = (...tail: number[]) => g.op1("Concat", [idsShape, g.int64s(tail)], { axis: 0 });
  // mask (b*l, 1): 1 for real tokens, 0 for right padding.
  const seqLen = g.op1("Gather", [idsShape, g.int64s([1], [])], { axis: 0 }); // l
  const positions = g.op1("Range", [g.int64s([0], []), seqLen, g.int64s([1], [])]); // (l)
  const lengthsCol = g.op1("Unsqueeze", [lengths, g.int64s([1])]); // (b, 1)
  const isReal = g.op1("Less", [g.op1("Unsqueeze", [positions, g.int64s([0])]), lengthsCol]);
  const mask = g.op1("Reshape", [g.op1("Cast", [isReal], { to: DT.FLOAT }), g.int64s([-1, 1])]);

  /** RMSNorm, HF `MambaRMSNorm`: x / sqrt(mean(x^2) + eps) * w. (rows, d) -> (rows, d) */
  const rmsNorm = (x: string, w: string) =>
    g.op1("SimplifiedLayerNormalization", [x, w], { axis: -1, epsilon: float(eps) });
  const silu = (x: string) => g.op1("Mul", [x, g.op1("Sigmoid", [x])]);
  /** x (rows, in) W^T (in -> out) [+ bias], with W stored (out, in) as in PyTorch. */
  const linear = (x: string, w: string, bias = "") =>
    g.op1("Gemm", bias ? [x, w, bias] : [x, w], { transB: 1 });

  /** HF `MambaMixer.slow_forward` on (b*l, d) rows; returns (b*l, d). */
  const mixer = (i: number, hs: string): string => {
    const p = `backbone.layers.${i}.mixer`;
    const pastConv = g.input(`past_conv.${i}`, DT.FLOAT, ["batch", dIn, k]);
    const pastSsm = g.input(`past_ssm.${i}`, DT.FLOAT, ["batch", dIn, n]);
    const xz = linear(hs, weight(`${p}.in_proj.weight`), optionalWeight(`${p}.in_proj.bias`)); // (b*l, 2 d_in)
    const [x, z] = g.op("Split", [xz, g.int64s([dIn, dIn])], { axis: 1 }, { count: 2 }); // (b*l, d_in) x2

    // Causal depthwise conv over [past K inputs | new inputs]; the state is the last K inputs.
    const xT = g.op1("Transpose", [g.op1("Reshape", [x, shapeBy(dIn)])], { perm: [0, 2, 1] }); // (b, d_in, l)
    const window = g.op1("Concat", [pastConv, xT], { axis: 2 }); // (b, d_in, K + l)
    const convIn = g.op1("Slice", [window, g.int64s([1]), g.int64s([2 ** 62]), g.int64s([2])]); // (b, d_in, K-1+l)
    const convW = weight(`${p}.conv1d.weight`); // (d_in, 1, K)
    const convB = optionalWeight(`${p}.conv1d.bias`);
    const conv = g.op1("Conv", convB ? [convIn, convW, convB] : [convIn, convW], {
      group: dIn,
      kernel_shape: [k],
    }); // (b, d_in, l)
    // present_conv[b, c, j] = window[b, c, lengths[b] + j]
    const gatherIdx = g.op1("Add", [
      g.op1("Unsqueeze", [lengths, g.int64s([1, 2])]), // (b, 1, 1)
      g.int64s(Array.from({ length: k }, (_, j) => j), [1, 1, k]),
    ]); // (b, 1, K)
    const idxFull = g.op1("Expand", [
      gatherIdx,
      g.op1("Concat", [
        g.op1("Slice", [idsShape, g.int64s([0]), g.int64s([1])]),
        g.int64s([dIn, k]),
      ], {
        axis: 0,
      }),
    ]); // (b, d_in, K)
    g.output(
      g.op1("GatherElements", [window, idxFull], { axis: 2 }),
      `present_conv.${i}`,
      DT.FLOAT,
      [
        "batch",
        dIn,
        k,
      ],
    );
    const u = g.op1("Reshape", [
      g.op1("Transpose", [silu(conv)], { perm: [0, 2, 1] }),
      g.int64s([-1, dIn]),
    ]); // (b*l, d_in)

    // Input-dependent SSM parameters.
    const xdbl = linear(u, weight(`${p}.x_proj.weight`)); // (b*l, r + 2n)
    const [dtIn, bMat, cMat] = g.op("Split", [xdbl, g.int64s([r, n, n])], { axis: 1 }, {
      count: 3,
    });
    const dtRaw = linear(dtIn, weight(`${p}.dt_proj.weight`), weight(`${p}.dt_proj.bias`)); // (b*l, d_in)
    const delta = g.op1("Mul", [g.op1("Softplus", [dtRaw]), mask]); // (b*l, d_in); 0 on padding
    const aNeg = g.op1("Neg", [g.op1("Exp", [weight(`${p}.A_log`)])]); // A = -exp(A_log) (d_in, n)
    g.output(
      g.op1("ReduceSum", [g.op1("Reshape", [delta, shapeBy(dIn)]), g.int64s([1])], { keepdims: 0 }),
      `delta_sum.${i}`,
      DT.FLOAT,
      ["batch", dIn],
    );

    // Selective scan as gated linear attention, one head per channel.
    const logDecay = g.op1("Mul", [g.op1("Unsqueeze", [delta, g.int64s([2])]), aNeg]); // (b*l, d_in, n)
    const value = g.op1("Mul", [delta, u]); // (b*l, d_in)
    const [yScan, state] = g.op(
      "LinearAttention",
      [
        g.op1("Reshape", [cMat, shapeBy(n)]), // query (b, l, n)
        g.op1("Reshape", [bMat, shapeBy(n)]), // key (b, l, n): one key head shared by all channels
        g.op1("Reshape", [value, shapeBy(dIn)]), // value (b, l, d_in)
        g.op1("Reshape", [pastSsm, g.int64s([0, dIn, n, 1])]), // past (b, d_in, n, 1)
        g.op1("Reshape", [logDecay, shapeBy(dIn * n)]), // decay (b, l, d_in*n)
      ],
      { update_rule: "gated", scale: float(1), q_num_heads: 1, kv_num_heads: dIn },
      {
        domain: "com.microsoft",
        count: 2,
      },
    );
    g.output(g.op1("Reshape", [state, g.int64s([0, dIn, n])]), `present_ssm.${i}`, DT.FLOAT, [
      "batch",
      dIn,
      n,
    ]);
    const y = g.op1("Add", [
      g.op1("Reshape", [yScan, g.int64s([-1, dIn])]),
      g.op1("Mul", [u, weight(`${p}.D`)]),
    ]); // (b*l, d_in)
    const gated = g.op1("Mul", [y, silu(z)]);
    return linear(gated, weight(`${p}.out_proj.weight`), optionalWeight(`${p}.out_proj.bias`)); // (b*l, d)
  };

  /** HF `MambaBlock`: h + mixer(norm(h)). */
  const block = (i: number, h: string) =>
    g.op1("Add", [h, mixer(i, rmsNorm(h, weight(`backbone.layers.${i}.norm.weight`)))]);

  // Model: embeddings, blocks, final norm, tied (or own) head.
  const embeddings = weight("backbone.embeddings.weight"); // (V, d)
  let h = g.op1("Gather", [embeddings, g.op1("Reshape", [ids, g.int64s([-1])])], { axis: 0 }); // (b*l, d)
  for (let i = 0; i < nl; i++) h = block(i, h);
  const head = config.tieWordEmbeddings ? embeddings : weight("lm_head.weight");
  const normF = weight("backbone.norm_f.weight");
  if (options.allLogits) {
    const logits = linear(rmsNorm(h, normF), head); // (b*l, V)
    g.output(g.op1("Reshape", [logits, shapeBy(v)]), "logits", DT.FLOAT, ["batch", "sequence", v]);
  } else {
    // Row of each sequence's last real token: b_index * l + lengths - 1.
    const batch = g.op1("Slice", [idsShape, g.int64s([0]), g.int64s([1])]); // [b]
    const rowStart = g.op1("Mul", [
      g.op1("Range", [
        g.int64s([0], []),
        g.op1("Squeeze", [batch, g.int64s([0])]),
        g.int64s([1], []),
      ]),
      seqLen,
    ]);
    const last = g.op1("Sub", [g.op1("Add", [rowStart, lengths]), g.int64s([1], [])]); // (b)
    const hLast = g.op1("Gather", [h, last], { axis: 0 }); // (b, d)
    g.output(linear(rmsNorm(hLast, normF), head), "logits", DT.FLOAT, ["batch", v]);
  }
  return g.encode(
    { "": 21, "com.microsoft": 1 },
    "mamba",
    `Mamba-1, ${nl} layers, d ${d}, d_in ${dIn}, n ${n}, K ${k}, dt_rank ${r}, vocab ${v}`,
  );
}
