/**
 * "Did you mean …?" for a misspelt name: the nearest of the known names by edit distance.
 *
 * @module
 */

/** Levenshtein distance between two strings (insertions, deletions, substitutions). */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length];
}

/**
 * The known name nearest to `name` (case-insensitive), when it is close: within a third of the
 * name's length in edits (at least 1, at most 3). Undefined when none is, or when `name` is one.
 *
 * @example
 * ```ts
 * import { nearestName } from "./suggest.ts";
 * if (nearestName("organizm", ["organism", "paper"]) !== "organism") throw new Error();
 * if (nearestName("zebra", ["organism", "paper"]) !== undefined) throw new Error();
 * ```
 */
export function nearestName(name: string, known: Iterable<string>): string | undefined {
  const lower = name.toLowerCase();
  const limit = Math.min(3, Math.max(1, Math.floor(name.length / 3)));
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const k of known) {
    if (k === name) return undefined;
    const d = editDistance(lower, k.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [k, d];
  }
  return bestDistance <= limit ? best : undefined;
}

/** `" (did you mean X?)"` for the nearest known name, or "" when none is close. */
export function didYouMean(name: string, known: Iterable<string>): string {
  const near = nearestName(name, known);
  return near === undefined ? "" : ` (did you mean "${near}"?)`;
}
