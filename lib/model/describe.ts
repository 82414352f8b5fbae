/**
 * A checkpoint folder in words: what `soup info` prints.
 *
 * @module
 */

import { configHash, readMambaConfig } from "./config.ts";
import { SafetensorsCheckpoint } from "./safetensors.ts";

/**
 * Lines naming the folder, its config hash, every config field and the tensors' count, files and
 * bytes.
 *
 * @example
 * ```ts
 * import { describeCheckpoint } from "./describe.ts";
 * import { tinyMambaConfig, writeRandomCheckpoint } from "./random_checkpoint.ts";
 * const dir = await Deno.makeTempDir();
 * await writeRandomCheckpoint(dir, tinyMambaConfig({ numHiddenLayers: 1 }));
 * const lines = await describeCheckpoint(dir);
 * if (!lines.some((l) => l.startsWith("numHiddenLayers") && l.endsWith(" 1"))) throw new Error();
 * ```
 */
export async function describeCheckpoint(dir: string): Promise<string[]> {
  const config = await readMambaConfig(dir);
  using ckpt = await SafetensorsCheckpoint.open(dir);
  let bytes = 0;
  for (const t of ckpt.tensors.values()) bytes += t.byteLength;
  return [
    `model      ${dir}`,
    `config     ${await configHash(config)}`,
    ...Object.entries(config).map(([k, v]) => `${k.padEnd(18)} ${v}`),
    `tensors    ${ckpt.tensors.size} in ${ckpt.files.length} file(s), ${bytes} bytes`,
  ];
}
