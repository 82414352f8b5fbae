/**
 * Private: a lock file that makes writers of one library folder take turns, across processes.
 * `<library>/.lock` is created exclusively and holds the owner's pid and host; a lock whose
 * owner is gone (same host, no such process) is stale and taken over. Within one process the
 * lock is reentrant.
 *
 * @module
 */

import { SoupError } from "../util/errors.ts";

/** Lock files this process holds, with how many times each is held. */
const held = new Map<string, number>();

/** Whether the process `pid` of this host is alive (Linux: /proc; elsewhere assume it is). */
function alive(pid: number): boolean {
  if (Deno.build.os !== "linux") return true;
  try {
    Deno.statSync(`/proc/${pid}`);
    return true;
  } catch {
    return false;
  }
}

/** Options of {@link withLock}. */
export interface LockOptions {
  /** Called once when the lock is held by another process and this one starts waiting. */
  onWait?: (owner: string) => void;
  /** Give up after this many milliseconds. @default 1 hour */
  timeoutMs?: number;
}

/** Runs `fn` holding the lock file `path` (created next to what it guards). */
export async function withLock<T>(
  path: string,
  fn: () => Promise<T>,
  options: LockOptions = {},
): Promise<T> {
  const count = held.get(path) ?? 0;
  if (count > 0) {
    held.set(path, count + 1);
    try {
      return await fn();
    } finally {
      held.set(path, held.get(path)! - 1);
    }
  }
  await acquire(path, options);
  held.set(path, 1);
  try {
    return await fn();
  } finally {
    held.delete(path);
    await Deno.remove(path).catch(() => {}); // already gone if taken over as stale: nothing to free
  }
}

async function acquire(path: string, options: LockOptions): Promise<void> {
  const host = Deno.hostname();
  const deadline = Date.now() + (options.timeoutMs ?? 3_600_000);
  let told = false;
  for (let delay = 20;; delay = Math.min(delay * 2, 500)) {
    try {
      const file = await Deno.open(path, { write: true, createNew: true });
      try {
        await file.write(
          new TextEncoder().encode(JSON.stringify({ pid: Deno.pid, host, since: Date.now() })),
        );
      } finally {
        file.close();
      }
      return;
    } catch (err) {
      if (!(err instanceof Deno.errors.AlreadyExists)) throw err;
    }
    let owner: { pid?: number; host?: string } = {};
    try {
      owner = JSON.parse(await Deno.readTextFile(path));
    } catch { /* being written or just removed: look again */ }
    if (owner.host === host && typeof owner.pid === "number" && !alive(owner.pid)) {
      // The owner died (Ctrl-C, a crash) without removing it: take it over.
      await Deno.remove(path).catch(() => {});
      continue;
    }
    if (!told && owner.pid !== undefined) {
      options.onWait?.(`process ${owner.pid} on ${owner.host}`);
      told = true;
    }
    if (Date.now() > deadline) {
      throw new SoupError(
        `Gave up waiting for "${path}", held by process ${owner.pid} on ${owner.host}`,
        { file: path },
      );
    }
    await new Promise((r) => setTimeout(r, delay));
  }
}
