/**
 * Private: extracting many states in batches through an experiment's cache, keeping only what
 * the caller takes from each (full states of Mamba-2.8b are 26 MB each).
 *
 * @module
 */

import type { MambaState } from "../states/state_dir.ts";
import type { ExperimentContext } from "./context.ts";

/** One state to extract: its cache name and the token ids that produce it from zeros. */
export interface StateJob {
  /** Name under the cache's `states/` (one path segment). */
  name: string;
  /** Token ids read from the zero state. */
  ids: readonly number[];
}

/**
 * For each job, the state cached under its name, else computed with `engine.runBatch` over
 * batches of `batchSize` consecutive jobs (a batch runs only when one of its states is missing)
 * and cached; returns `take(state, job)` for each, in order. Logs `<label>: <done>/<all>` after
 * each batch.
 */
export async function extractStates<T>(
  ctx: ExperimentContext,
  jobs: readonly StateJob[],
  options: {
    batchSize: number;
    label: string;
    take: (state: MambaState, job: StateJob) => T;
  },
): Promise<T[]> {
  const out: T[] = [];
  const size = Math.max(1, options.batchSize);
  for (let start = 0; start < jobs.length; start += size) {
    const chunk = jobs.slice(start, start + size);
    let batch: Promise<MambaState[]> | undefined;
    const computed = () =>
      batch ??= ctx.engine.runBatch(chunk.map((j) => j.ids)).then((rs) => rs.map((r) => r.state));
    let ran = false;
    for (const [i, job] of chunk.entries()) {
      const state = await ctx.cachedState(job.name, async () => {
        ran = true;
        return (await computed())[i];
      });
      out.push(options.take(state, job));
    }
    ctx.log(
      `${options.label}: ${out.length}/${jobs.length}${ran ? "" : " (cached)"}`,
    );
  }
  return out;
}
