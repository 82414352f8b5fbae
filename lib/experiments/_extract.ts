/**
 * Private: extracting many states through the shared state store, keeping only what the caller
 * takes from each (full states of Mamba-2.8b are 26 MB each, one layer 0.4 MB).
 *
 * @module
 */

import type { State } from "../states/state.ts";
import type { ExperimentRun } from "./context.ts";
import { ownUnit } from "./result_cache.ts";

/** One state to extract: the token ids that produce it from zeros. */
export interface StateJob {
  /** Token ids read from the zero state. */
  ids: readonly number[];
}

/**
 * For each job, its state from `ctx.model.store` (computed in batches by length where missing), of
 * `layers` only when given (a {@link State} holding those model layers); returns
 * `take(state, job)` for each, in order. Logs `<label>: <done>/<all>` as it goes.
 *
 * With `unit`, each round of jobs is a unit of the result cache (`<unit>-<first job>`), so that
 * shards split the extraction: a shard extracts only its rounds into the shared store and
 * returns an empty list (not one value per job: use it in a shard only to fill the store,
 * never inside another cache unit); a run without a shard reads every round from the
 * store (extracting what no shard did).
 */
export async function extractStates<T>(
  ctx: ExperimentRun,
  jobs: readonly StateJob[],
  options: {
    batchSize: number;
    label: string;
    layers?: readonly number[];
    take: (state: State, job: StateJob) => T;
    unit?: string;
  },
): Promise<T[]> {
  // In rounds of a few batches, so that only a round's states are held at once.
  const round = Math.max(1, options.batchSize) * 8;
  const out: T[] = [];
  for (let start = 0; start < jobs.length; start += round) {
    const part = jobs.slice(start, start + round);
    const extract = async () => {
      const states = await ctx.model.store.extract(ctx.model.engine, part, {
        layers: options.layers,
        batchSize: options.batchSize,
        onProgress: (done) => ctx.log(`${options.label}: ${start + done}/${jobs.length}`),
      });
      return states.map((state, i) => options.take(state, part[i]));
    };
    if (options.unit === undefined) {
      out.push(...await extract());
      continue;
    }
    let taken: T[] | undefined;
    await ownUnit(() =>
      ctx.cache.json(`${options.unit}-${start}`, async () => {
        taken = await extract();
        return { states: part.length };
      })
    );
    if (ctx.cache.shard) continue; // a shard's part is in the store, for the merge
    out.push(...(taken ?? await extract()));
  }
  return out;
}
