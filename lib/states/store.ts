/**
 * A content-addressed store of Mamba states: a state is kept under the hash of what produced it
 * (the checkpoint's weights fingerprint, the engine and its numerics version, the token ids and
 * the start state), so every figure, notebook and command that reads the same tokens with the same
 * model shares it, and editing unrelated code never throws it away.
 *
 * ```
 * <root>/<key[0:2]>/<key>/
 *   meta.json                     format, identity, tokens, start key, layers stored, logits?,
 *                                 the sha256 of each array's bytes (checked on every read)
 *   conv.npy (m, d_in, K)  ssm.npy (m, d_in, n)  delta_sum.npy (m, d_in)
 *                                 the m stored layers, in the order meta.json lists them
 *   logits.npy (V)                the logits after the last token, when asked for
 * ```
 *
 * Only the layers asked for are stored, so a figure that compares one layer stores 1/64 of a
 * mamba-2.8b state; asking later for more layers (or the logits) of the same key computes the
 * state again and stores it with the union.
 *
 * Every read checks the arrays against the sha256 sums in meta.json: an entry whose files were
 * cut short, changed or written without sums (by an older version) is a
 * {@link CorruptStoreEntry}, which {@link StateStore.extract} recomputes with one log line
 * instead of using it. A read that meets a second writer's swap of the same entry reads again.
 *
 * @module
 */

import { countWork } from "../util/counters.ts";
import type { MambaConfig } from "../model/config.ts";
import { readStateFiles, writeStateFiles } from "./_codec.ts";
import { atomicWrite } from "../util/atomic_write.ts";
import { FormatError, SoupError } from "../util/errors.ts";
import { sha256Hex } from "../util/sha256.ts";
import { swapFolder, sweepLeftovers, tempSibling } from "../util/output.ts";
import {
  checkStateArrays,
  State,
  type StateArrays,
  type StateIdentity,
  stateShape,
} from "./state.ts";
import { configHash } from "../model/config.ts";
import { soupCacheDir } from "../hub/sources.ts";

/** Format of the store's folders; part of every key. */
export const STORE_FORMAT = 1;

/**
 * Version of the engines' numbers: bump it when a change to an engine changes the states it
 * computes, so that stored states of the old numbers are not reused.
 */
export const ENGINE_NUMERICS = 2;

/**
 * sha256 (16 hex digits) of the sources that compute states (lib/engine, lib/onnx, lib/scan,
 * lib/model, tests excluded). A test recomputes it: when those sources change it fails and
 * asks whether the numbers changed (then bump {@link ENGINE_NUMERICS}) before this is updated,
 * so stored states of old numbers are never reused by accident.
 */
export const ENGINE_SOURCES = "8b9ff99b97e683c1";

/**
 * The store every figure, notebook and command shares: `$SOUP_CACHE/states` when SOUP_CACHE is
 * set, else `data/cache/states` in the project.
 */
export function defaultStoreRoot(): string {
  return soupCacheDir("states");
}

/** What produces a state: token ids read from zeros, or from a stored state. */
export interface StoreJob {
  /** Token ids read. */
  ids: readonly number[];
  /** Key of the stored state the ids are read from (stored with every layer). @default zeros */
  from?: string;
}

/** The model and engine every state of one store object belongs to. */
export interface StoreIdentity {
  /** `weightsFingerprint` of the checkpoint. */
  weights: string;
  /** The engine's name as it ran ("onnx-cpu", "onnx-webgpu-float16", "reference", ...). */
  engine: string;
  /** The architecture: layer count and dims. */
  config: MambaConfig;
}

/** Something that reads batches of token ids from start states (an `Engine`). */
export interface BatchRunner {
  runBatch(
    sequences: readonly (readonly number[])[],
    options?: { states?: (State | undefined)[] },
  ): Promise<{ logits: Float32Array; state: State }[]>;
}

/** Options of {@link StateStore.extract}. */
export interface ExtractOptions {
  /** Layers to store and return, in this order. @default every layer */
  layers?: readonly number[];
  /** Sequences per engine call. @default 8 */
  batchSize?: number;
  /** Called after each engine call with the states done (computed or found) and all. */
  onProgress?: (done: number, total: number) => void;
  /** Called once at the end with how many distinct states were computed and found stored. */
  onDone?: (computed: number, found: number) => void;
  /** Store and return the logits after the last token too. @default false */
  logits?: boolean;
  /** Where a corrupt entry that is recomputed is said, in one line. @default console.error */
  log?: (line: string) => void;
}

/** A store entry whose arrays do not match its meta.json (cut short, changed, unverifiable). */
export class CorruptStoreEntry extends SoupError {}

interface StoredMeta {
  format: number;
  weights: string;
  engine: string;
  numerics: number;
  tokens: number;
  from: string | null;
  /** The stored layers, in the order of the arrays' rows. */
  layers: number[];
  /** Whether logits.npy is stored. */
  logits: boolean;
  /** sha256 of each array file's data (little-endian float32 bytes), by file name. */
  sha256?: Record<string, string>;
}

/** The bytes of a float32 array's values. */
function bytesOf(a: Float32Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** The sums meta.json carries: the sha256 of each array, by the file it is written to. */
async function arraySums(a: StateArrays): Promise<Record<string, string>> {
  const sums: Record<string, string> = {
    "conv.npy": await sha256Hex(bytesOf(a.conv)),
    "ssm.npy": await sha256Hex(bytesOf(a.ssm)),
    "delta_sum.npy": await sha256Hex(bytesOf(a.deltaSum)),
  };
  if (a.logits) sums["logits.npy"] = await sha256Hex(bytesOf(a.logits));
  return sums;
}

/** A content-addressed store of states for one model and engine. Open with {@link StateStore.open}. */
export class StateStore {
  /** The store's folder. */
  readonly root: string;
  /** The model and engine its states belong to. */
  readonly identity: StoreIdentity;
  /** What the States it returns say of their model. */
  readonly #stateIdentity: StateIdentity;

  private constructor(root: string, identity: StoreIdentity, hash: string) {
    this.root = root;
    this.identity = identity;
    this.#stateIdentity = { configHash: hash, weights: identity.weights };
  }

  /**
   * Opens (creating) the store in `root` for one model and engine.
   *
   * @example
   * ```ts
   * import { StateStore } from "./store.ts";
   * import { openEngine } from "../engine/mod.ts";
   * import { tinyMambaConfig, weightsFingerprint, writeRandomCheckpoint } from "../model/mod.ts";
   * const dir = await Deno.makeTempDir();
   * await writeRandomCheckpoint(`${dir}/m`, tinyMambaConfig());
   * const engine = await openEngine(`${dir}/m`, { device: "cpu" });
   * const store = await StateStore.open(`${dir}/states`, {
   *   weights: await weightsFingerprint(`${dir}/m`),
   *   engine: engine.name,
   *   config: engine.config,
   * });
   * const [a, b] = await store.extract(engine, [{ ids: [1, 2, 3] }, { ids: [4] }], { layers: [1] });
   * if (a.ssm.length !== engine.config.intermediateSize * engine.config.stateSize) throw new Error();
   * await engine.close();
   * ```
   */
  static async open(root: string, identity: StoreIdentity): Promise<StateStore> {
    await Deno.mkdir(root, { recursive: true });
    const clean = root.replace(/\/+$/, "");
    await sweepStore(clean);
    return new StateStore(clean, identity, await configHash(identity.config));
  }

  /** The key of the state a job produces (32 hex digits). */
  async key(job: StoreJob): Promise<string> {
    const text = JSON.stringify({
      format: STORE_FORMAT,
      weights: this.identity.weights,
      engine: this.identity.engine,
      numerics: ENGINE_NUMERICS,
      ids: [...job.ids],
      from: job.from ?? null,
    });
    return (await sha256Hex(new TextEncoder().encode(text))).slice(0, 32);
  }

  #dir(key: string): string {
    return `${this.root}/${key.slice(0, 2)}/${key}`;
  }

  #allLayers(): number[] {
    return Array.from({ length: this.identity.config.numHiddenLayers }, (_, i) => i);
  }

  #meta(key: string): Promise<StoredMeta | undefined> {
    return this.#metaAt(`${this.#dir(key)}/meta.json`);
  }

  /** An entry's meta.json at `path` (undefined when there is none). */
  async #metaAt(path: string): Promise<StoredMeta | undefined> {
    let text: string;
    try {
      text = await Deno.readTextFile(path);
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return undefined;
      throw err;
    }
    try {
      const meta = JSON.parse(text) as StoredMeta;
      if (meta.format !== STORE_FORMAT || !Array.isArray(meta.layers)) throw new Error("format");
      return meta;
    } catch (err) {
      throw FormatError.at(path, `not a state store meta.json (${(err as Error).message})`, err);
    }
  }

  /**
   * Whether the state of `key` is stored with all of `layers` (default: every layer), and with
   * its logits when `logits` is set.
   */
  async has(
    key: string,
    layers: readonly number[] = this.#allLayers(),
    logits = false,
  ): Promise<boolean> {
    const meta = await this.#meta(key);
    return meta !== undefined && layers.every((l) => meta.layers.includes(l)) &&
      (!logits || meta.logits);
  }

  /**
   * The stored state of `key`, of `layers` only (in that order: a {@link State} whose
   * `layerIds` are `layers`), with its logits when they are stored, and the store's model as
   * its identity. Throws {@link SoupError} when it or a layer is not stored.
   */
  async get(key: string, layers: readonly number[] = this.#allLayers()): Promise<State> {
    // A second writer swapping in the same entry can leave a reader with the meta.json of one
    // and the arrays of the other for a moment: a read that fails its sums is tried again.
    for (let attempt = 0;; attempt++) {
      try {
        return await this.#read(key, layers);
      } catch (err) {
        // (An entry missing for a moment is the same swap seen between its two renames.)
        if (!(err instanceof SoupError) || attempt >= 3) throw err;
        await new Promise((r) => setTimeout(r, 50 * (attempt + 1)));
      }
    }
  }

  async #read(key: string, layers: readonly number[]): Promise<State> {
    const meta = await this.#meta(key);
    const absent = meta === undefined
      ? [...layers]
      : layers.filter((l) => !meta.layers.includes(l));
    if (meta === undefined || absent.length > 0) {
      throw new SoupError(`The state store has no layer ${absent.join(", ")} of state ${key}`);
    }
    const { intermediateSize: dIn, convKernel: k, stateSize: n } = this.identity.config;
    const shape = stateShape(this.identity.config);
    const dir = this.#dir(key);
    const corrupt = (why: string, cause?: unknown) =>
      new CorruptStoreEntry(`The state store's entry "${dir}" is corrupt: ${why}`, {
        file: dir,
        cause,
      });
    if (meta.sha256 === undefined) throw corrupt("its meta.json has no sha256 sums");
    let stored;
    try {
      stored = await readStateFiles(dir, meta.layers.length, shape, {
        logits: meta.logits,
        what: "the entry's meta.json",
      });
    } catch (err) {
      if (!(err instanceof SoupError)) throw err;
      throw corrupt(err.message, err);
    }
    const sums = await arraySums(stored);
    for (const [file, sum] of Object.entries(sums)) {
      if (meta.sha256[file] !== sum) {
        throw corrupt(`${file} does not match the sha256 in its meta.json`);
      }
    }
    const from = layers.map((l) => meta.layers.indexOf(l)); // the stored rows, in order
    const rows = (all: Float32Array, size: number) => gatherRows(all, size, from);
    return new State(shape, {
      conv: rows(stored.conv, dIn * k),
      ssm: rows(stored.ssm, dIn * n),
      deltaSum: rows(stored.deltaSum, dIn),
      ...(stored.logits ? { logits: stored.logits } : {}),
    }, {
      layers,
      identity: this.#stateIdentity,
    });
  }

  /**
   * Stores `layers` of a full state (every layer) that `job` produced under `key`, together
   * with the layers stored before (taken from this full state), and its logits when `logits`
   * is set (or stored before). The entry is written as a new folder swapped in whole; when a
   * second writer's swap of the same key dropped some of these layers, it is written again.
   */
  async put(
    key: string,
    job: StoreJob,
    state: State,
    layers: readonly number[] = this.#allLayers(),
    logits = false,
  ): Promise<void> {
    await this.#put(key, job, state, layers, logits, 0);
  }

  async #put(
    key: string,
    job: StoreJob,
    state: State,
    layers: readonly number[],
    logits: boolean,
    attempt: number,
  ): Promise<void> {
    const { intermediateSize: dIn, convKernel: k, stateSize: n } = this.identity.config;
    if (state instanceof State && !state.complete) {
      throw new SoupError(`Cannot store state ${key}: it holds only some layers`);
    }
    checkStateArrays(state, stateShape(this.identity.config), `store state ${key}`, {
      needDeltaSum: true,
    });
    // A meta.json that cannot be read is a broken entry: this put replaces it whole.
    const before = await this.#meta(key).catch((err) => {
      if (err instanceof FormatError) return undefined;
      throw err;
    });
    const union = [...new Set([...(before?.layers ?? []), ...layers])].sort((a, b) => a - b);
    const withLogits = logits || (before?.logits ?? false);
    if (withLogits && state.logits === undefined) {
      throw new SoupError(`Cannot store state ${key}: its logits are missing`);
    }
    const dir = this.#dir(key);
    let replaced: StoredMeta | undefined;
    // The whole entry is written into a new folder that then replaces the old one, so a crash
    // or a second writer never leaves meta.json and the arrays disagreeing.
    const tmp = tempSibling(dir);
    await Deno.mkdir(tmp, { recursive: true });
    const rows = (all: Float32Array, size: number) => gatherRows(all, size, union);
    const m = union.length;
    try {
      const arrays = {
        conv: rows(state.conv, dIn * k),
        ssm: rows(state.ssm, dIn * n),
        deltaSum: rows(state.deltaSum, dIn),
        ...(withLogits ? { logits: state.logits! } : {}),
      };
      await writeStateFiles(tmp, arrays, m, stateShape(this.identity.config));
      const meta: StoredMeta = {
        format: STORE_FORMAT,
        weights: this.identity.weights,
        engine: this.identity.engine,
        numerics: ENGINE_NUMERICS,
        tokens: job.ids.length,
        from: job.from ?? null,
        layers: union,
        logits: withLogits,
        sha256: await arraySums(arrays),
      };
      await atomicWrite(`${tmp}/meta.json`, new TextEncoder().encode(JSON.stringify(meta) + "\n"));
      countWork({ stateRows: m, logitsStored: withLogits ? 1 : 0 });
      try {
        // The store's own entry; what it replaces is read first (a broken one counts as none).
        await swapFolder(tmp, dir, async (old) => {
          replaced = await this.#metaAt(`${old}/meta.json`).catch(() => undefined);
          return true;
        });
      } catch (err) {
        // Another writer put its entry in place between our two renames: it holds the same
        // numbers (same key); a later call adds any layer it lacks.
        if (!(await this.#meta(key))) throw err;
        await Deno.remove(tmp, { recursive: true });
      }
    } catch (err) {
      await Deno.remove(tmp, { recursive: true }).catch(() => {});
      throw err;
    }
    // Two writers of one key that read the same older entry each store their own union, and the
    // later swap drops the other's layers. The later writer sees them in the entry it replaced,
    // and the earlier one, reading the entry in place back, sees its own missing: while either
    // is so, the put runs again with them (this state holds every layer, and its logits when
    // it has them).
    const lost = (replaced?.layers ?? []).filter((l) => !union.includes(l));
    const lostLogits = (replaced?.logits ?? false) && !withLogits && state.logits !== undefined;
    const now = await this.#meta(key).catch(() => undefined);
    if (
      attempt < 8 && (lost.length > 0 || lostLogits || !now ||
        !union.every((l) => now.layers.includes(l)) || (withLogits && !now.logits))
    ) {
      await this.#put(key, job, state, [...union, ...lost], withLogits || lostLogits, attempt + 1);
    }
  }

  /**
   * The states `jobs` produce, of `layers` (see {@link StateStore.get}), computing what the
   * store lacks with `engine.runBatch`: missing jobs are sorted by length (so a batch pads
   * little) and run `batchSize` at a time, each state stored as soon as it is computed. A job
   * with `from` reads its ids from that stored state (every layer of it must be stored).
   */
  async extract(
    engine: BatchRunner,
    jobs: readonly StoreJob[],
    options: ExtractOptions = {},
  ): Promise<State[]> {
    const layers = options.layers ?? this.#allLayers();
    const logits = options.logits ?? false;
    const batchSize = Math.max(1, options.batchSize ?? 8);
    const log = options.log ?? ((line: string) => console.error(line));
    const keys = await Promise.all(jobs.map((j) => this.key(j)));
    const todo = new Map<string, StoreJob>();
    // What is stored is read (and its sums checked) now: a corrupt entry is computed again.
    const found = new Map<string, State>();
    for (const [i, key] of keys.entries()) {
      if (todo.has(key) || found.has(key)) continue;
      let stored: boolean;
      try {
        stored = await this.has(key, layers, logits);
      } catch (err) {
        if (!(err instanceof FormatError)) throw err;
        log(`${err.message}: computing the entry again`);
        stored = false;
      }
      if (stored) {
        try {
          found.set(key, await this.get(key, layers));
          continue;
        } catch (err) {
          if (!(err instanceof SoupError)) throw err; // corrupt, or gone since has()
          log(`${err.message}: computing it again`);
        }
      }
      todo.set(key, jobs[i]);
    }
    const missing = [...todo.entries()].sort((a, b) => b[1].ids.length - a[1].ids.length);
    const fresh = new Map<string, State>();
    let done = jobs.length - missing.length;
    if (missing.length === 0) options.onProgress?.(done, jobs.length);
    for (let start = 0; start < missing.length; start += batchSize) {
      const batch = missing.slice(start, start + batchSize);
      const states = await Promise.all(
        batch.map(([, job]) => (job.from === undefined ? undefined : this.get(job.from))),
      );
      const results = await engine.runBatch(batch.map(([, job]) => job.ids), { states });
      for (const [i, [key, job]] of batch.entries()) {
        const state = results[i].state.withLogits(results[i].logits);
        await this.put(key, job, state, layers, logits);
        // What was just stored, kept as get() would read it back (the same float32 values).
        fresh.set(key, this.#rowsOf(state, layers, logits));
      }
      done += batch.length;
      options.onProgress?.(done, jobs.length);
    }
    options.onDone?.(missing.length, new Set(keys).size - missing.length);
    return keys.map((key) => (fresh.get(key) ?? found.get(key))!);
  }

  /** `layers` of a full state as a State of this store's model (the logits when `logits`). */
  #rowsOf(state: State, layers: readonly number[], logits: boolean): State {
    const { intermediateSize: d, convKernel: k, stateSize: n } = this.identity.config;
    const rows = (all: Float32Array, size: number) => gatherRows(all, size, layers);
    return new State(stateShape(this.identity.config), {
      conv: rows(state.conv, d * k),
      ssm: rows(state.ssm, d * n),
      deltaSum: rows(state.deltaSum, d),
      ...(logits && state.logits ? { logits: state.logits } : {}),
    }, { layers, identity: this.#stateIdentity });
  }
}

/** Rows `rows` (in that order) of `all`, rows of `size` values, as one new array. */
function gatherRows(all: Float32Array, size: number, rows: readonly number[]): Float32Array {
  const out = new Float32Array(rows.length * size);
  for (const [i, r] of rows.entries()) out.set(all.subarray(r * size, (r + 1) * size), i * size);
  return out;
}

/**
 * Removes what writers killed during a put left in the store (temporary entries, and entries
 * moved aside by a swap: put back when their key has none, else removed; see `sweepLeftovers`).
 */
async function sweepStore(root: string): Promise<void> {
  for (const shard of Deno.readDirSync(root)) {
    if (!shard.isDirectory || !/^[0-9a-f]{2}$/.test(shard.name)) continue;
    const bases = new Set<string>();
    for (const e of Deno.readDirSync(`${root}/${shard.name}`)) {
      const m = e.name.match(/^([0-9a-f]{32})\.(?:tmp|old)-/);
      if (m) bases.add(m[1]);
    }
    for (const key of bases) {
      await sweepLeftovers(`${root}/${shard.name}/${key}`, () => Promise.resolve(true));
    }
  }
}
