/**
 * Private: a lock that makes writers of one library folder take turns, within a process and
 * across processes. Across processes it is the operating system's lock (`flock`) on
 * `<library>/.lock`, which stays in place: the system releases it when its holder ends, even
 * by Ctrl-C or a crash, so no stale lock can block anyone. Within a process, calls queue.
 *
 * @module
 */

import { SoupError } from "../util/errors.ts";

/** In-process queue per lock path: each call waits for the one before it. */
const queues = new Map<string, Promise<void>>();

/** Options of {@link withLock}. */
export interface LockOptions {
  /** Called once when another process holds the lock and this one starts waiting. */
  onWait?: (owner: string) => void;
}

/** Runs `fn` holding the lock file `path` (created next to what it guards, and kept). */
export async function withLock<T>(
  path: string,
  fn: () => Promise<T>,
  options: LockOptions = {},
): Promise<T> {
  const before = queues.get(path) ?? Promise.resolve();
  let release!: () => void;
  const mine = new Promise<void>((resolve) => (release = resolve));
  const tail = before.then(() => mine);
  queues.set(path, tail);
  await before;
  try {
    let file: Deno.FsFile;
    try {
      file = await Deno.open(path, { read: true, write: true, create: true });
    } catch (err) {
      throw new SoupError(`Cannot open the lock "${path}": ${(err as Error).message}`, {
        file: path,
      });
    }
    try {
      const told = setTimeout(async () => {
        let owner = "another process";
        try {
          const o = JSON.parse(await Deno.readTextFile(path));
          owner = `process ${o.pid} on ${o.host}`;
        } catch { /* being written: name no one */ }
        options.onWait?.(owner);
      }, 200);
      try {
        await file.lock(true);
      } finally {
        clearTimeout(told);
      }
      await file.truncate(0);
      await file.write(
        new TextEncoder().encode(JSON.stringify({ pid: Deno.pid, host: Deno.hostname() })),
      );
      return await fn();
    } finally {
      await file.unlock().catch(() => {});
      file.close();
    }
  } finally {
    release();
    if (queues.get(path) === tail) queues.delete(path);
  }
}
