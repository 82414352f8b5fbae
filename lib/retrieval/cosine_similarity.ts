/**
 * Cosine similarity of two vectors.
 *
 * @module
 */

import { SoupError } from "../util/errors.ts";

/**
 * Returns `a . b / (|a| |b|)`, accumulated in float64, in [-1, 1]. A zero vector has no
 * direction: its similarity to anything is 0 (not NaN), so it ranks below every vector that
 * points the same way as the query. Vectors of different lengths are a {@link SoupError}.
 *
 * @param a A vector.
 * @param b A vector of the same length.
 * @example
 * ```ts
 * import { cosineSimilarity } from "./cosine_similarity.ts";
 * if (Math.abs(cosineSimilarity([1, 0], [3, 3]) - Math.SQRT1_2) > 1e-15) throw new Error();
 * if (cosineSimilarity([1, 2], [-2, -4]) !== -1) throw new Error("opposite");
 * if (cosineSimilarity([0, 0], [1, 2]) !== 0) throw new Error("zero vector");
 * ```
 */
export function cosineSimilarity(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) {
    throw new SoupError(
      `Cannot compare vectors of ${a.length} and ${b.length} values by cosine similarity`,
    );
  }
  let dot = 0, aa = 0, bb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  if (aa === 0 || bb === 0) return 0;
  return Math.max(-1, Math.min(1, dot / Math.sqrt(aa * bb)));
}
