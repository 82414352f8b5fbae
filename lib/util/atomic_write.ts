/**
 * Writes a file so that readers never see a half-written one: the bytes go to a temporary
 * file in the same directory, which is then renamed over the target.
 *
 * @example
 * ```ts
 * import { atomicWrite } from "./atomic_write.ts";
 * const dir = await Deno.makeTempDir();
 * await atomicWrite(`${dir}/a.txt`, new TextEncoder().encode("hi"));
 * if (await Deno.readTextFile(`${dir}/a.txt`) !== "hi") throw new Error("not written");
 * ```
 *
 * @module
 */

import { NotFoundError } from "./errors.ts";
import { WRITER_TAG } from "./output.ts";

/**
 * Writes `chunks` (one buffer or several, written in order) to `path` atomically.
 * The parent directory must exist. On failure the temporary file is removed.
 */
export async function atomicWrite(
  path: string,
  chunks: Uint8Array | readonly Uint8Array[],
): Promise<void> {
  const parts = chunks instanceof Uint8Array ? [chunks] : chunks;
  // `<path>.<pid>.<tag>.<hex>.tmp`: `sweepLeftovers` knows a killed writer's by its process id.
  const tmp = `${path}.${Deno.pid}.${WRITER_TAG}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  let file: Deno.FsFile | undefined;
  try {
    file = await Deno.open(tmp, { write: true, createNew: true });
    for (const part of parts) {
      let off = 0;
      while (off < part.length) off += await file.write(part.subarray(off));
    }
    await file.syncData();
    file.close();
    file = undefined;
    await Deno.rename(tmp, path);
  } catch (err) {
    try {
      file?.close();
    } catch { /* already closed */ }
    await Deno.remove(tmp).catch(() => {});
    if (err instanceof Deno.errors.NotFound) {
      const folder = path.includes("/") ? path.slice(0, path.lastIndexOf("/")) : ".";
      throw new NotFoundError(`Cannot write "${path}": no folder "${folder}"`, {
        file: path,
        cause: err,
      });
    }
    throw err;
  }
}
