/**
 * {@link ResultCache}: an experiment's partial results, keyed by everything that produced them, so
 * that a killed run resumes and a changed parameter recomputes.
 *
 * @module
 */

import { projectPath, soupCacheDir } from "../hub/sources.ts";
import { buildStateMeta, loadState, saveState } from "../states/state_dir.ts";
import type { State } from "../states/state.ts";
import { atomicWrite } from "../util/atomic_write.ts";
import { sha256Hex } from "../util/sha256.ts";
import { NotFoundError, SoupError } from "../util/errors.ts";
import { checkWritable } from "../util/output.ts";
import { codeHash, PRESENTATION_DIRS } from "./code_hash.ts";
import type { ExperimentModel } from "./model.ts";

/**
 * The partial results of one run (evaluations, embeddings, mixed states), in a folder keyed by
 * the figure, its parameters, the model's weights and the computing code: a killed run finds
 * what it had saved, other parameters or code use another folder.
 */
export class ResultCache {
  /** The folder. */
  readonly dir: string;
  /** The shard this run computes, when it computes only part of the work. */
  readonly shard: Shard | undefined;
  /** Units this run computed, found cached, and left to other shards. */
  readonly units = { computed: 0, found: 0, left: 0 };
  readonly #model: ExperimentModel;
  readonly #log: (line: string) => void;
  /** Units being computed now: a unit inside another is its shard's too. */
  #depth = 0;
  /** When progress was last logged (a shard logs how far it is every {@link PROGRESS_MS}). */
  #lastProgress = performance.now();
  /** The shard records found when a merge (a run without a shard) opened the cache. */
  #records: ShardRecord[] = [];
  /** The units a merge computed itself (no shard had cached them), by name. */
  readonly #merged: string[] = [];

  private constructor(
    dir: string,
    model: ExperimentModel,
    log: (line: string) => void,
    shard: Shard | undefined,
  ) {
    this.dir = dir;
    this.#model = model;
    this.#log = log;
    this.shard = shard;
  }

  /**
   * The cache of `figure` with `params` on `model`: `<cacheDir>/<figure>/<key>` (default
   * `$SOUP_CACHE/experiments`, else `<project>/data/cache/experiments`). The key leaves out the
   * presentation code ({@link PRESENTATION_DIRS}).
   */
  static async open(
    figure: string,
    params: Record<string, unknown>,
    model: ExperimentModel,
    options: { cacheDir?: string; log?: (line: string) => void; shard?: Shard } = {},
  ): Promise<ResultCache> {
    const compute = await codeHash(PRESENTATION_DIRS);
    const key = (await sha256Hex(
      new TextEncoder().encode(JSON.stringify({
        figure,
        params,
        model: model.id,
        hash: model.configHash,
        weights: model.weights,
        code: compute,
      })),
    )).slice(0, 16);
    const root = options.cacheDir ?? soupCacheDir("experiments");
    const dir = `${root}/${figure}/${key}`;
    await checkCache(dir);
    await Deno.mkdir(dir, { recursive: true });
    const cache = new ResultCache(
      dir,
      model,
      options.log ?? ((line) => console.error(line)),
      options.shard,
    );
    if (options.shard === undefined) cache.#records = await readShardRecords(dir);
    else {
      await cache.#record("running");
      cache.#log(
        `shard ${options.shard.index}/${options.shard.count}: computing the units whose name ` +
          `hashes to ${options.shard.index} (FNV-1a mod ${options.shard.count}), leaving the ` +
          `others to the other shards`,
      );
    }
    return cache;
  }

  /** The path of this shard's record (`shards/<I>-of-<N>.json`). */
  #recordPath(shard: Shard): string {
    return `${this.dir}/shards/${shard.index}-of-${shard.count}.json`;
  }

  /**
   * Writes this shard's record: "running" when it starts (a shard killed before it ends leaves
   * it so), "done" with its counts at the end; the merge reads them to say what was missing.
   */
  async #record(state: "running" | "done"): Promise<void> {
    const shard = this.shard!;
    const record: ShardRecord = { ...shard, state, ...this.units };
    await Deno.mkdir(`${this.dir}/shards`, { recursive: true });
    await atomicWrite(
      this.#recordPath(shard),
      new TextEncoder().encode(JSON.stringify(record) + "\n"),
    );
  }

  /**
   * Ends the run's use of the cache and returns what to say of the shards: in a shard, its
   * counts (and its record is marked done); in a merge of shards, which shards ran, which
   * never finished, and how many of each shard's units the merge had to compute itself;
   * undefined for a plain run that found no shard's record.
   */
  async finish(): Promise<string | undefined> {
    const { shard, units } = this;
    if (shard !== undefined) {
      await this.#record("done");
      return `shard ${shard.index}/${shard.count}: ${units.computed} units computed, ` +
        `${units.found} found cached, ${units.left} left to other shards; no results written ` +
        `(the merge writes them)`;
    }
    if (this.#records.length === 0) return undefined;
    return mergeReport(this.#records, this.#merged, units.found);
  }

  /**
   * A JSON value cached under `name`, or computed, saved atomically, and returned. In a shard's
   * run, a unit of another shard that is not cached yet throws {@link OtherShard} (its caller
   * skips it) instead of computing.
   */
  async json<T>(name: string, compute: () => Promise<T>): Promise<T> {
    const path = `${this.dir}/${name}.json`;
    let text: string | undefined;
    try {
      text = await Deno.readTextFile(path);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
    if (text !== undefined) {
      try {
        const value = JSON.parse(text) as T;
        this.units.found++;
        return value;
      } catch (err) {
        // A cache file cut short (a crash while it was written by an older version) is
        // recomputed, and said.
        this.#log(
          `cache file ${projectPath(path)} is not valid JSON (${
            (err as Error).message
          }): recomputing`,
        );
      }
    }
    if (
      this.shard !== undefined && this.#depth === 0 &&
      shardOf(name, this.shard.count) !== this.shard.index
    ) {
      this.units.left++;
      throw new OtherShard(name);
    }
    const top = this.#depth === 0;
    this.#depth++;
    let value: T;
    try {
      value = await compute();
    } finally {
      this.#depth--;
    }
    await atomicWrite(path, new TextEncoder().encode(JSON.stringify(value)));
    this.units.computed++;
    if (top && this.shard === undefined && this.#records.length > 0) this.#merged.push(name);
    if (this.shard !== undefined && performance.now() - this.#lastProgress > PROGRESS_MS) {
      this.#lastProgress = performance.now();
      const { computed, found, left } = this.units;
      this.#log(
        `shard ${this.shard.index}/${this.shard.count}: ${computed} units computed, ${found} ` +
          `found cached, ${left} left to other shards so far`,
      );
    }
    return value;
  }

  /**
   * The state cached under `name` (a state this run derives, such as a mix), or computed, saved
   * as a state folder, and returned. Only a missing one is computed; a broken or foreign one is
   * an error to see.
   */
  async state(name: string, compute: () => Promise<State>): Promise<State> {
    const dir = `${this.dir}/states/${name}`;
    const m = this.#model;
    try {
      return await loadState(dir, { config: m.config, weights: m.weights });
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err;
      const state = await compute();
      await Deno.mkdir(`${this.dir}/states`, { recursive: true });
      await saveState(
        dir,
        state.withMeta(
          await buildStateMeta(m.engine, { model: m.id, tokenIds: [], extra: { name } }),
        ),
        { replace: true },
      );
      return state;
    }
  }
}

/** A one-line error unless the cache folder `dir` can be made (it names SOUP_CACHE). */
export async function checkCache(dir: string): Promise<void> {
  try {
    await checkWritable(dir);
  } catch (err) {
    if (!(err instanceof SoupError)) throw err;
    throw new SoupError(
      `${err.message}; the experiments cache states and results there (set SOUP_CACHE, or ` +
        `cacheDir, to a writable folder)`,
      { file: dir },
    );
  }
}

/** How often a shard logs how far it is, at most (ms). */
export const PROGRESS_MS = 20_000;

/** What a shard leaves in the cache for the merge: `shards/<I>-of-<N>.json`. */
export interface ShardRecord extends Shard {
  /** "running" from its start; "done" once it has computed its part. */
  state: "running" | "done";
  computed: number;
  found: number;
  left: number;
}

/** The shard records in the cache folder `dir` (none when no shard ran there). */
async function readShardRecords(dir: string): Promise<ShardRecord[]> {
  const out: ShardRecord[] = [];
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(`${dir}/shards`)];
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return out;
    throw err;
  }
  for (const e of entries) {
    if (!/^\d+-of-\d+\.json$/.test(e.name)) continue;
    try {
      const r = JSON.parse(await Deno.readTextFile(`${dir}/shards/${e.name}`)) as ShardRecord;
      if (Number.isInteger(r.index) && Number.isInteger(r.count) && r.count > 0) out.push(r);
    } catch { /* a record cut short says nothing: its shard's units are found or computed */ }
  }
  return out.sort((a, b) => a.count - b.count || a.index - b.index);
}

/**
 * The merge's account of the shards: for each shard count N that shards ran with, which
 * shards ran and finished, and the units of each shard that the merge computed itself (its
 * shard never ran, was killed, or failed).
 *
 * @example
 * ```ts
 * import { mergeReport, shardOf } from "./result_cache.ts";
 * const units = ["a", "b", "c", "d", "e", "f"];
 * const lost = units.filter((u) => shardOf(u, 3) === 1);
 * const line = mergeReport([
 *   { index: 0, count: 3, state: "done", computed: 2, found: 0, left: 4 },
 *   { index: 1, count: 3, state: "running", computed: 0, found: 0, left: 0 },
 * ], lost, units.length - lost.length);
 * if (!line.includes("shard 2/3 never ran") || !line.includes("shard 1/3 did not finish")) {
 *   throw new Error(line);
 * }
 * ```
 */
export function mergeReport(
  records: readonly ShardRecord[],
  computedHere: readonly string[],
  found: number,
): string {
  const parts: string[] = [];
  for (const count of [...new Set(records.map((r) => r.count))]) {
    const of = records.filter((r) => r.count === count);
    const done = of.filter((r) => r.state === "done").map((r) => r.index);
    const running = of.filter((r) => r.state !== "done").map((r) => r.index);
    const never = Array.from({ length: count }, (_, i) => i).filter((i) =>
      !of.some((r) => r.index === i)
    );
    const missing = new Map<number, number>();
    for (const name of computedHere) {
      const i = shardOf(name, count);
      missing.set(i, (missing.get(i) ?? 0) + 1);
    }
    const say = (i: number) => {
      const n = missing.get(i) ?? 0;
      return n > 0 ? ` (${n} of its units computed here)` : "";
    };
    const lines = [
      `${done.length} of ${count} shards finished (${done.join(", ") || "none"})`,
      ...running.map((i) => `shard ${i}/${count} did not finish${say(i)}`),
      ...never.map((i) => `shard ${i}/${count} never ran${say(i)}`),
    ];
    for (const [i, n] of missing) {
      if (done.includes(i)) {
        lines.push(
          `shard ${i}/${count} finished but ${n} of its units were missing and computed here`,
        );
      }
    }
    parts.push(lines.join("; "));
  }
  const summary = computedHere.length === 0
    ? `every unit was cached by the shards (${found} found), none computed here`
    : `${computedHere.length} units computed here, ${found} found cached`;
  return `merge: ${parts.join(" | ")}; ${summary}`;
}

/** Which part of a run's work this process computes: shard `index` of `count` (from 0). */
export interface Shard {
  index: number;
  count: number;
}

/** Thrown by {@link ResultCache.json} for a unit another shard computes. */
export class OtherShard extends Error {
  constructor(readonly unit: string) {
    super(`unit ${unit} belongs to another shard`);
  }
}

/**
 * The shard a unit belongs to: FNV-1a of its name modulo `count`, so that any process assigns
 * it alike.
 *
 * @example
 * ```ts
 * import { shardOf } from "./result_cache.ts";
 * const a = shardOf("results-antonym-k1", 3);
 * if (a !== shardOf("results-antonym-k1", 3) || a < 0 || a > 2) throw new Error();
 * ```
 */
export function shardOf(name: string, count: number): number {
  let h = 0x811c9dc5;
  for (const b of new TextEncoder().encode(name)) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return h % count;
}

/**
 * Runs `unit` and returns its value, or undefined when it belongs to another shard (see
 * {@link OtherShard}): what a figure's loop over its units calls.
 */
export async function ownUnit<T>(unit: () => Promise<T>): Promise<T | undefined> {
  try {
    return await unit();
  } catch (err) {
    if (err instanceof OtherShard) return undefined;
    throw err;
  }
}
