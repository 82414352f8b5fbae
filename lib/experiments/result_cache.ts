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
  readonly #model: ExperimentModel;
  readonly #log: (line: string) => void;

  private constructor(dir: string, model: ExperimentModel, log: (line: string) => void) {
    this.dir = dir;
    this.#model = model;
    this.#log = log;
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
    options: { cacheDir?: string; log?: (line: string) => void } = {},
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
    return new ResultCache(dir, model, options.log ?? ((line) => console.error(line)));
  }

  /** A JSON value cached under `name`, or computed, saved atomically, and returned. */
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
        return JSON.parse(text) as T;
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
    const value = await compute();
    await atomicWrite(path, new TextEncoder().encode(JSON.stringify(value)));
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
