/**
 * Private: two-dimensional embeddings of state vectors for the clustering figure. PCA and
 * t-SNE both start from the centered Gram matrix (N x N, float64), so a layer of Mamba-2.8b
 * (5120 x 16 = 81,920 SSM values per state) never needs the D x D covariance that
 * `druidjs`' `PCA` would build.
 *
 * @module
 */

import { symmetricEigen } from "../util/linalg.ts";
import { TSNE } from "npm:@saehrimnir/druidjs@0.9.0";
import { SoupError } from "../util/errors.ts";

/** A 2-D embedding: one [x, y] per input vector, in input order. */
export type Points2d = [number, number][];

/**
 * The centered Gram matrix `Xc Xc^T` (N x N, row-major, float64) of N vectors of equal length,
 * where `Xc` is X minus its column means.
 */
export function centeredGram(vectors: readonly Float32Array[]): Float64Array {
  const n = vectors.length;
  if (n === 0) throw new SoupError("Cannot embed states: no vectors given");
  const d = vectors[0].length;
  vectors.forEach((v, i) => {
    if (v.length !== d) {
      throw new SoupError(`Cannot embed states: vector ${i} holds ${v.length} values, not ${d}`);
    }
  });
  const mean = new Float64Array(d);
  for (const v of vectors) for (let j = 0; j < d; j++) mean[j] += v[j];
  for (let j = 0; j < d; j++) mean[j] /= n;
  const centered = vectors.map((v) => {
    const c = new Float64Array(d);
    for (let j = 0; j < d; j++) c[j] = v[j] - mean[j];
    return c;
  });
  const g = new Float64Array(n * n);
  for (let a = 0; a < n; a++) {
    const ca = centered[a];
    for (let b = a; b < n; b++) {
      const cb = centered[b];
      let dot = 0;
      for (let j = 0; j < d; j++) dot += ca[j] * cb[j];
      g[a * n + b] = dot;
      g[b * n + a] = dot;
    }
  }
  return g;
}

/**
 * PCA to two dimensions from a centered Gram matrix: coordinate c of point i is
 * `u_c[i] * sqrt(lambda_c)` (= the projection of the centered vector on the c-th principal
 * axis). Each axis' sign is fixed so that its largest-magnitude coordinate is positive (as
 * scikit-learn's `svd_flip`), so the result does not depend on the solver's sign.
 */
export function pcaFromGram(gram: Float64Array, n: number): Points2d {
  const { values, vectors } = symmetricEigen(gram, n);
  const axes = [0, 1].map((c) => {
    const u = vectors[c] ?? new Float64Array(n);
    const scale = Math.sqrt(Math.max(values[c] ?? 0, 0));
    let big = 0;
    for (let i = 0; i < n; i++) if (Math.abs(u[i]) > Math.abs(u[big])) big = i;
    const sign = u[big] < 0 ? -1 : 1;
    return Array.from(u, (x) => sign * scale * x + 0); // + 0 turns -0 into 0
  });
  return Array.from({ length: n }, (_, i) => [axes[0][i], axes[1][i]]);
}

/** Options of {@link tsneFromGram}. */
export interface TsneOptions {
  /** Perplexity; capped at (N - 1) / 3 for small N. */
  perplexity: number;
  /** Gradient steps. */
  iterations: number;
  /** Seed of druidjs' initial layout. */
  seed: number;
}

/**
 * t-SNE (`druidjs`, squared Euclidean distances as its default metric) to two dimensions from
 * a centered Gram matrix. Distances are divided by their mean first: t-SNE's affinities do not
 * depend on the scale, but druidjs' perplexity search starts at precision 1 and gives up after
 * 50 halvings, which raw SSM-state distances would exhaust.
 */
export function tsneFromGram(gram: Float64Array, n: number, options: TsneOptions): Points2d {
  if (n < 2) return Array.from({ length: n }, () => [0, 0]);
  const dist: number[][] = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  let sum = 0;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const d2 = Math.max(0, gram[i * n + i] + gram[j * n + j] - 2 * gram[i * n + j]);
      dist[i][j] = dist[j][i] = d2;
      sum += d2;
    }
  }
  const mean = sum / (n * (n - 1) / 2);
  if (mean > 0) { for (const row of dist) for (let j = 0; j < n; j++) row[j] /= mean; }
  const perplexity = effectivePerplexity(options.perplexity, n);
  const tsne = new TSNE(dist, { metric: "precomputed", perplexity, seed: options.seed, d: 2 });
  const y = tsne.transform(options.iterations) as number[][];
  return y.map((p) => [p[0] + 0, p[1] + 0]);
}

/** The perplexity t-SNE runs with for `n` points: at most (n - 1) / 3, at least 1. */
export function effectivePerplexity(perplexity: number, n: number): number {
  return Math.max(1, Math.min(perplexity, (n - 1) / 3));
}

export { symmetricEigen };
