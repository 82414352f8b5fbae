/**
 * Writes tiny random Mamba checkpoints in exactly the Hugging Face layout (`config.json` and
 * `model.safetensors`, or shards with `model.safetensors.index.json`), seeded, with
 * Mamba-like initialisation so that tests see realistic dynamics:
 *
 * - `A_log[c, j] = log(j + 1)`, so A = -(1 .. n) per channel as in S4D-real;
 * - `dt_proj.bias = softplus^-1(dt)` with dt log-uniform in [0.001, 0.1], so that
 *   softplus(bias) lies in [0.001, 0.1]; `dt_proj.weight` uniform in +-dt_rank^-0.5;
 * - linear and conv weights uniform in +-1/sqrt(fan_in) (PyTorch's default);
 * - embeddings normal with std 0.02 (`lm_head` tied unless the config says otherwise).
 *
 * Unlike a fresh Mamba (all ones), norm weights and D are drawn from [0.9, 1.1] so that a
 * forward pass that ignores or transposes them is caught by the tests.
 *
 * @module
 */

import { SoupError } from "../util/errors.ts";
import { atomicWrite } from "../util/atomic_write.ts";
import { checkWritable, swapFolder, sweepLeftovers, tempSibling } from "../util/output.ts";
import { Rng } from "../util/random.ts";
import { type MambaConfig, parseMambaConfig, toHfConfigJson } from "./config.ts";
import { mambaTensorShapes } from "./weights.ts";
import { type TensorToWrite, writeSafetensors } from "./write_safetensors.ts";
import { SAFETENSORS_INDEX, SAFETENSORS_SINGLE } from "./safetensors.ts";

/** Options of {@link writeRandomCheckpoint}. */
export interface RandomCheckpointOptions {
  /** Seed of the generator; equal seeds give byte-identical checkpoints. @default 0 */
  seed?: number;
  /** Stored element type. @default "F32" */
  dtype?: "F32" | "F16" | "BF16";
  /** Split into shards of at most about this many bytes (HF's `max_shard_size`). @default no sharding */
  maxShardBytes?: number;
}

/** Architecture fields for {@link tinyMambaConfig}, all optional. */
export type TinyConfigFields = Partial<Omit<MambaConfig, "modelType">>;

/**
 * A small config for tests: d 16, d_in 32, n 4, K 4, dt_rank 2, 2 layers, vocab 64,
 * overridable field by field.
 *
 * @example
 * ```ts
 * import { tinyMambaConfig } from "./random_checkpoint.ts";
 * const c = tinyMambaConfig({ vocabSize: 50280 });
 * if (c.vocabSize !== 50280 || c.hiddenSize !== 16) throw new Error();
 * ```
 */
export function tinyMambaConfig(fields: TinyConfigFields = {}): MambaConfig {
  const hidden = fields.hiddenSize ?? 16;
  return parseMambaConfig({
    model_type: "mamba",
    hidden_size: hidden,
    intermediate_size: fields.intermediateSize ?? 2 * hidden,
    state_size: fields.stateSize ?? 4,
    conv_kernel: fields.convKernel ?? 4,
    time_step_rank: fields.timeStepRank ?? Math.max(1, Math.ceil(hidden / 8)),
    num_hidden_layers: fields.numHiddenLayers ?? 2,
    vocab_size: fields.vocabSize ?? 64,
    layer_norm_epsilon: fields.layerNormEpsilon ?? 1e-5,
    use_conv_bias: fields.useConvBias ?? true,
    use_bias: fields.useBias ?? false,
    tie_word_embeddings: fields.tieWordEmbeddings ?? true,
  });
}

/** Draws the tensors of a random checkpoint, in HF's order. */
export function randomMambaTensors(config: MambaConfig, seed = 0): TensorToWrite[] {
  return [...randomMambaTensorStream(config, seed)];
}

/** Draws the tensors of a random checkpoint one at a time (for checkpoints larger than memory). */
export function* randomMambaTensorStream(config: MambaConfig, seed = 0): Generator<TensorToWrite> {
  const rng = new Rng(seed);
  const uniform = (count: number, bound: number) => {
    const a = new Float32Array(count);
    for (let i = 0; i < count; i++) a[i] = rng.uniform(-bound, bound);
    return a;
  };
  for (const [name, shape] of mambaTensorShapes(config)) {
    const count = shape.reduce((a, b) => a * b, 1);
    const leaf = name.split(".").slice(-2).join(".");
    let data: Float32Array;
    if (name === "backbone.embeddings.weight" || name === "lm_head.weight") {
      data = new Float32Array(count);
      for (let i = 0; i < count; i++) data[i] = rng.normal(0, 0.02);
    } else if (
      leaf.endsWith("norm.weight") || name === "backbone.norm_f.weight" || leaf === "mixer.D"
    ) {
      data = new Float32Array(count);
      for (let i = 0; i < count; i++) data[i] = rng.uniform(0.9, 1.1);
    } else if (leaf === "mixer.A_log") {
      const [dIn, n] = shape;
      data = new Float32Array(count);
      for (let c = 0; c < dIn; c++) for (let j = 0; j < n; j++) data[c * n + j] = Math.log(j + 1);
    } else if (leaf === "dt_proj.bias") {
      data = new Float32Array(count);
      for (let i = 0; i < count; i++) {
        const dt = Math.exp(rng.uniform(Math.log(0.001), Math.log(0.1)));
        data[i] = dt + Math.log(-Math.expm1(-dt)); // inverse softplus
      }
    } else if (leaf === "dt_proj.weight") {
      data = uniform(count, config.timeStepRank ** -0.5);
    } else if (leaf.startsWith("conv1d.")) {
      data = uniform(count, 1 / Math.sqrt(config.convKernel));
    } else {
      // in_proj, x_proj, out_proj weights and biases: fan_in is the last dim of the weight.
      const fanIn = leaf.startsWith("in_proj") ? config.hiddenSize : config.intermediateSize;
      data = uniform(count, 1 / Math.sqrt(fanIn));
    }
    yield { name, shape, data };
  }
}

/**
 * Writes a random checkpoint into `dir` (created if needed) and returns its config.
 *
 * @example
 * ```ts
 * import { tinyMambaConfig, writeRandomCheckpoint } from "./random_checkpoint.ts";
 * import { readMambaConfig } from "./config.ts";
 * const dir = await Deno.makeTempDir();
 * await writeRandomCheckpoint(dir, tinyMambaConfig(), { seed: 1 });
 * if ((await readMambaConfig(dir)).numHiddenLayers !== 2) throw new Error();
 * ```
 */
export async function writeRandomCheckpoint(
  dir: string,
  config: MambaConfig,
  options: RandomCheckpointOptions = {},
): Promise<MambaConfig> {
  const { seed = 0, dtype = "F32", maxShardBytes } = options;
  if (maxShardBytes !== undefined && !(maxShardBytes > 0)) {
    throw new SoupError(`Cannot write a checkpoint with maxShardBytes ${maxShardBytes}`);
  }
  await Deno.mkdir(dir, { recursive: true });
  const itemSize = dtype === "F32" ? 4 : 2;
  const metadata = { format: "pt", generator: `state-soup random checkpoint, seed ${seed}` };
  const stream = (function* () {
    for (const t of randomMambaTensorStream(config, seed)) yield { ...t, dtype };
  })();
  if (maxShardBytes === undefined) {
    await writeSafetensors(`${dir}/${SAFETENSORS_SINGLE}`, [...stream], metadata);
  } else {
    // Shards are written as they fill (under temporary names: their count is known at the end).
    const written: { tmp: string; names: string[] }[] = [];
    let shard: TensorToWrite[] = [];
    let size = 0, total = 0;
    const flush = async () => {
      const tmp = `${dir}/.shard-${written.length}.${crypto.randomUUID().slice(0, 8)}.tmp`;
      await writeSafetensors(tmp, shard, metadata);
      written.push({ tmp, names: shard.map((t) => t.name) });
      shard = [];
      size = 0;
    };
    for (const t of stream) {
      const bytes = t.data.length * itemSize;
      if (size > 0 && size + bytes > maxShardBytes) await flush();
      shard.push(t);
      size += bytes;
      total += bytes;
    }
    await flush();
    const pad = (i: number) => String(i).padStart(5, "0");
    const weightMap: Record<string, string> = {};
    for (const [i, w] of written.entries()) {
      const file = `model-${pad(i + 1)}-of-${pad(written.length)}.safetensors`;
      await Deno.rename(w.tmp, `${dir}/${file}`);
      for (const name of w.names) weightMap[name] = file;
    }
    const index = { metadata: { total_size: total }, weight_map: weightMap };
    await atomicWrite(
      `${dir}/${SAFETENSORS_INDEX}`,
      new TextEncoder().encode(JSON.stringify(index, null, 2) + "\n"),
    );
  }
  const json = { ...toHfConfigJson(config), torch_dtype: torchDtype(dtype) };
  await atomicWrite(
    `${dir}/config.json`,
    new TextEncoder().encode(JSON.stringify(json, null, 2) + "\n"),
  );
  return config;
}

function torchDtype(dtype: "F32" | "F16" | "BF16"): string {
  return dtype === "F32" ? "float32" : dtype === "F16" ? "float16" : "bfloat16";
}

/**
 * Whether `dir` is a random checkpoint this tool wrote: only config.json, safetensors files and
 * their index, every safetensors header naming this generator. Such a folder may be replaced
 * (`soup checkpoint --force`); a real checkpoint never is.
 */
export async function isRandomCheckpoint(dir: string): Promise<boolean> {
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(dir)];
  } catch {
    return false;
  }
  const allowed = (n: string) =>
    n === "config.json" || n === SAFETENSORS_INDEX || n.endsWith(".safetensors");
  const files = entries.filter((e) => e.name.endsWith(".safetensors"));
  if (files.length === 0 || entries.some((e) => !e.isFile || !allowed(e.name))) return false;
  for (const f of files) {
    const file = await Deno.open(`${dir}/${f.name}`, { read: true });
    try {
      const head = new Uint8Array(8);
      if ((await file.read(head)) !== 8) return false;
      const len = Number(new DataView(head.buffer).getBigUint64(0, true));
      if (len > 1 << 24) return false;
      const json = new Uint8Array(len);
      let got = 0;
      while (got < len) {
        const n = await file.read(json.subarray(got));
        if (n === null) return false;
        got += n;
      }
      const meta = JSON.parse(new TextDecoder().decode(json)).__metadata__;
      if (!String(meta?.generator ?? "").startsWith("state-soup random checkpoint")) return false;
    } catch {
      return false;
    } finally {
      file.close();
    }
  }
  return true;
}

/**
 * Writes a random checkpoint to `out` safely, as `soup checkpoint` does: never over a real
 * checkpoint or anything else, only over a random checkpoint this project wrote and only with
 * `force`; written in a new folder that then takes its place. What a killed run left is cleaned
 * first (a checkpoint it had moved aside is put back, and counts as there).
 *
 * @example
 * ```ts
 * import { isRandomCheckpoint, tinyMambaConfig, writeRandomCheckpointTo } from "./random_checkpoint.ts";
 * const out = `${await Deno.makeTempDir()}/ckpt`;
 * await writeRandomCheckpointTo(out, tinyMambaConfig());
 * await writeRandomCheckpointTo(out, tinyMambaConfig(), { force: true, seed: 2 });
 * if (!(await isRandomCheckpoint(out))) throw new Error();
 * ```
 */
export async function writeRandomCheckpointTo(
  out: string,
  config: MambaConfig,
  options: RandomCheckpointOptions & { force?: boolean } = {},
): Promise<void> {
  await sweepLeftovers(out, isRandomCheckpoint);
  const exists = await Deno.stat(out).then(() => true, (err) => {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  });
  if (exists) {
    if (!(await isRandomCheckpoint(out))) {
      throw new SoupError(
        `Refusing to write a checkpoint to --out "${out}": it exists and is not a random ` +
          `checkpoint this tool wrote (choose another path)`,
      );
    }
    if (options.force !== true) {
      throw new SoupError(`--out "${out}" holds a random checkpoint: pass --force to replace it`);
    }
  }
  await checkWritable(out);
  const tmp = tempSibling(out);
  try {
    await writeRandomCheckpoint(tmp, config, options);
    await swapFolder(tmp, out, isRandomCheckpoint);
  } catch (err) {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    throw err;
  }
}
