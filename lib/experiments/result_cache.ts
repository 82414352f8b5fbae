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
    return new ResultCache(
      dir,
      model,
      options.log ?? ((line) => console.error(line)),
      options.shard,
    );
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
    this.#depth++;
    let value: T;
    try {
      value = await compute();
    } finally {
      this.#depth--;
    }
    await atomicWrite(path, new TextEncoder().encode(JSON.stringify(value)));
    this.units.computed++;
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
