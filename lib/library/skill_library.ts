/**
 * A skill library: states from k-shot task demonstrations kept on disk as state folders, with
 * an index to list, filter and load them.
 *
 * ```
 * library/
 *   index.json                   entries: id, folder, task, k, seed, model, configHash, shape, created
 *   states/<id>/conv.npy         one state folder per skill (see lib/states/state_dir.ts)
 *   states/<id>/ssm.npy
 *   states/<id>/delta_sum.npy
 *   states/<id>/logits.npy       when known
 *   states/<id>/meta.json        StateMeta; `extra` carries task, k, seed, demo indices, ...
 * ```
 *
 * @module
 */

import type { MambaConfig } from "../model/config.ts";
import { configHash } from "../model/config.ts";
import { loadState, saveState, type StateMeta, stateShapeOf } from "../states/state_dir.ts";
import { checkStateArrays, State } from "../states/state.ts";
import { retrieve, type RetrieveOptions } from "../retrieval/retrieve.ts";
import {
  type Library,
  type LibraryRetrieveOptions,
  matchesFilter,
  type Skill,
  type SkillFilter,
  type SkillHit,
} from "./library.ts";
import { FormatError, NotFoundError, SoupError } from "../util/errors.ts";
import { libraryHooks } from "./_hooks.ts";
import { type LockOptions, withLock } from "./_lock.ts";
import { readIndex, sameShape, SHAPE_KEYS, showShape, writeIndex } from "./_index_file.ts";
import { sanitizeSkillId, SKILL_ID_PATTERN } from "./sanitize_skill_id.ts";

/** One line of `index.json`: where a skill's state is and what it is. */
export interface SkillEntry extends Skill {
  /** Unique id (ignoring case), a safe folder name ({@link SKILL_ID_PATTERN}). */
  readonly id: string;
  /** The state folder, relative to the library folder: `states/<id>`. */
  readonly folder: string;
  /** Task the demonstrations came from (`meta.extra.task`); the label retrieval returns. */
  readonly task: string;
  /** Number of demonstrations (`meta.extra.k`). */
  readonly k: number;
  /** Seed that drew the demonstrations (`meta.extra.seed`), or null when none was given. */
  readonly seed: number | null;
  /** Model id or folder (`meta.model`). */
  readonly model: string;
  /** Config hash of the model (`meta.configHash`). */
  readonly configHash: string;
  /** Dims of the state (`meta.shape`). */
  readonly shape: StateMeta["shape"];
  /** When the state was made (`meta.created`). */
  readonly created: string;
}

/** A loaded skill with its label, as {@link SkillLibrary.loadAll} returns it. */
export interface LabeledSkill {
  /** The entry's id. */
  id: string;
  /** The entry's task: the label to retrieve or cluster by. */
  label: string;
  /** The index entry. */
  entry: SkillEntry;
  /** The state, with its folder's meta.json. */
  state: State & { readonly meta: StateMeta };
}

/** Options of {@link SkillLibrary.open}. */
export interface OpenLibraryOptions {
  /** Create the folder and an empty index.json when they are missing. @default false */
  create?: boolean;
  /**
   * The model every state must belong to: states of another config hash or shape are refused
   * when added and when loaded, and a library holding another model's states is refused.
   * @default the model of the library's first entry
   */
  config?: MambaConfig;
}

/** Options of {@link SkillLibrary.add}. */
export interface AddSkillOptions {
  /**
   * Id of the new entry; it must match {@link SKILL_ID_PATTERN} (see {@link sanitizeSkillId})
   * and not be taken, ignoring case. @default sanitized `<task>-k<k>-seed<seed>`, with `-2`,
   * `-3`, ... appended when taken
   */
  id?: string;
}

/** What every state of a library must match. */
interface Reference {
  configHash: string;
  shape: StateMeta["shape"];
  /** Where the reference comes from, for messages: "the library was opened for ...". */
  describe: string;
}

/**
 * A skill library in a self-contained folder (the folder backend of the skill library concept
 * of `library.ts`, beside `SkillIndex` over the shared store): skill states with an
 * `index.json`. Open it with {@link SkillLibrary.open}.
 *
 * Writes are atomic: {@link SkillLibrary.add} writes the state folder first (itself written
 * under a temporary name and renamed into place) and then rewrites index.json through a
 * temporary file renamed over it, removing the new folder if that fails; a reader sees either
 * the old library or the new one. A folder under `states/` that the index does not list is the
 * leftover of an interrupted add and is replaced by the next add of that id. Adds through any
 * number of `SkillLibrary` objects of one process are serialized, and each re-reads index.json;
 * separate processes take turns through the system's lock on `.lock` ({@link SkillLibrary.withLock}).
 */
export class SkillLibrary implements Library<SkillEntry> {
  /** The library folder, as given to {@link SkillLibrary.open} (no trailing slash). */
  readonly dir: string;
  /** The config given to {@link SkillLibrary.open}, if any. */
  readonly config: MambaConfig | undefined;
  #entries: SkillEntry[];
  readonly #configReference: Reference | undefined;
  readonly #lockKey: string;

  private constructor(
    dir: string,
    entries: SkillEntry[],
    config: MambaConfig | undefined,
    configReference: Reference | undefined,
    lockKey: string,
  ) {
    this.dir = dir;
    this.#entries = entries;
    this.config = config;
    this.#configReference = configReference;
    this.#lockKey = lockKey;
  }

  /**
   * Opens the library in `dir`, reading and checking its index.json. Without `create`, a
   * missing folder or index.json is a {@link NotFoundError}; a malformed index.json is a
   * {@link FormatError} naming it; with `config`, a library of another model is a
   * {@link SoupError} naming both.
   *
   * @param dir The library folder.
   * @param options `create`, `config`.
   * @example
   * ```ts
   * import { SkillLibrary } from "./skill_library.ts";
   * const dir = `${await Deno.makeTempDir()}/skills`;
   * const lib = await SkillLibrary.open(dir, { create: true });
   * if (lib.list().length !== 0) throw new Error("a new library is empty");
   * const index = JSON.parse(await Deno.readTextFile(`${dir}/index.json`));
   * if (index.entries.length !== 0) throw new Error();
   * ```
   */
  static async open(dir: string, options: OpenLibraryOptions = {}): Promise<SkillLibrary> {
    const clean = dir.length > 1 ? dir.replace(/\/+$/, "") : dir;
    const what = `skill library "${clean}"`;
    const info = await Deno.stat(clean).catch((err) => {
      if (err instanceof Deno.errors.NotFound) return undefined;
      throw err;
    });
    if (info === undefined) {
      if (!options.create) {
        throw new NotFoundError(
          `Cannot open ${what}: no such folder (pass { create: true } to start one)`,
          { file: clean },
        );
      }
      await Deno.mkdir(clean, { recursive: true });
    } else if (!info.isDirectory) {
      throw new SoupError(`Cannot open ${what}: it is a file, not a folder`, { file: clean });
    }
    const indexPath = `${clean}/index.json`;
    let entries: SkillEntry[];
    try {
      entries = await readIndex(indexPath);
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err;
      if (!options.create) {
        throw new NotFoundError(
          `Cannot open ${what}: it has no index.json (pass { create: true } to start one)`,
          { file: indexPath, cause: err },
        );
      }
      // A library starts only in a new or empty folder: a folder of the user's is never
      // turned into one.
      // (Its own files are no objection: the lock and the index another add is writing now.)
      const held = [...Deno.readDirSync(clean)].map((e) => e.name)
        .filter((name) => name !== ".lock" && !/^index\.json\..*\.tmp$/.test(name));
      if (held.length > 0) {
        const shown = held.sort().slice(0, 3).join(", ") + (held.length > 3 ? ", ..." : "");
        throw new SoupError(
          `Refusing to start ${what}: the folder holds ${shown} but no index.json (start a ` +
            `library in a new or empty folder)`,
          { file: clean },
        );
      }
      entries = [];
      await writeIndex(indexPath, entries);
    }
    let reference: Reference | undefined;
    if (options.config !== undefined) {
      const hash = await configHash(options.config), shape = stateShapeOf(options.config);
      reference = {
        configHash: hash,
        shape,
        describe: `the library was opened for config ${hash} (shape ${showShape(shape)})`,
      };
      const first = entries[0];
      if (first && !matches(first, reference)) {
        throw new SoupError(
          `Cannot open ${what} for config ${reference.configHash} (shape ${
            showShape(reference.shape)
          }): it holds states of model "${first.model}" (config ${first.configHash}, shape ${
            showShape(first.shape)
          })`,
          { file: indexPath },
        );
      }
    }
    return new SkillLibrary(clean, entries, options.config, reference, await Deno.realPath(clean));
  }

  /** Path of the library's index.json. */
  get indexPath(): string {
    return `${this.dir}/index.json`;
  }

  /**
   * The entries, in the order they were added, optionally only those of one task, k or seed.
   * Reflects index.json as read at open and at the last add.
   *
   * @param filter `task`, `k`, `seed`.
   * @example
   * ```ts
   * import { SkillLibrary } from "./skill_library.ts";
   * const lib = await SkillLibrary.open(await Deno.makeTempDir(), { create: true });
   * if (lib.list({ task: "antonym", k: 5 }).length !== 0) throw new Error();
   * ```
   */
  list(filter: SkillFilter = {}): SkillEntry[] {
    return this.#entries
      .filter((e) => matchesFilter(e, filter))
      .map((e) => ({ ...e, shape: { ...e.shape } }));
  }

  /** The meta.json of every entry, by id (read from disk at each call). */
  async metas(): Promise<Map<string, StateMeta>> {
    const out = new Map<string, StateMeta>();
    for (const e of this.#entries) {
      out.set(e.id, JSON.parse(await Deno.readTextFile(`${this.dir}/${e.folder}/meta.json`)));
    }
    return out;
  }

  /**
   * Refuses (a {@link SoupError} naming both) when the library holds states of weights other than
   * `weights`, a checkpoint of the same shape: their states must not be mixed up. Entries written
   * before fingerprints were kept pass. `what` names where `weights` came from.
   *
   * @example
   * ```ts
   * import { SkillLibrary } from "./skill_library.ts";
   * const lib = await SkillLibrary.open(await Deno.makeTempDir(), { create: true });
   * await lib.checkWeights("abc", "model tiny"); // an empty library holds no other weights
   * ```
   */
  async checkWeights(
    weights: string,
    what: string,
    metas?: ReadonlyMap<string, StateMeta>,
  ): Promise<void> {
    const known = metas ?? await this.metas();
    for (const e of this.#entries) {
      const meta = known.get(e.id);
      if (meta?.weightsFingerprint !== undefined && meta.weightsFingerprint !== weights) {
        throw new SoupError(
          `The library "${this.dir}" holds states of other weights (entry "${e.id}", fingerprint ` +
            `${meta.weightsFingerprint}) than ${what} (${weights}), though of the same shape`,
        );
      }
    }
  }

  /**
   * Runs `fn` while this process alone writes the library: other processes (and their
   * `library add`) wait for the system's lock (`flock`) on `<dir>/.lock`, which is released
   * when its holder ends, even by a crash. On entry the index is re-read and what an
   * interrupted writer left is cleaned:
   * `states/*.tmp-*` folders, `index.json` temporary files, and `states/<id>.old-*` folders of
   * ids the index does not list. {@link SkillLibrary.add} takes the lock itself; hold it around
   * a read-decide-add sequence (which demonstrations are still free, how many states are
   * missing) so that no other writer changes the library in between.
   */
  async withLock<T>(fn: () => Promise<T>, options: LockOptions = {}): Promise<T> {
    // The real path: two spellings of one folder share the in-process queue.
    return await withLock(`${this.#lockKey}/.lock`, async () => {
      this.#held++;
      try {
        this.#entries = await readIndex(this.indexPath);
        await this.#cleanLeftovers();
        return await fn();
      } finally {
        this.#held--;
      }
    }, options);
  }

  /** Running {@link SkillLibrary.withLock} calls of this object (adds inside go straight in). */
  #held = 0;

  async #cleanLeftovers(): Promise<void> {
    const listed = new Set(this.#entries.map((e) => e.folder.replace(/^states\//, "")));
    const remove = (path: string) =>
      Deno.remove(path, { recursive: true }).catch((err) => {
        if (!(err instanceof Deno.errors.NotFound)) throw err;
      });
    for (const e of Deno.readDirSync(this.dir)) {
      if (/^index\.json\.\d+\.(?:[0-9a-f]{6}\.)?[0-9a-f]{8}\.tmp$/.test(e.name)) {
        await remove(`${this.dir}/${e.name}`);
      }
    }
    let names: string[] = [];
    try {
      names = [...Deno.readDirSync(`${this.dir}/states`)].map((e) => e.name);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
    for (const name of names) {
      const tmp = /\.tmp-(?:\d+-(?:[0-9a-f]{6}-)?)?[0-9a-f]{8}$/.test(name);
      const old = name.match(/^(.*)\.old-(?:\d+-(?:[0-9a-f]{6}-)?)?[0-9a-f]{8}$/);
      if (tmp || (old && !listed.has(old[1]))) await remove(`${this.dir}/states/${name}`);
    }
  }

  /**
   * Adds a state as a new skill and returns its index entry. `meta.extra` must carry `task`
   * (a non-empty string) and `k` (an integer >= 0), and may carry `seed` (an integer), demo
   * indices and anything else JSON can hold; `meta` is saved as the folder's meta.json.
   *
   * Refused with a {@link SoupError}, before anything is written: arrays that do not match
   * `meta.shape`; a model (config hash or shape) other than that of the config given to
   * {@link SkillLibrary.open} or of the library's first entry (the message names both); an
   * unsafe or taken `id`; a `meta` JSON cannot hold.
   *
   * @param state The state (every layer; a meta it carries is replaced by `meta`).
   * @param meta What the state folder's meta.json records.
   * @param options `id`.
   * @example
   * ```ts
   * import { SkillLibrary } from "./skill_library.ts";
   * import { configHash, tinyMambaConfig } from "../model/mod.ts";
   * import { stateShapeOf } from "../states/mod.ts";
   * import { zeroState } from "../engine/types.ts";
   * const config = tinyMambaConfig();
   * const lib = await SkillLibrary.open(await Deno.makeTempDir(), { create: true, config });
   * const entry = await lib.add(zeroState(config), {
   *   model: "tiny", configHash: await configHash(config), shape: stateShapeOf(config),
   *   tokenIds: [1, 2], source: null, engine: "reference", created: new Date().toISOString(),
   *   extra: { task: "antonym", k: 5, seed: 0, demos: [3, 1, 4, 1, 5] },
   * });
   * if (entry.id !== "antonym-k5-seed0" || entry.folder !== "states/antonym-k5-seed0") {
   *   throw new Error(entry.id);
   * }
   * ```
   */
  add(state: State, meta: StateMeta, options: AddSkillOptions = {}): Promise<SkillEntry> {
    // Adds take turns through the lock (queued within the process); inside withLock they go
    // straight in.
    if (this.#held > 0) return this.#add(state, meta, options);
    return this.withLock(() => this.#add(state, meta, options));
  }

  async #add(state: State, meta: StateMeta, options: AddSkillOptions): Promise<SkillEntry> {
    const what = `skill library "${this.dir}"`;
    const refuse = (problem: string): never => {
      throw new SoupError(`Cannot add a state to ${what}: ${problem}`);
    };
    // Another SkillLibrary object or process may have added since this one read the index.
    this.#entries = await readIndex(this.indexPath);

    if (typeof meta !== "object" || meta === null) return refuse("no meta given");
    const extra = meta.extra ?? {};
    const task = extra.task, k = extra.k, seed = extra.seed ?? null;
    if (typeof task !== "string" || task === "") {
      refuse(`meta.extra.task must be a non-empty string, got ${JSON.stringify(task)}`);
    }
    if (typeof k !== "number" || !Number.isInteger(k) || k < 0) {
      refuse(`meta.extra.k must be an integer >= 0, got ${JSON.stringify(k)}`);
    }
    if (seed !== null && (typeof seed !== "number" || !Number.isSafeInteger(seed))) {
      refuse(`meta.extra.seed must be an integer when given, got ${JSON.stringify(seed)}`);
    }
    for (const key of ["model", "configHash", "created"] as const) {
      if (typeof meta[key] !== "string" || meta[key] === "") {
        refuse(`meta.${key} must be a non-empty string, got ${JSON.stringify(meta[key])}`);
      }
    }
    const s = meta.shape;
    if (
      typeof s !== "object" || s === null ||
      !SHAPE_KEYS.every((key) => Number.isInteger(s[key]) && s[key] > 0)
    ) {
      refuse(`meta.shape must give positive layers, dInner, convKernel, stateSize and vocab`);
    }
    if (!(state instanceof State)) refuse("it is not a State");
    if (!state.complete) {
      refuse(`it holds layers ${state.layerIds.join(", ")} of ${s.layers}, not every layer`);
    }
    try {
      checkStateArrays(state, s, "add", { what: "it", needDeltaSum: true });
    } catch (err) {
      refuse((err as Error).message.replace(/^Cannot add: /, ""));
    }
    const reference = this.#reference();
    if (reference && !matches(meta, reference)) {
      refuse(
        `it comes from model "${meta.model}" (config ${meta.configHash}, shape ${
          showShape(s)
        }), but ${reference.describe}`,
      );
    }
    try {
      JSON.stringify(meta);
    } catch (err) {
      refuse(`its meta cannot be written as JSON (${(err as Error).message})`);
    }

    const taken = new Map(this.#entries.map((e) => [e.id.toLowerCase(), e.id]));
    let id: string;
    if (options.id !== undefined) {
      id = options.id;
      if (typeof id !== "string" || !SKILL_ID_PATTERN.test(id)) {
        refuse(
          `id ${JSON.stringify(id)} is not a safe folder name (letters, digits, ".", "_", "-"; ` +
            `try "${sanitizeSkillId(String(id))}")`,
        );
      }
      if (taken.has(id.toLowerCase())) {
        refuse(`the id "${id}" is taken (by "${taken.get(id.toLowerCase())}")`);
      }
    } else {
      const base = sanitizeSkillId(`${task}-k${k}${seed === null ? "" : `-seed${seed}`}`);
      id = base;
      for (let i = 2; taken.has(id.toLowerCase()); i++) {
        const suffix = `-${i}`;
        id = base.slice(0, 128 - suffix.length).replace(/\.+$/, "") + suffix;
      }
    }

    const entry: SkillEntry = {
      id,
      folder: `states/${id}`,
      task: task as string,
      k: k as number,
      seed: seed as number | null,
      model: meta.model,
      configHash: meta.configHash,
      shape: Object.fromEntries(SHAPE_KEYS.map((key) => [key, s[key]])) as StateMeta["shape"],
      created: meta.created,
    };
    const folder = `${this.dir}/${entry.folder}`;
    await Deno.mkdir(`${this.dir}/states`, { recursive: true });
    // A folder of that id that the index does not list is the leftover of an interrupted add.
    await saveState(folder, state.withMeta(meta), { replace: true });
    try {
      await libraryHooks.afterStateWritten?.(folder);
      const entries = [...this.#entries, entry];
      await writeIndex(this.indexPath, entries);
      this.#entries = entries;
    } catch (err) {
      await Deno.remove(folder, { recursive: true }).catch(() => {});
      throw err;
    }
    return { ...entry, shape: { ...entry.shape } };
  }

  /**
   * Loads one skill's state folder. An unknown id, or an entry whose folder or files are
   * missing, is a {@link NotFoundError} naming them; a folder whose meta.json disagrees with
   * the index (or with the config given to {@link SkillLibrary.open}) is refused.
   *
   * @param id The entry's id (exact case).
   * @example
   * ```ts
   * import { SkillLibrary } from "./skill_library.ts";
   * import { NotFoundError } from "../util/errors.ts";
   * const lib = await SkillLibrary.open(await Deno.makeTempDir(), { create: true });
   * const err = await lib.load("antonym-k5-seed0").catch((e) => e);
   * if (!(err instanceof NotFoundError)) throw new Error("no such skill");
   * ```
   */
  async load(id: string): Promise<State & { readonly meta: StateMeta }> {
    const entry = this.#entries.find((e) => e.id === id);
    if (entry === undefined) {
      const ids = this.#entries.map((e) => `"${e.id}"`);
      throw new NotFoundError(
        `Cannot load "${id}" from skill library "${this.dir}": no such id (it holds ${
          ids.length === 0 ? "none" : ids.slice(0, 10).join(", ") + (ids.length > 10 ? ", ..." : "")
        })`,
      );
    }
    const folder = `${this.dir}/${entry.folder}`;
    const info = await Deno.stat(folder).catch(() => undefined);
    if (!info?.isDirectory) {
      throw new NotFoundError(
        `Cannot load "${id}" from skill library "${this.dir}": index.json lists its folder ` +
          `"${entry.folder}" but "${folder}" is missing`,
        { file: folder },
      );
    }
    const saved = await loadState(folder, { config: this.config });
    if (saved.meta.configHash !== entry.configHash || !sameShape(saved.meta.shape, entry.shape)) {
      throw FormatError.at(
        `${folder}/meta.json`,
        `it records config ${saved.meta.configHash} and shape ${
          showShape(saved.meta.shape)
        } but index.json says config ${entry.configHash} and shape ${showShape(entry.shape)}`,
      );
    }
    return saved;
  }

  /**
   * Loads every skill {@link SkillLibrary.list} returns for `filter`, in index order, each with
   * its task as label (ready for retrieval: `retrieve(queries, skills, { layer })`).
   *
   * @param filter `task`, `k`, `seed`.
   * @example
   * ```ts
   * import { SkillLibrary } from "./skill_library.ts";
   * const lib = await SkillLibrary.open(await Deno.makeTempDir(), { create: true });
   * const skills = await lib.loadAll({ k: 5 });
   * if (skills.length !== 0) throw new Error();
   * ```
   */
  async loadAll(filter: SkillFilter = {}): Promise<LabeledSkill[]> {
    const out: LabeledSkill[] = [];
    for (const entry of this.list(filter)) {
      out.push({ id: entry.id, label: entry.task, entry, state: await this.load(entry.id) });
    }
    return out;
  }

  /**
   * For each query state, the `k` most similar skills, best first (see `retrieve`), among the
   * skills `filter` takes; a query made with other weights than a skill's is refused.
   *
   * @example
   * ```ts ignore
   * const lib = await SkillLibrary.open("my-library");
   * const [[best]] = await lib.retrieve([await loadState("query")], { layer: 12, k: 1 });
   * console.log(best.skill.task, best.score);
   * ```
   */
  async retrieve(
    queries: readonly State[],
    options: LibraryRetrieveOptions,
  ): Promise<SkillHit<SkillEntry>[][]> {
    const { filter = {}, ...rest } = options;
    const skills = await this.loadAll(filter);
    if (skills.length === 0) {
      throw new SoupError(
        `Cannot retrieve from the library "${this.dir}": ${
          this.#entries.length === 0 ? "it is empty" : `no skill passes ${JSON.stringify(filter)}`
        }`,
      );
    }
    const metas = new Map(skills.map((s) => [s.id, s.state.meta]));
    for (const [i, q] of queries.entries()) {
      const weights = q?.identity?.weights;
      if (weights !== undefined) await this.checkWeights(weights, `query ${i}`, metas);
    }
    const candidates = skills.map((s) => ({ state: s.state, label: s.label }));
    return retrieve(queries, candidates, rest as RetrieveOptions).map((hits) =>
      hits.map((h) => ({
        skill: skills[h.index].entry,
        state: skills[h.index].state,
        score: h.score,
      }))
    );
  }

  /** The config given to open, else the first entry. */
  #reference(): Reference | undefined {
    if (this.#configReference) return this.#configReference;
    const first = this.#entries[0];
    if (first === undefined) return undefined;
    return {
      configHash: first.configHash,
      shape: first.shape,
      describe: `the library holds states of model "${first.model}" (config ${first.configHash}, ` +
        `shape ${showShape(first.shape)}), e.g. "${first.id}"`,
    };
  }
}

function matches(x: { configHash: string; shape: StateMeta["shape"] }, ref: Reference): boolean {
  return x.configHash === ref.configHash && sameShape(x.shape, ref.shape);
}
