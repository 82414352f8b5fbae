/**
 * The readonly {@link MambaConfig}, derived once from a Hugging Face `config.json` of a
 * Mamba-1 checkpoint (`model_type` "mamba", e.g. state-spaces/mamba-130m-hf .. mamba-2.8b-hf).
 *
 * Field names follow TypeScript style; the table maps them to HF names and to the paper:
 *
 * | field             | HF config.json          | letter  |
 * | ----------------- | ----------------------- | ------- |
 * | hiddenSize        | hidden_size (d_model)   | d       |
 * | intermediateSize  | intermediate_size       | d_in    |
 * | stateSize         | state_size              | n       |
 * | convKernel        | conv_kernel             | K       |
 * | timeStepRank      | time_step_rank ("auto") | dt_rank |
 * | numHiddenLayers   | num_hidden_layers       | L       |
 * | vocabSize         | vocab_size              | V       |
 *
 * @module
 */

import { ConfigError, FormatError, NotFoundError } from "../util/errors.ts";
import { parseJsonText, showValue } from "../util/json.ts";
import { sha256Hex } from "../util/sha256.ts";

/** Architecture of a Mamba-1 model, as read from a HF `config.json`. */
export interface MambaConfig {
  /** Always "mamba". */
  readonly modelType: "mamba";
  /** Model width d (`hidden_size`). */
  readonly hiddenSize: number;
  /** Inner width d_in (`intermediate_size`, expand * d). */
  readonly intermediateSize: number;
  /** SSM state size n per channel (`state_size`). */
  readonly stateSize: number;
  /** Width K of the causal depthwise convolution (`conv_kernel`). */
  readonly convKernel: number;
  /** Rank of the delta projection (`time_step_rank`; "auto" resolved to ceil(d / 16)). */
  readonly timeStepRank: number;
  /** Number of Mamba blocks L (`num_hidden_layers`). */
  readonly numHiddenLayers: number;
  /** Rows of the embedding matrix V (`vocab_size`; 50280 for the state-spaces models). */
  readonly vocabSize: number;
  /** RMSNorm epsilon (`layer_norm_epsilon`). */
  readonly layerNormEpsilon: number;
  /** Whether conv1d has a bias (`use_conv_bias`). */
  readonly useConvBias: boolean;
  /** Whether in_proj and out_proj have biases (`use_bias`). */
  readonly useBias: boolean;
  /** Whether lm_head shares the embedding matrix (`tie_word_embeddings`). */
  readonly tieWordEmbeddings: boolean;
}

/**
 * Keys HF writes into a Mamba config.json that do not change the forward pass. They are
 * accepted and ignored. Anything else unknown is an error (pass `allowUnknown` to accept it).
 */
const HARMLESS_KEYS = new Set([
  "_name_or_path",
  "architectures",
  "auto_map",
  "bos_token_id",
  "eos_token_id",
  "pad_token_id",
  "dtype",
  "torch_dtype",
  "transformers_version",
  "initializer_range",
  "rescale_prenorm_residual",
  "residual_in_fp32",
  "fused_add_norm",
  "pad_vocab_size_multiple",
  "time_step_scale",
  "time_step_min",
  "time_step_max",
  "time_step_init_scheme",
  "time_step_floor",
  "use_cache",
  "use_mambapy",
  "use_associative_scan",
  "use_return_dict",
  "output_attentions",
  "output_hidden_states",
  "return_dict",
  "is_encoder_decoder",
  "layer_norm_eps",
  "task_specific_params",
  "id2label",
  "label2id",
]);

/**
 * Upper bounds on a config's sizes, checked before anything is sized by them. A config.json is
 * input: without bounds, `"vocab_size": 1e300` (an integer to JavaScript) would reach an array
 * allocation or a product past 2^53 before any weight is read. The bounds are generous: the
 * largest Mamba-1 (mamba-2.8b) has d 2560, d_in 5120, 64 layers, n 16, K 4 and 50280 rows.
 * With every size at most 2^20 and at most 2^16 layers, and at most 2^40 parameters in all
 * (4 TiB of float32), every size this library derives (tensor elements, state bytes, graph
 * shapes) is an exact integer.
 */
export const CONFIG_LIMITS = {
  /** Largest hidden, inner, state, kernel, rank and vocabulary size. */
  dim: 2 ** 20,
  /** Most layers. */
  layers: 2 ** 16,
  /** Most parameters in all. */
  parameters: 2 ** 40,
} as const;

/** Options of {@link parseMambaConfig}. */
export interface ParseConfigOptions {
  /** Name used in error messages (usually the path of config.json). @default "config.json" */
  file?: string;
  /** Accept keys this library does not know instead of failing. @default false */
  allowUnknown?: boolean;
}

/**
 * Validates a parsed HF `config.json` object and derives the readonly {@link MambaConfig}.
 * Unknown keys, unsupported values (e.g. `hidden_act` other than "silu") and inconsistent
 * fields (e.g. `d_model` != `hidden_size`) fail with a {@link ConfigError} naming the field.
 *
 * @example
 * ```ts
 * import { parseMambaConfig } from "./config.ts";
 * const c = parseMambaConfig({
 *   model_type: "mamba", hidden_size: 768, intermediate_size: 1536, state_size: 16,
 *   num_hidden_layers: 24, vocab_size: 50280, conv_kernel: 4, time_step_rank: "auto",
 * });
 * if (c.timeStepRank !== 48) throw new Error("auto rank is ceil(768 / 16)");
 * ```
 */
export function parseMambaConfig(json: unknown, options: ParseConfigOptions = {}): MambaConfig {
  const file = options.file ?? "config.json";
  const fail = (field: string, problem: string): never => {
    throw new ConfigError(`Invalid "${file}": field ${showValue(field)} ${problem}`, {
      file,
      field,
    });
  };
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new ConfigError(`Invalid "${file}": expected a JSON object`, { file });
  }
  const raw = json as Record<string, unknown>;
  const used = new Set<string>();
  const has = (key: string) => raw[key] !== undefined && raw[key] !== null;
  const get = (key: string) => {
    used.add(key);
    return raw[key];
  };
  const int = (key: string, fallback?: number, min = 1, max: number = CONFIG_LIMITS.dim) => {
    const v = get(key);
    if (v === undefined || v === null) {
      if (fallback !== undefined) return fallback;
      return fail(key, "is missing");
    }
    if (typeof v !== "number" || !Number.isInteger(v)) {
      return fail(key, `must be an integer, got ${showValue(v)}`);
    }
    if (v < min) return fail(key, `must be at least ${min}, got ${v}`);
    if (v > max) return fail(key, `must be at most ${max}, got ${v}`);
    return v;
  };
  const bool = (key: string, fallback: boolean): boolean => {
    const v = get(key);
    if (v === undefined || v === null) return fallback;
    if (typeof v !== "boolean") return fail(key, `must be true or false, got ${showValue(v)}`);
    return v;
  };

  const modelType = get("model_type");
  if (modelType !== "mamba") {
    fail(
      "model_type",
      `must be "mamba" (a Mamba-1 checkpoint in HF format), got ${showValue(modelType)}`,
    );
  }
  // Legacy state-spaces names appear beside the HF names in converted checkpoints.
  const hiddenSize = has("hidden_size") ? int("hidden_size") : int("d_model");
  if (has("d_model") && has("hidden_size") && int("d_model") !== hiddenSize) {
    fail("d_model", `is ${raw.d_model} but hidden_size is ${hiddenSize}`);
  }
  const layers = (key: string) => int(key, undefined, 1, CONFIG_LIMITS.layers);
  const numHiddenLayers = has("num_hidden_layers")
    ? layers("num_hidden_layers")
    : layers("n_layer");
  if (has("n_layer") && has("num_hidden_layers") && layers("n_layer") !== numHiddenLayers) {
    fail("n_layer", `is ${raw.n_layer} but num_hidden_layers is ${numHiddenLayers}`);
  }
  // As transformers reads it: an explicit intermediate_size wins over expand * hidden_size
  // (MambaConfig sets expand * hidden_size first, then the file's intermediate_size over it).
  const expand = int("expand", 2);
  const intermediateSize = int("intermediate_size", expand * hiddenSize);
  if (intermediateSize > CONFIG_LIMITS.dim) {
    fail("expand", `times hidden_size is ${intermediateSize}, more than ${CONFIG_LIMITS.dim}`);
  }
  if (has("d_inner") && int("d_inner") !== intermediateSize) {
    fail("d_inner", `is ${raw.d_inner} but intermediate_size is ${intermediateSize}`);
  }
  const stateSize = int("state_size", 16);
  const convKernel = int("conv_kernel", 4);
  const vocabSize = int("vocab_size");
  const rank = get("time_step_rank");
  let timeStepRank: number;
  if (rank === undefined || rank === null || rank === "auto") {
    timeStepRank = Math.ceil(hiddenSize / 16);
  } else {
    timeStepRank = int("time_step_rank");
  }
  const eps = get("layer_norm_epsilon") ?? 1e-5;
  if (typeof eps !== "number" || !(eps > 0) || !Number.isFinite(eps)) {
    fail("layer_norm_epsilon", `must be a positive number, got ${showValue(eps)}`);
  }
  const act = get("hidden_act");
  if (act !== undefined && act !== "silu" && act !== "swish") {
    fail(
      "hidden_act",
      `must be "silu" (the only activation Mamba-1 uses), got ${showValue(act)}`,
    );
  }
  if (get("rms_norm") === false) fail("rms_norm", "is false; only RMSNorm blocks are supported");
  const ssmCfg = get("ssm_cfg");
  if (ssmCfg !== undefined && ssmCfg !== null) {
    if (typeof ssmCfg !== "object" || Object.keys(ssmCfg as object).length > 0) {
      fail("ssm_cfg", "is not empty; pass the HF fields (state_size, conv_kernel, ...) instead");
    }
  }

  // Every weight: embedding (and an untied head), per layer in_proj, conv, x_proj, dt_proj,
  // A_log, D, out_proj and the norm, and the final norm; biases counted as if present.
  const d = hiddenSize, di = intermediateSize, r = timeStepRank;
  const perLayer = 2 * di * d + 2 * di + di * (convKernel + 1) + di * (r + 2 * stateSize) +
    r * di + 2 * di + di * stateSize + di + d * di + 2 * d;
  const parameters = numHiddenLayers * perLayer + vocabSize * d * 2 + d;
  if (parameters > CONFIG_LIMITS.parameters) {
    fail(
      "num_hidden_layers",
      `and the sizes give a model of about ${parameters.toExponential(2)} parameters, more than ` +
        `2^40 (the largest Mamba-1 has 2.8e9)`,
    );
  }

  const config: MambaConfig = Object.freeze({
    modelType: "mamba" as const,
    hiddenSize,
    intermediateSize,
    stateSize,
    convKernel,
    timeStepRank,
    numHiddenLayers,
    vocabSize,
    layerNormEpsilon: eps as number,
    useConvBias: bool("use_conv_bias", true),
    useBias: bool("use_bias", false),
    tieWordEmbeddings: bool("tie_word_embeddings", true),
  });

  if (!options.allowUnknown) {
    const unknown = Object.keys(raw).filter((k) => !used.has(k) && !HARMLESS_KEYS.has(k));
    if (unknown.length > 0) {
      const shown = unknown.slice(0, 5).map((k) => showValue(k)).join(", ");
      const more = unknown.length > 5 ? ` and ${unknown.length - 5} more` : "";
      fail(
        unknown[0],
        `is unknown to this library (unknown keys: ${shown}${more}); pass allowUnknown to accept them`,
      );
    }
  }
  return config;
}

/**
 * Reads and validates `config.json` from a checkpoint directory (or the file itself).
 *
 * @example
 * ```ts ignore
 * const config = await readMambaConfig("/models/mamba-130m-hf");
 * ```
 */
export async function readMambaConfig(
  path: string,
  options: Omit<ParseConfigOptions, "file"> = {},
): Promise<MambaConfig> {
  const file = path.endsWith(".json") ? path : `${path.replace(/\/$/, "")}/config.json`;
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(file);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new NotFoundError(`Cannot read "${file}": no such file`, { file, cause: err });
    }
    throw FormatError.at(file, String(err), err);
  }
  return parseMambaConfigText(bytes, file, options);
}

/**
 * Parses the text (or the bytes, UTF-8) of a `config.json` read from `file` and validates it
 * (what {@link readMambaConfig} does once it has the file): text that is not UTF-8 or not JSON
 * is a {@link FormatError}, a JSON value that is not a valid config a {@link ConfigError}, each
 * one line naming `file`.
 *
 * @example
 * ```ts
 * import { parseMambaConfigText } from "./config.ts";
 * try {
 *   parseMambaConfigText('{"model_type": "mamba", "hidden_size": 1e400}', "m/config.json");
 *   throw new Error("parsed");
 * } catch (e) {
 *   if (!(e as Error).message.startsWith('Invalid "m/config.json": field "hidden_size"')) throw e;
 * }
 * ```
 */
export function parseMambaConfigText(
  text: string | Uint8Array,
  file: string,
  options: Omit<ParseConfigOptions, "file"> = {},
): MambaConfig {
  const json = parseJsonText(text, file);
  return parseMambaConfig(json, { ...options, file });
}

/** The HF `config.json` object for a config (what {@link parseMambaConfig} accepts back). */
export function toHfConfigJson(config: MambaConfig): Record<string, unknown> {
  return {
    architectures: ["MambaForCausalLM"],
    model_type: "mamba",
    hidden_size: config.hiddenSize,
    intermediate_size: config.intermediateSize,
    ...(config.intermediateSize % config.hiddenSize === 0
      ? { expand: config.intermediateSize / config.hiddenSize }
      : {}),
    state_size: config.stateSize,
    conv_kernel: config.convKernel,
    time_step_rank: config.timeStepRank,
    num_hidden_layers: config.numHiddenLayers,
    vocab_size: config.vocabSize,
    layer_norm_epsilon: config.layerNormEpsilon,
    use_conv_bias: config.useConvBias,
    use_bias: config.useBias,
    tie_word_embeddings: config.tieWordEmbeddings,
    hidden_act: "silu",
    bos_token_id: 0,
    eos_token_id: 0,
    pad_token_id: 0,
    torch_dtype: "float32",
  };
}

/**
 * A short stable hash of the architecture, so states of one model are never mixed with
 * another's. Two configs with equal fields hash equal.
 *
 * @example
 * ```ts
 * import { configHash } from "./config.ts";
 * import { tinyMambaConfig } from "./random_checkpoint.ts";
 * const a = await configHash(tinyMambaConfig());
 * if (a !== await configHash(tinyMambaConfig())) throw new Error("equal configs hash equal");
 * if (a === await configHash({ ...tinyMambaConfig(), numHiddenLayers: 3 })) throw new Error();
 * ```
 */
export async function configHash(config: MambaConfig): Promise<string> {
  const keys = Object.keys(config).sort() as (keyof MambaConfig)[];
  const canonical = JSON.stringify(keys.map((k) => [k, config[k]]));
  return (await sha256Hex(canonical)).slice(0, 16);
}
