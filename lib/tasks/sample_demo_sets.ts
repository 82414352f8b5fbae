/**
 * Seeded k-shot demonstration sets: `count` sets of `k` item indices, no index in two sets and
 * none among the excluded ones.
 *
 * @module
 */

import { ConfigError } from "../util/errors.ts";
import { Rng } from "../util/random.ts";

/**
 * Options of {@linkcode sampleDemoSets}.
 *
 * @example
 * ```ts
 * import { sampleDemoSets, type SampleDemoSetsOptions } from "./sample_demo_sets.ts";
 * const options: SampleDemoSetsOptions = { count: 2, k: 3, seed: 0, exclude: [0] };
 * if (sampleDemoSets(7, options).flat().includes(0)) throw new Error("0 is excluded");
 * ```
 */
export interface SampleDemoSetsOptions {
  /** Number of sets to draw. */
  count: number;
  /** Demonstrations per set (k of k-shot); 0 gives empty sets. */
  k: number;
  /** Integer seed. */
  seed: number;
  /** Indices no set may use: test items, items already used by library states. @default [] */
  exclude?: Iterable<number>;
}

/**
 * Draws `count` disjoint sets of `k` demonstration indices from `pool`.
 *
 * The pool (deduplicated, sorted, then stripped of `exclude`) is shuffled with the seed and cut
 * into consecutive runs of `k`, so the result does not depend on the order the pool or the
 * exclusions are given in, and for one seed the first sets stay the same when more are asked
 * for. Each set keeps its drawn order, which is the order of the demonstrations in a prompt.
 *
 * @param pool Either the number of items n (the pool is 0..n-1) or the allowed indices, e.g. the
 * `train` indices of `splitTask()`.
 * @param options `count`, `k`, `seed` and `exclude`.
 * @returns `count` arrays of `k` indices each.
 * @throws {ConfigError} when an option is not a non-negative integer, or the pool is too small:
 * `count * k` indices are needed.
 *
 * @example
 * ```ts
 * import { sampleDemoSets } from "./sample_demo_sets.ts";
 * const sets = sampleDemoSets(20, { count: 3, k: 5, seed: 1, exclude: [0, 1, 2] });
 * const all = sets.flat();
 * if (sets.length !== 3 || sets.some((s) => s.length !== 5)) throw new Error("wrong shape");
 * if (new Set(all).size !== 15) throw new Error("sets overlap");
 * if (all.some((i) => i < 3 || i >= 20)) throw new Error("excluded or out of range");
 * let error = "";
 * try {
 *   sampleDemoSets(20, { count: 4, k: 5, seed: 1, exclude: [0] });
 * } catch (e) {
 *   error = (e as Error).message;
 * }
 * if (!error.includes("need 20")) throw new Error(error);
 * ```
 */
export function sampleDemoSets(
  pool: number | readonly number[],
  options: SampleDemoSetsOptions,
): number[][] {
  const { count, k, seed } = options;
  for (const [field, value] of [["count", count], ["k", k], ["seed", seed]] as const) {
    const ok = field === "seed" ? Number.isInteger(value) : Number.isInteger(value) && value >= 0;
    if (!ok) {
      throw new ConfigError(
        `Cannot sample demonstration sets: ${field} ${value} is not ${
          field === "seed" ? "an integer" : "a non-negative integer"
        }`,
        { field },
      );
    }
  }
  let indices: number[];
  if (typeof pool === "number") {
    if (!Number.isInteger(pool) || pool < 0) {
      throw new ConfigError(
        `Cannot sample demonstration sets: pool size ${pool} is not a non-negative integer`,
        { field: "pool" },
      );
    }
    indices = Array.from({ length: pool }, (_, i) => i);
  } else {
    indices = [...new Set(pool)].sort((a, b) => a - b);
  }
  const excluded = new Set(options.exclude ?? []);
  const free = indices.filter((i) => !excluded.has(i));
  const need = count * k;
  if (free.length < need) {
    throw new ConfigError(
      `Cannot sample ${count} disjoint sets of ${k} demonstrations: the pool of ${indices.length} ` +
        `items leaves ${free.length} after excluding ${indices.length - free.length}, need ${need}`,
      { field: "count" },
    );
  }
  new Rng(seed).shuffle(free);
  return Array.from({ length: count }, (_, s) => free.slice(s * k, (s + 1) * k));
}
