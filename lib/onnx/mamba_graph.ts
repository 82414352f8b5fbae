/**
 * Mamba-1 (`MambaForCausalLM`) as an ONNX graph, read top-down: rms norm, mixer, block, model.
 * Weights are ONNX external data pointing straight into the checkpoint's safetensors files;
 * F16/BF16 weights are cast to float32 inside the graph.
 *
 * Dimension letters (paper notation in brackets):
 * - b: batch, l: tokens in this call, V: vocabulary rows, L: layers
 * - d: model width (D), d_in: inner width (E*D), n: state size (N), K: conv width, r: dt_rank
 *
 * {@link buildMambaGraph} inputs: `input_ids` (b, l) int64; `lengths` (b) int64, the real tokens of each row (the rest
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

/** Options of {@link buildMambaGraph} and {@link buildMambaSegments}. */
export interface MambaGraphOptions {
  /** Emit logits for every position (b, l, V) instead of the last real one (b, V). */
  allLogits: boolean;
  /** Name under which each safetensors file sits beside the model file. */
  locationOf: (file: string) => string;
  /**
   * `float16`: the matrix products (in_proj, x_proj, dt_proj, out_proj, the head) and the
   * embedding run in half precision with their weights kept in float16; the norms, the conv,
   * the selective scan with its state, the residual stream and the logits stay float32 (as
   * PyTorch's autocast does). For GPU providers whose device has half-precision shaders.
   * @default "float32"
   */
  precision?: "float32" | "float16";
}

const ONNX_TYPE = { F32: DT.FLOAT, F16: DT.FLOAT16, BF16: DT.BFLOAT16 } as Record<string, number>;

/** What a mixer computes before its scan, on (b*l) rows. */
interface PreScan {
  /** Conv output after SiLU (b*l, d_in): the scan's input x. */
  u: string;
  /** dt_proj output with its bias, before softplus (b*l, d_in). */
  dtRaw: string;
  /** Input-dependent B and C (b*l, n). */
  bMat: string;
  cMat: string;
  /** SiLU of the gate branch (b*l, d_in). */
  gate: string;
}

/**
 * The pieces of the Mamba graph on one {@link GraphBuilder}: inputs, weights and the parts of
 * a block before and after the selective scan. {@link buildMambaGraph} joins them with the
 * scan as an onnxruntime operator; {@link buildMambaSegments} cuts the model at every scan.
 */
function mambaParts(
  g: GraphBuilder,
  config: MambaConfig,
  tensors: ReadonlyMap<string, TensorInfo>,
  options: MambaGraphOptions,
) {
  const { hiddenSize: d, intermediateSize: dIn, stateSize: n, convKernel: k } = config;
  const { timeStepRank: r, vocabSize: v, layerNormEpsilon: eps } = config;

  const half = options.precision === "float16";
  /** Element type of the matrix products and their weights. */
  const MAT = half ? DT.FLOAT16 : DT.FLOAT;

  /** A weight as float32 (or `to`), straight from the safetensors file. */
  const weight = (name: string, to: number = DT.FLOAT): string => {
    const t = tensors.get(name);
    if (t === undefined) throw new Error(`tensor "${name}" is missing`);
    const type = ONNX_TYPE[t.dtype];
    if (type === undefined) throw new Error(`tensor "${name}" has unsupported dtype ${t.dtype}`);
    const ext = g.external(name, type, t.shape, options.locationOf(t.file), t.offset, t.byteLength);
    return type === to ? ext : g.op1("Cast", [ext], { to });
  };
  /** A weight of a matrix product, in the products' element type. */
  const mat = (name: string) => weight(name, MAT);
  const optionalMat = (name: string) => (tensors.has(name) ? mat(name) : "");
  const optionalWeight = (name: string) => (tensors.has(name) ? weight(name) : "");
  /**
   * Rows [start, start + count) of a weight (along its first axis), as float32: its own
   * external initializer over that byte range, so no Split runs at inference time.
   */
  const weightRows = (name: string, start: number, count: number, to = MAT): string => {
    const t = tensors.get(name);
    if (t === undefined) throw new Error(`tensor "${name}" is missing`);
    const type = ONNX_TYPE[t.dtype];
    if (type === undefined) throw new Error(`tensor "${name}" has unsupported dtype ${t.dtype}`);
    const rowBytes = t.byteLength / t.shape[0];
    const ext = g.external(
      `${name}[${start}:${start + count}]`,
      type,
      [count, ...t.shape.slice(1)],
      options.locationOf(t.file),
      t.offset + start * rowBytes,
      count * rowBytes,
    );
    return type === to ? ext : g.op1("Cast", [ext], { to });
  };
  const optionalRows = (name: string, start: number, count: number) =>
    tensors.has(name) ? weightRows(name, start, count) : "";

  // Inputs every graph takes.
  const ids = g.input("input_ids", DT.INT64, ["batch", "sequence"]);
  const lengths = g.input("lengths", DT.INT64, ["batch"]);
  const idsShape = g.op1("Shape", [ids]); // [b, l]
  const shapeBy = (...tail: number[]) => g.op1("Concat", [idsShape, g.int64s(tail)], { axis: 0 });
  const seqLen = g.op1("Gather", [idsShape, g.int64s([1], [])], { axis: 0 }); // l
  /** mask (b*l, 1): 1 for real tokens, 0 for right padding. */
  const mask = () => {
    const positions = g.op1("Range", [g.int64s([0], []), seqLen, g.int64s([1], [])]); // (l)
    const lengthsCol = g.op1("Unsqueeze", [lengths, g.int64s([1])]); // (b, 1)
    const isReal = g.op1("Less", [g.op1("Unsqueeze", [positions, g.int64s([0])]), lengthsCol]);
    return g.op1("Reshape", [g.op1("Cast", [isReal], { to: DT.FLOAT }), g.int64s([-1, 1])]);
  };

  /** RMSNorm, HF `MambaRMSNorm`: x / sqrt(mean(x^2) + eps) * w. (rows, d) -> (rows, d) */
  const rmsNorm = (x: string, w: string) =>
    g.op1("SimplifiedLayerNormalization", [x, w], { axis: -1, epsilon: float(eps) });
  const silu = (x: string) => g.op1("Mul", [x, g.op1("Sigmoid", [x])]);
  /**
   * x (rows, in) W^T (in -> out) [+ bias], with W stored (out, in) as in PyTorch; x and the
   * result float32, the product in the products' element type (W and bias already in it).
   */
  const linear = (x: string, w: string, bias = "") => {
    const x16 = half ? g.op1("Cast", [x], { to: DT.FLOAT16 }) : x;
    const y = g.op1("Gemm", bias ? [x16, w, bias] : [x16, w], { transB: 1 });
    return half ? g.op1("Cast", [y], { to: DT.FLOAT }) : y;
  };

  /** Embedding rows of the input ids (b*l, d), float32 (read from the half table in float16). */
  const embed = () => {
    const rows = g.op1(
      "Gather",
      [mat("backbone.embeddings.weight"), g.op1("Reshape", [ids, g.int64s([-1])])],
      { axis: 0 },
    );
    return half ? g.op1("Cast", [rows], { to: DT.FLOAT }) : rows;
  };

  /** Block i's norm and in_proj on its input h (b*l, d): x and the gate branch z (b*l, d_in). */
  const inProj = (i: number, h: string) => {
    const p = `backbone.layers.${i}.mixer`;
    const hs = rmsNorm(h, weight(`backbone.layers.${i}.norm.weight`));
    // in_proj as two products, for x and for the gate z (its two halves of rows).
    const half = (start: number) =>
      linear(
        hs,
        weightRows(`${p}.in_proj.weight`, start, dIn),
        optionalRows(`${p}.in_proj.bias`, start, dIn),
      );
    return { x: half(0), z: half(dIn) };
  };

  /** x_proj and dt_proj on the conv output u (b*l, d_in): the scan's dt, B and C. */
  const ssmInputs = (i: number, u: string) => {
    const p = `backbone.layers.${i}.mixer`;
    const xdbl = linear(u, mat(`${p}.x_proj.weight`)); // (b*l, r + 2n)
    const [dtIn, bMat, cMat] = g.op("Split", [xdbl, g.int64s([r, n, n])], { axis: 1 }, {
      count: 3,
    });
    const dtRaw = linear(dtIn, mat(`${p}.dt_proj.weight`), mat(`${p}.dt_proj.bias`)); // (b*l, d_in)
    return { dtRaw, bMat, cMat };
  };

  /**
   * HF `MambaMixer.slow_forward` up to the scan, on block i's input h (b*l, d): norm,
   * in_proj, causal conv (with `present_conv.{i}` as an output), x_proj and dt_proj.
   */
  const preScan = (i: number, h: string): PreScan => {
    const p = `backbone.layers.${i}.mixer`;
    const pastConv = g.input(`past_conv.${i}`, DT.FLOAT, ["batch", dIn, k]);
    const { x, z } = inProj(i, h); // (b*l, d_in) each

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
    const batchDims = g.op1("Slice", [idsShape, g.int64s([0]), g.int64s([1])]); // [b]
    const idxFull = g.op1("Expand", [
      gatherIdx,
      g.op1("Concat", [batchDims, g.int64s([dIn, k])], { axis: 0 }),
    ]); // (b, d_in, K)
    g.output(
      g.op1("GatherElements", [window, idxFull], { axis: 2 }),
      `present_conv.${i}`,
      DT.FLOAT,
      ["batch", dIn, k],
    );
    const u = g.op1("Reshape", [
      g.op1("Transpose", [silu(conv)], { perm: [0, 2, 1] }),
      g.int64s([-1, dIn]),
    ]); // (b*l, d_in)
    return { u, ...ssmInputs(i, u), gate: silu(z) };
  };

  /** A = -exp(A_log) of layer i (d_in, n) and its skip weights D (d_in). */
  const ssmParams = (i: number) => {
    const p = `backbone.layers.${i}.mixer`;
    return {
      aNeg: g.op1("Neg", [g.op1("Exp", [weight(`${p}.A_log`)])]),
      dSkip: weight(`${p}.D`),
    };
  };

  /** HF `MambaBlock` after the scan: h + out_proj(y), y the gated scan output (b*l, d_in). */
  const postScan = (i: number, h: string, y: string) => {
    const p = `backbone.layers.${i}.mixer`;
    return g.op1("Add", [
      h,
      linear(y, mat(`${p}.out_proj.weight`), optionalMat(`${p}.out_proj.bias`)),
    ]); // (b*l, d)
  };

  /** Rows of each sequence's last real token (b, width) of x (b*l, width): b_index * l + lengths - 1. */
  const lastRows = (x: string) => {
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
    return g.op1("Gather", [x, last], { axis: 0 });
  };

  /**
   * Final norm and the tied (or own) head: `logits` for every position, or for the last real
   * one (of h's rows, or h holds those rows already when `lastOnly`).
   */
  const head = (h: string, lastOnly = false) => {
    const lmHead = config.tieWordEmbeddings
      ? mat("backbone.embeddings.weight")
      : mat("lm_head.weight");
    const normF = weight("backbone.norm_f.weight");
    if (options.allLogits) {
      const logits = linear(rmsNorm(h, normF), lmHead); // (b*l, V)
      g.output(g.op1("Reshape", [logits, shapeBy(v)]), "logits", DT.FLOAT, [
        "batch",
        "sequence",
        v,
      ]);
    } else {
      const hLast = lastOnly ? h : lastRows(h); // (b, d)
      g.output(linear(rmsNorm(hLast, normF), lmHead), "logits", DT.FLOAT, ["batch", v]);
    }
  };

  return {
    shapeBy,
    mask,
    embed,
    inProj,
    ssmInputs,
    preScan,
    ssmParams,
    postScan,
    lastRows,
    head,
    d,
    dIn,
    n,
  };
}

const describe = (c: MambaConfig) =>
  `Mamba-1, ${c.numHiddenLayers} layers, d ${c.hiddenSize}, d_in ${c.intermediateSize}, n ${c.stateSize}, K ${c.convKernel}, dt_rank ${c.timeStepRank}, vocab ${c.vocabSize}`;

/** Builds the encoded ONNX model. `tensors` are the checkpoint's tensors by HF name. */
export function buildMambaGraph(
  config: MambaConfig,
  tensors: ReadonlyMap<string, TensorInfo>,
  options: MambaGraphOptions,
): Uint8Array {
  const g = new GraphBuilder();
  const m = mambaParts(g, config, tensors, options);
  const { shapeBy, dIn, n } = m;
  const mask = m.mask();

  /** The selective scan of layer i as gated linear attention, one head per channel. */
  const scan = (i: number, pre: PreScan): string => {
    const pastSsm = g.input(`past_ssm.${i}`, DT.FLOAT, ["batch", dIn, n]);
    const { aNeg, dSkip } = m.ssmParams(i);
    const delta = g.op1("Mul", [g.op1("Softplus", [pre.dtRaw]), mask]); // (b*l, d_in); 0 on padding
    g.output(
      g.op1("ReduceSum", [g.op1("Reshape", [delta, shapeBy(dIn)]), g.int64s([1])], { keepdims: 0 }),
      `delta_sum.${i}`,
      DT.FLOAT,
      ["batch", dIn],
    );
    const logDecay = g.op1("Mul", [g.op1("Unsqueeze", [delta, g.int64s([2])]), aNeg]); // (b*l, d_in, n)
    const value = g.op1("Mul", [delta, pre.u]); // (b*l, d_in)
    const [yScan, state] = g.op(
      "LinearAttention",
      [
        g.op1("Reshape", [pre.cMat, shapeBy(n)]), // query (b, l, n)
        g.op1("Reshape", [pre.bMat, shapeBy(n)]), // key (b, l, n): one key head shared by all channels
        g.op1("Reshape", [value, shapeBy(dIn)]), // value (b, l, d_in)
        g.op1("Reshape", [pastSsm, g.int64s([0, dIn, n, 1])]), // past (b, d_in, n, 1)
        g.op1("Reshape", [logDecay, shapeBy(dIn * n)]), // decay (b, l, d_in*n)
      ],
      { update_rule: "gated", scale: float(1), q_num_heads: 1, kv_num_heads: dIn },
      { domain: "com.microsoft", count: 2 },
    );
    g.output(g.op1("Reshape", [state, g.int64s([0, dIn, n])]), `present_ssm.${i}`, DT.FLOAT, [
      "batch",
      dIn,
      n,
    ]);
    const y = g.op1("Add", [
      g.op1("Reshape", [yScan, g.int64s([-1, dIn])]),
      g.op1("Mul", [pre.u, dSkip]),
    ]); // (b*l, d_in)
    return g.op1("Mul", [y, pre.gate]);
  };

  let h = m.embed(); // (b*l, d)
  for (let i = 0; i < config.numHiddenLayers; i++) h = m.postScan(i, h, scan(i, m.preScan(i, h)));
  m.head(h);
  return g.encode({ "": 21, "com.microsoft": 1 }, "mamba", describe(config));
}

/**
 * The model cut around every conv and selective scan, for running those outside onnxruntime
 * (the WebAssembly kernels of `lib/scan`): 2L + 1 encoded models, in order `in.0`, `ssm.0`,
 * `in.1`, ..., `ssm.{L-1}`, head. Every one takes `input_ids` (b, l) and `lengths` (b);
 * activations are (b*l, width), token-major, as the matrix products give them.
 * - `in.{i}`: block i's input (the embedding for i = 0; else `hidden` (b*l, d), the residual
 *   stream entering layer i - 1, plus out_proj of `scan_out` (b*l, d_in), that layer's gated
 *   scan output), output as `hidden_out`, then its norm and in_proj: `x` and the gate branch
 *   `z` (b*l, d_in), before the conv and the SiLU.
 * - `ssm.{i}`: from `u` (b*l, d_in), the conv output after SiLU: `dt` (before softplus), `B`
 *   and `C` (b*l, n padded with zero columns to `statePad`).
 * - head: from `hidden` and `scan_out` of the last layer, `logits`; without `allLogits` only
 *   the rows of each sequence's last real token go through out_proj, the norm and the head.
 */
export function buildMambaSegments(
  config: MambaConfig,
  tensors: ReadonlyMap<string, TensorInfo>,
  options: MambaGraphOptions & { statePad: number },
): Uint8Array[] {
  const nl = config.numHiddenLayers;
  const desc = describe(config);
  const start = (g: GraphBuilder) => mambaParts(g, config, tensors, options);
  /** The inputs after a layer's scan: its residual input and its gated scan output. */
  const afterScan = (g: GraphBuilder, m: ReturnType<typeof mambaParts>) => ({
    hidden: g.input("hidden", DT.FLOAT, ["rows", m.d]),
    scanOut: g.input("scan_out", DT.FLOAT, ["rows", m.dIn]),
  });
  const models: Uint8Array[] = [];
  for (let i = 0; i < nl; i++) {
    let g = new GraphBuilder();
    let m = start(g);
    let h: string;
    if (i === 0) {
      h = m.embed();
    } else {
      const prev = afterScan(g, m);
      h = m.postScan(i - 1, prev.hidden, prev.scanOut);
    }
    const { x, z } = m.inProj(i, h);
    g.output(h, "hidden_out", DT.FLOAT, ["rows", m.d]);
    g.output(x, "x", DT.FLOAT, ["rows", m.dIn]);
    g.output(z, "z", DT.FLOAT, ["rows", m.dIn]);
    models.push(g.encode({ "": 21 }, `mamba_in_${i}`, `${desc}, in_proj of layer ${i}`));

    g = new GraphBuilder();
    m = start(g);
    const pre = m.ssmInputs(i, g.input("u", DT.FLOAT, ["rows", m.dIn]));
    const pad = options.statePad - m.n;
    const padded = (t: string) => pad === 0 ? t : g.op1("Pad", [t, g.int64s([0, 0, 0, pad])]); // (b*l, n + pad)
    g.output(pre.dtRaw, "dt", DT.FLOAT, ["rows", m.dIn]);
    g.output(padded(pre.bMat), "B", DT.FLOAT, ["rows", options.statePad]);
    g.output(padded(pre.cMat), "C", DT.FLOAT, ["rows", options.statePad]);
    models.push(
      g.encode({ "": 21 }, `mamba_ssm_${i}`, `${desc}, x_proj and dt_proj of layer ${i}`),
    );
  }
  const g = new GraphBuilder();
  const m = start(g);
  const last = afterScan(g, m);
  if (options.allLogits) {
    m.head(m.postScan(nl - 1, last.hidden, last.scanOut));
  } else {
    m.head(m.postScan(nl - 1, m.lastRows(last.hidden), m.lastRows(last.scanOut)), true);
  }
  models.push(g.encode({ "": 21 }, "mamba_head", `${desc}, head`));
  return models;
}
