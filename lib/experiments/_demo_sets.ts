/**
 * Private: demonstration sets when a task has too few items for disjoint ones, and seeds
 * derived from names.
 *
 * @module
 */

import { sampleDemoSets } from "../tasks/sample_demo_sets.ts";
import { ConfigError } from "../util/errors.ts";

/**
 * A seed for one part of an experiment (a task, a k, a round), mixed from the experiment's
 * seed and the part's names with FNV-1a, as a non-negative 31-bit integer.
 */
export function deriveSeed(seed: number, ...parts: (string | number)[]): number {
  let h = 0x811c9dc5;
  for (const ch of new TextEncoder().encode([seed, ...parts].join("\u0000"))) {
    h = Math.imul(h ^ ch, 0x01000193) >>> 0;
  }
  return h & 0x7fffffff;
}

/**
 * `count` sets of `k` distinct indices from `pool`, disjoint as far as the pool allows: drawn in
 * rounds, each round `sampleDemoSets()` of as many disjoint sets as the pool holds
 * (`floor(|pool| / k)`, all of them when that is at least `count`) with a seed derived from
 * `seed` and the round. Sets of one round are disjoint; sets of different rounds may share
 * items; no set repeats an item. With a pool of at least `count * k` items this is exactly
 * `sampleDemoSets(pool, { count, k, seed })`.
 */
export function sampleSetsWithReuse(
  pool: readonly number[],
  options: { count: number; k: number; seed: number },
): number[][] {
  const { count, k, seed } = options;
  const distinct = new Set(pool).size;
  if (k > distinct) {
    throw new ConfigError(
      `Cannot sample ${k}-item demonstration sets from a pool of ${distinct} items`,
      { field: "k" },
    );
  }
  if (count * k <= distinct) return sampleDemoSets(pool, { count, k, seed });
  const perRound = k === 0 ? count : Math.floor(distinct / k);
  const sets: number[][] = [];
  for (let round = 0; sets.length < count; round++) {
    const n = Math.min(perRound, count - sets.length);
    const roundSeed = round === 0 ? seed : deriveSeed(seed, "round", round);
    sets.push(...sampleDemoSets(pool, { count: n, k, seed: roundSeed }));
  }
  return sets;
}
