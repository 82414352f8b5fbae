/**
 * Mamba weights in memory, by their Hugging Face tensor names, checked against the config.
 *
 * @module
 */

import { FormatError, SoupError } from "../util/errors.ts";
import type { MambaConfig } from "./config.ts";
import type { SafetensorsCheckpoint } from "./safetensors.ts";

/** Weights of one Mamba block (`backbone.layers.{i}`), float32, C order. */
export interface LayerWeights {
  /** `norm.weight` (d). */
  readonly norm: Float32Array;
  /** `mixer.in_proj.weight` (2 d_in, d): rows 0..d_in-1 give x, the rest give the gate z. */
  readonly inProj: Float32Array;
  /** `mixer.in_proj.bias` (2 d_in), only with `use_bias`. */
  readonly inProjBias: Float32Array | undefined;
  /** `mixer.conv1d.weight` (d_in, 1, K) stored as (d_in, K). */
  readonly conv: Float32Array;
  /** `mixer.conv1d.bias` (d_in), only with `use_conv_bias`. */
  readonly convBias: Float32Array | undefined;
  /** `mixer.x_proj.weight` (dt_rank + 2 n, d_in): rows give dt, then B, then C. */
  readonly xProj: Float32Array;
  /** `mixer.dt_proj.weight` (d_in, dt_rank). */
  readonly dtProj: Float32Array;
  /** `mixer.dt_proj.bias` (d_in). */
  readonly dtProjBias: Float32Array;
  /** `mixer.A_log` (d_in, n); A = -exp(A_log). */
  readonly aLog: Float32Array;
  /** `mixer.D` (d_in). */
  readonly d: Float32Array;
  /** `mixer.out_proj.weight` (d, d_in). */
  readonly outProj: Float32Array;
  /** `mixer.out_proj.bias` (d), only with `use_bias`. */
  readonly outProjBias: Float32Array | undefined;
}

/** All weights of a `MambaForCausalLM`. */
export interface MambaWeights {
  /** The architecture these weights belong to. */
  readonly config: MambaConfig;
  /** `backbone.embeddings.weight` (V, d). */
  readonly embeddings: Float32Array;
  /** One entry per block. */
  readonly layers: readonly LayerWeights[];
  /** `backbone.norm_f.weight` (d). */
  readonly normF: Float32Array;
  /** `lm_head.weight` (V, d); the embedding matrix itself when tied. */
  readonly lmHead: Float32Array;
}

/**
 * The tensor names and shapes a HF checkpoint of this config holds, in the order HF saves them.
 *
 * @example
 * ```ts
 * import { mambaTensorShapes } from "./weights.ts";
 * import { parseMambaConfig } from "./config.ts";
 * const c = parseMambaConfig({ model_type: "mamba", hidden_size: 4, num_hidden_layers: 1, vocab_size: 10 });
 * const shapes = mambaTensorShapes(c);
 * if (shapes.get("backbone.layers.0.mixer.conv1d.weight")!.join() !== "8,1,4") throw new Error();
 * ```
 */
export function mambaTensorShapes(config: MambaConfig): Map<string, number[]> {
  const {
    hiddenSize: d,
    intermediateSize: dIn,
    stateSize: n,
    convKernel: k,
    timeStepRank: r,
    vocabSize: v,
  } = config;
  const shapes = new Map<string, number[]>();
  shapes.set("backbone.embeddings.weight", [v, d]);
  for (let i = 0; i < config.numHiddenLayers; i++) {
    const p = `backbone.layers.${i}`;
    shapes.set(`${p}.norm.weight`, [d]);
    shapes.set(`${p}.mixer.A_log`, [dIn, n]);
    shapes.set(`${p}.mixer.D`, [dIn]);
    shapes.set(`${p}.mixer.in_proj.weight`, [2 * dIn, d]);
    if (config.useBias) shapes.set(`${p}.mixer.in_proj.bias`, [2 * dIn]);
    shapes.set(`${p}.mixer.conv1d.weight`, [dIn, 1, k]);
    if (config.useConvBias) shapes.set(`${p}.mixer.conv1d.bias`, [dIn]);
    shapes.set(`${p}.mixer.x_proj.weight`, [r + 2 * n, dIn]);
    shapes.set(`${p}.mixer.dt_proj.weight`, [dIn, r]);
    shapes.set(`${p}.mixer.dt_proj.bias`, [dIn]);
    shapes.set(`${p}.mixer.out_proj.weight`, [d, dIn]);
    if (config.useBias) shapes.set(`${p}.mixer.out_proj.bias`, [d]);
  }
  shapes.set("backbone.norm_f.weight", [d]);
  if (!config.tieWordEmbeddings) shapes.set("lm_head.weight", [v, d]);
  return shapes;
}

/**
 * Checks that a checkpoint holds exactly the tensors of `config` with the right shapes and
 * float dtypes. Throws a {@link FormatError} naming the file and the first problem.
 * A tied `lm_head.weight` that is present anyway is tolerated.
 */
export function validateCheckpoint(ckpt: SafetensorsCheckpoint, config: MambaConfig): void {
  const expected = mambaTensorShapes(config);
  const where = ckpt.files.length === 1 ? ckpt.files[0] : ckpt.files[0].replace(/[^/]*$/, "");
  for (const [name, shape] of expected) {
    const t = ckpt.tensors.get(name);
    if (t === undefined) throw FormatError.at(where, `tensor "${name}" is missing`);
    if (t.shape.join() !== shape.join()) {
      throw FormatError.at(
        t.file,
        `tensor "${name}" has shape [${t.shape}] but config.json implies [${shape}]`,
      );
    }
    if (!["F32", "F16", "BF16", "F64"].includes(t.dtype)) {
      throw FormatError.at(t.file, `tensor "${name}" has dtype ${t.dtype}, not a float type`);
    }
  }
  for (const name of ckpt.tensors.keys()) {
    if (!expected.has(name) && !(name === "lm_head.weight" && config.tieWordEmbeddings)) {
      throw FormatError.at(
        ckpt.tensors.get(name)!.file,
        `unexpected tensor "${name}" for a ${config.numHiddenLayers}-layer Mamba config`,
      );
    }
  }
}

/** Reads every tensor of a checkpoint into memory as float32, after {@link validateCheckpoint}. */
export async function loadMambaWeights(
  ckpt: SafetensorsCheckpoint,
  config: MambaConfig,
): Promise<MambaWeights> {
  validateCheckpoint(ckpt, config);
  const tensors = [];
  for (const name of mambaTensorShapes(config).keys()) {
    tensors.push({ name, data: await ckpt.readFloat32(name) });
  }
  return weightsFromTensors(config, tensors);
}

/**
 * Builds in-memory {@link MambaWeights} from named tensors (e.g. from
 * `randomMambaTensors`), without going through files.
 */
export function weightsFromTensors(
  config: MambaConfig,
  tensors: readonly { name: string; data: Float32Array }[],
): MambaWeights {
  const byName = new Map(tensors.map((t) => [t.name, t.data]));
  const get = (name: string) => {
    const t = byName.get(name);
    if (t === undefined) throw new SoupError(`Cannot build weights: tensor "${name}" is missing`);
    return t;
  };
  const layers = Array.from({ length: config.numHiddenLayers }, (_, i) => {
    const p = `backbone.layers.${i}`;
    return {
      norm: get(`${p}.norm.weight`),
      inProj: get(`${p}.mixer.in_proj.weight`),
      inProjBias: byName.get(`${p}.mixer.in_proj.bias`),
      conv: get(`${p}.mixer.conv1d.weight`),
      convBias: byName.get(`${p}.mixer.conv1d.bias`),
      xProj: get(`${p}.mixer.x_proj.weight`),
      dtProj: get(`${p}.mixer.dt_proj.weight`),
      dtProjBias: get(`${p}.mixer.dt_proj.bias`),
      aLog: get(`${p}.mixer.A_log`),
      d: get(`${p}.mixer.D`),
      outProj: get(`${p}.mixer.out_proj.weight`),
      outProjBias: byName.get(`${p}.mixer.out_proj.bias`),
    };
  });
  const embeddings = get("backbone.embeddings.weight");
  return {
    config,
    embeddings,
    layers,
    normF: get("backbone.norm_f.weight"),
    lmHead: config.tieWordEmbeddings ? embeddings : get("lm_head.weight"),
  };
}
