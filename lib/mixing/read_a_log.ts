/**
 * Reads `A_log` of every layer from a checkpoint, for {@link mixADecay}.
 *
 * @module
 */

import { readMambaConfig } from "../model/config.ts";
import { SafetensorsCheckpoint } from "../model/safetensors.ts";
import { FormatError } from "../util/errors.ts";

/**
 * Returns `backbone.layers.{i}.mixer.A_log` of layers 0..L-1 stacked into one flat
 * Float32Array (L, d_in, n), C order, read from the checkpoint folder's safetensors files
 * (single or sharded; F32, F16, BF16 converted). The layer count and dims come from the folder's
 * `config.json`; a tensor of another shape is a {@link FormatError} naming it. `A = -exp(A_log)`.
 *
 * @param checkpointDir A Hugging Face Mamba checkpoint folder.
 * @example
 * ```ts
 * import { readALog } from "./read_a_log.ts";
 * import { tinyMambaConfig, writeRandomCheckpoint } from "../model/random_checkpoint.ts";
 * const dir = await Deno.makeTempDir();
 * await writeRandomCheckpoint(dir, tinyMambaConfig({ numHiddenLayers: 3, stateSize: 5 }));
 * const aLog = await readALog(dir);
 * if (aLog.length !== 3 * 32 * 5) throw new Error(`got ${aLog.length}`);
 * // Random checkpoints use A_log[c, j] = log(j + 1), as S4D-real does.
 * if (Math.abs(aLog[32 * 5 + 4] - Math.log(5)) > 1e-6) throw new Error();
 * ```
 */
export async function readALog(checkpointDir: string): Promise<Float32Array> {
  const config = await readMambaConfig(checkpointDir);
  const { numHiddenLayers: nl, intermediateSize: dIn, stateSize: n } = config;
  using ckpt = await SafetensorsCheckpoint.open(checkpointDir);
  const out = new Float32Array(nl * dIn * n);
  for (let i = 0; i < nl; i++) {
    const name = `backbone.layers.${i}.mixer.A_log`;
    const info = ckpt.info(name);
    if (info.shape.join() !== [dIn, n].join()) {
      throw FormatError.at(
        info.file,
        `tensor "${name}" has shape (${
          info.shape.join(", ")
        }) but config.json implies (${dIn}, ${n})`,
      );
    }
    out.set(await ckpt.readFloat32(name), i * dIn * n);
  }
  return out;
}
