/**
 * Checks made before any work on the paths a command will write: that the location can be
 * written at all, and that an existing file is replaced only when it is this tool's own kind of
 * output and `--force` says so. Each problem is one line naming the path.
 *
 * @module
 */

import { SoupError } from "./errors.ts";

/** The folder `path` would be written into: its parent, or "." for a bare name. */
function parentOf(path: string): string {
  const clean = path.replace(/\/+$/, "");
  const i = clean.lastIndexOf("/");
  return i < 0 ? "." : i === 0 ? "/" : clean.slice(0, i);
}

/**
 * Throws a one-line {@link SoupError} unless `path` can be created: the nearest existing folder
 * on its way must be a folder this process can create files in (checked by creating and
 * removing a probe file there).
 *
 * @example
 * ```ts
 * import { checkWritable } from "./output.ts";
 * await checkWritable(`${await Deno.makeTempDir()}/new/folder/out.csv`); // fine
 * const err = await checkWritable("/proc/no/such/out.csv").catch((e) => e);
 * if (!(err instanceof Error)) throw new Error("/proc is not writable");
 * ```
 */
export async function checkWritable(path: string): Promise<void> {
  let dir = parentOf(path);
  for (;;) {
    try {
      const info = await Deno.stat(dir);
      if (!info.isDirectory) {
        throw new SoupError(`Cannot write "${path}": "${dir}" is a file, not a folder`, {
          file: path,
        });
      }
      break;
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound || err instanceof Deno.errors.NotADirectory)) {
        if (err instanceof SoupError) throw err;
        throw new SoupError(`Cannot write "${path}": ${(err as Error).message}`, { file: path });
      }
      const up = parentOf(dir);
      if (up === dir) break;
      dir = up;
    }
  }
  const probe = `${dir}/.soup-write-check-${crypto.randomUUID().slice(0, 8)}`;
  try {
    (await Deno.open(probe, { write: true, createNew: true })).close();
    await Deno.remove(probe);
  } catch (err) {
    const why = err instanceof Deno.errors.PermissionDenied
      ? "permission denied"
      : (err as Error).message;
    throw new SoupError(`Cannot write "${path}": the folder "${dir}" is not writable (${why})`, {
      file: path,
    });
  }
}

/** Options of {@link checkFileOutput}. */
export interface FileOutputOptions {
  /** Replace an existing file of this tool's kind (`--force`). @default false */
  force?: boolean;
  /** How the path was given, for messages (e.g. "--csv"). */
  flag?: string;
  /**
   * The first line this tool writes into such a file (a CSV header): an existing file that
   * starts with another line is not this tool's and is never replaced.
   */
  firstLine?: string;
}

/**
 * Checks, before any work, that a file may be written at `path`: nothing is there, or a file
 * of this tool's kind (its first line is `firstLine`) and `force` is set; and the location is
 * writable. A folder, or a file this tool did not write, is refused even with `force`.
 */
export async function checkFileOutput(
  path: string,
  options: FileOutputOptions = {},
): Promise<void> {
  const named = options.flag ? `${options.flag} "${path}"` : `"${path}"`;
  let info: Deno.FileInfo | undefined;
  try {
    info = await Deno.stat(path);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) {
      throw new SoupError(`Cannot write ${named}: ${(err as Error).message}`, { file: path });
    }
  }
  if (info !== undefined) {
    if (!info.isFile) {
      throw new SoupError(`Refusing to write ${named}: it is a folder`, { file: path });
    }
    if (options.firstLine !== undefined) {
      const head = await readFirstLine(path);
      if (head !== options.firstLine) {
        throw new SoupError(
          `Refusing to replace ${named}: it is not a file this tool wrote (its first line is ` +
            `${JSON.stringify(head.slice(0, 60))}); choose another path`,
          { file: path },
        );
      }
    }
    if (!options.force) {
      throw new SoupError(`${named} exists: pass --force to replace it, or choose another path`, {
        file: path,
      });
    }
  }
  await checkWritable(path);
}

async function readFirstLine(path: string): Promise<string> {
  const file = await Deno.open(path, { read: true });
  try {
    const buf = new Uint8Array(4096);
    const n = (await file.read(buf)) ?? 0;
    const text = new TextDecoder().decode(buf.subarray(0, n));
    return text.split(/\r?\n/, 1)[0];
  } finally {
    file.close();
  }
}

/** What {@link inspectOwnFolder} found at a path. */
export interface FolderFound {
  /** Nothing there, a folder of this tool's kind, or anything else. */
  kind: "missing" | "ours" | "other";
  /** What the "other" thing is, for a message ("a file", "a folder holding notes.txt"). */
  what?: string;
}

/**
 * What is at `path`, for deciding whether this tool may replace it: nothing; a folder whose
 * entries are all plain files `allowed` by name and whose `meta.json` satisfies `isOurs` (an
 * empty folder counts as ours when `emptyIsOurs`); or something else.
 */
export async function inspectOwnFolder(
  path: string,
  options: {
    allowed: (name: string) => boolean;
    /** Given meta.json and every file name in the folder. */
    isOurs: (meta: Record<string, unknown>, names: readonly string[]) => boolean;
    emptyIsOurs?: boolean;
  },
): Promise<FolderFound> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound || err instanceof Deno.errors.NotADirectory) {
      return { kind: "missing" }; // checkWritable then names a file on the way
    }
    throw err;
  }
  if (!info.isDirectory) return { kind: "other", what: "a file" };
  const entries = [...Deno.readDirSync(path)];
  if (entries.length === 0) {
    return options.emptyIsOurs ? { kind: "ours" } : { kind: "other", what: "an empty folder" };
  }
  const foreign = entries.filter((e) => !e.isFile || !options.allowed(e.name)).map((e) => e.name);
  if (foreign.length > 0) {
    const shown = foreign.slice(0, 3).join(", ") + (foreign.length > 3 ? ", ..." : "");
    return { kind: "other", what: `a folder holding ${shown}` };
  }
  try {
    const meta = JSON.parse(await Deno.readTextFile(`${path}/meta.json`));
    const names = entries.map((e) => e.name);
    if (typeof meta === "object" && meta !== null && options.isOurs(meta, names)) {
      return { kind: "ours" };
    }
  } catch { /* no or unreadable meta.json: not a complete folder of ours */ }
  return { kind: "other", what: "a folder without this tool's meta.json" };
}

/**
 * This writer's tag: 6 hex digits of the host name and the process id namespace, so that a
 * process id in a leftover's name is only trusted on the machine (and container) that wrote it.
 */
export const WRITER_TAG: string = writerTag();

function writerTag(): string {
  let host = "", ns = "";
  try {
    host = Deno.hostname();
  } catch { /* no --allow-sys: the namespace alone tells containers apart */ }
  try {
    ns = Deno.readLinkSync("/proc/self/ns/pid");
  } catch { /* no /proc (not Linux): the host name alone */ }
  let h = 0x811c9dc5; // FNV-1a
  for (const c of `${host}\n${ns}`) h = Math.imul(h ^ c.charCodeAt(0), 0x01000193) >>> 0;
  return (h & 0xffffff).toString(16).padStart(6, "0");
}

/** `<pid>-<tag>-<8 hex>`: who writes a temporary name, for {@link sweepLeftovers}. */
export function writerStamp(): string {
  return `${Deno.pid}-${WRITER_TAG}-${crypto.randomUUID().slice(0, 8)}`;
}

/**
 * A fresh temporary sibling of `path` to write it whole in: `<path>.tmp-<pid>-<tag>-<8 hex>`.
 * The process id and the writer's tag (host and process namespace) let {@link sweepLeftovers}
 * tell the leftover of a killed writer from a write in progress.
 */
export function tempSibling(path: string): string {
  return `${path.replace(/\/+$/, "")}.tmp-${writerStamp()}`;
}

/**
 * Whether the writer of a leftover may still run: "alive" or "dead" when its process id can be
 * asked about here (same host and process namespace, Linux's /proc), else "unknown".
 */
function writerState(pid: number, tag: string | undefined): "alive" | "dead" | "unknown" {
  if (tag !== WRITER_TAG) return "unknown"; // another machine or container: its ids mean nothing here
  if (pid === Deno.pid) return "alive";
  try {
    Deno.statSync("/proc/self");
  } catch {
    return "unknown"; // no /proc to ask
  }
  try {
    Deno.statSync(`/proc/${pid}`);
    return "alive";
  } catch {
    return "dead";
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * Leftovers whose writer cannot be asked about (another machine or container, no /proc, a name
 * without a process id) count as a killed writer's when untouched for this long.
 */
export const UNKNOWN_LEFTOVER_MS = 60 * 60 * 1000;

/**
 * Cleans what interrupted writes of `path` left beside it, so a killed run leaves nothing
 * forever. A leftover is a killed writer's when its process id and tag say its process has
 * ended on this machine, or, when they cannot say (another host or container sharing the
 * folder, no /proc, names of older versions), when it has been untouched for an hour
 * ({@link UNKNOWN_LEFTOVER_MS}). Then:
 * - temporary siblings (`<path>.tmp-<pid>-<tag>-<hex>` of {@link tempSibling},
 *   `<path>.<pid>.<tag>.<hex>.tmp` of `atomicWrite`, and the older forms without a tag) are
 *   removed;
 * - folders a swap moved aside (`<path>.old-<pid>-<tag>-<hex>`, or older forms) are handled only
 *   when `isOurs` says this tool wrote them: when nothing is at `path` (the swap stopped before
 *   the new folder came in) the newest is put back there, and the others are removed.
 *
 * Writes in progress and anything else are left alone; another sweeper running at the same
 * time is no error. `options.now` is the time leftovers are aged against (tests). Returns the
 * paths removed or put back.
 */
export async function sweepLeftovers(
  path: string,
  isOurs: (old: string) => Promise<boolean> = () => Promise.resolve(false),
  options: { now?: number } = {},
): Promise<string[]> {
  const now = options.now ?? Date.now();
  const clean = path.replace(/\/+$/, "");
  const base = clean.slice(clean.lastIndexOf("/") + 1);
  if (base === "" || base === "." || base === "..") return []; // "/", "." or "..": no siblings
  const dir = parentOf(clean);
  let names: string[];
  try {
    names = [...Deno.readDirSync(dir)].map((e) => e.name);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound || err instanceof Deno.errors.NotADirectory) return [];
    throw err;
  }
  const b = escapeRegExp(base);
  const stamp = "(\\d+)-([0-9a-f]{6})-[0-9a-f]{8}";
  const tmp = new RegExp(
    `^${b}\\.(?:tmp-${stamp}|(\\d+)\\.([0-9a-f]{6})\\.[0-9a-f]{8}\\.tmp|tmp-(\\d+)-[0-9a-f]{8}|` +
      `(\\d+)\\.[0-9a-f]{8}\\.tmp|tmp-[0-9a-f]{8})$`,
  );
  const old = new RegExp(`^${b}\\.old-(?:${stamp}|(\\d+)-[0-9a-f]{8}|[0-9a-f]{8})$`);
  const done: string[] = [];
  const at = (name: string) => (dir === "." ? name : `${dir === "/" ? "" : dir}/${name}`);
  // When it was last touched: modified, or renamed (a rename changes ctime, not mtime: a folder
  // moved aside a second ago holds files written long before).
  const mtime = async (p: string) => {
    try {
      const info = await Deno.lstat(p);
      return Math.max(info.mtime?.getTime() ?? Date.now(), info.ctime?.getTime() ?? Date.now());
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return undefined; // another sweeper was first
      throw err;
    }
  };
  /** Whether the leftover at `p`, written by `pid` with `tag` (when known), is a dead writer's. */
  const dead = async (p: string, pid: string | undefined, tag: string | undefined) => {
    const state = pid === undefined ? "unknown" : writerState(Number(pid), tag);
    if (state !== "unknown") return state === "dead";
    const t = await mtime(p);
    return t !== undefined && now - t > UNKNOWN_LEFTOVER_MS;
  };
  const remove = async (p: string) => {
    try {
      await Deno.remove(p, { recursive: true });
      done.push(p);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err; // another sweeper was first
    }
  };
  const asides: { path: string; time: number }[] = [];
  for (const name of names.sort()) {
    const t = name.match(tmp);
    if (t) {
      const pid = t[1] ?? t[3] ?? t[5] ?? t[6];
      if (await dead(at(name), pid, t[2] ?? t[4])) await remove(at(name));
      continue;
    }
    const o = name.match(old);
    if (o && await dead(at(name), o[1] ?? o[3], o[2]) && await isOurs(at(name))) {
      const time = await mtime(at(name));
      if (time !== undefined) asides.push({ path: at(name), time });
    }
  }
  // The newest folder moved aside comes back when nothing took its place; the rest go.
  asides.sort((x, y) => y.time - x.time);
  for (const aside of asides) {
    if (!(await exists(clean))) {
      try {
        await Deno.rename(aside.path, clean);
        done.push(clean);
        continue;
      } catch (err) {
        if (err instanceof Deno.errors.NotFound) continue; // another sweeper was first
        if (!(await exists(clean))) throw err;
        // Something came in at `path` meanwhile: this one is stale, like the rest.
      }
    }
    await remove(aside.path);
  }
  return done;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
}

/**
 * Puts the finished folder `tmp` at `dir` by renames: what is at `dir` is moved aside, `tmp`
 * takes its place, and the old one is removed only when `isOurs(old)` says this tool wrote it
 * (something else may have appeared since the caller's check; it is then left at the `.old-*`
 * path, never deleted). A crash between the renames leaves the old folder at
 * `<dir>.old-<pid>-<tag>-*`, which {@link sweepLeftovers} puts back.
 */
export async function swapFolder(
  tmp: string,
  dir: string,
  isOurs: (old: string) => Promise<boolean>,
): Promise<void> {
  const old = `${dir}.old-${writerStamp()}`;
  let moved = false;
  try {
    await Deno.rename(dir, old);
    moved = true;
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err; // nothing there yet
  }
  try {
    await Deno.rename(tmp, dir);
  } catch (err) {
    if (moved) await Deno.rename(old, dir).catch(() => {}); // put the old one back
    throw err;
  }
  if (moved && await isOurs(old)) {
    await Deno.remove(old, { recursive: true }).catch((err) => {
      if (!(err instanceof Deno.errors.NotFound)) throw err; // a sweeper removed it already
    });
  }
}
