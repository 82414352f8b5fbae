/**
 * A short fingerprint of a checkpoint's weights, so that states and caches of two checkpoints of
 * one shape (another seed, another fine-tune) are never mixed up.
 *
 * @module
 */

import { sha256Hex } from "../util/sha256.ts";

/**
 * A fingerprint of a checkpoint's weights: for each safetensors file, its size and the sha256 of
 * its first and last MiB (header and data), so two checkpoints of one shape with other weights
 * (another seed, a re-download) never share a cache or a state.
 *
 * @example
 * ```ts
 * import { weightsFingerprint } from "./fingerprint.ts";
 * import { tinyMambaConfig, writeRandomCheckpoint } from "./random_checkpoint.ts";
 * const a = await Deno.makeTempDir(), b = await Deno.makeTempDir();
 * await writeRandomCheckpoint(a, tinyMambaConfig(), { seed: 1 });
 * await writeRandomCheckpoint(b, tinyMambaConfig(), { seed: 2 });
 * if (await weightsFingerprint(a) === await weightsFingerprint(b)) throw new Error("same");
 * ```
 */
export async function weightsFingerprint(dir: string): Promise<string> {
  const files = [...Deno.readDirSync(dir)]
    .filter((e) => e.name.endsWith(".safetensors"))
    .map((e) => e.name)
    .sort();
  const parts: string[] = [];
  for (const name of files) {
    const file = await Deno.open(`${dir}/${name}`, { read: true });
    try {
      const size = (await file.stat()).size;
      const span = Math.min(size, 1 << 20);
      const head = new Uint8Array(span), tail = new Uint8Array(span);
      await file.seek(0, Deno.SeekMode.Start);
      for (let got = 0; got < span;) got += (await file.read(head.subarray(got))) ?? span;
      await file.seek(size - span, Deno.SeekMode.Start);
      for (let got = 0; got < span;) got += (await file.read(tail.subarray(got))) ?? span;
      parts.push(`${name}:${size}:${await sha256Hex(head)}:${await sha256Hex(tail)}`);
    } finally {
      file.close();
    }
  }
  return (await sha256Hex(new TextEncoder().encode(parts.join("\n")))).slice(0, 16);
}
