/**
 * Small dense linear algebra in float64 for the figures: the symmetric eigenproblem (PCA of a
 * Gram matrix, the range finder of a truncated SVD).
 *
 * @module
 */

/**
 * Eigenvalues and eigenvectors of a symmetric n x n matrix (row-major) by cyclic Jacobi
 * rotations, sorted by decreasing eigenvalue; `vectors[i]` is the unit eigenvector of
 * `values[i]`.
 */
export function symmetricEigen(
  matrix: Float64Array,
  n: number,
): { values: number[]; vectors: Float64Array[] } {
  const a = Float64Array.from(matrix);
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  let scale = 0;
  for (const x of a) scale = Math.max(scale, Math.abs(x));
  for (let sweep = 0; sweep < 100 && scale > 0; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += a[p * n + q] ** 2;
    if (Math.sqrt(off) <= 1e-15 * scale * n) break;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = a[p * n + q];
        if (Math.abs(apq) <= 1e-300) continue;
        const theta = (a[q * n + q] - a[p * n + p]) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1), s = t * c;
        for (let k = 0; k < n; k++) { // columns p and q
          const akp = a[k * n + p], akq = a[k * n + q];
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) { // rows p and q
          const apk = a[p * n + k], aqk = a[q * n + k];
          a[p * n + k] = c * apk - s * aqk;
          a[q * n + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k * n + p], vkq = v[k * n + q];
          v[k * n + p] = c * vkp - s * vkq;
          v[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const order = Array.from({ length: n }, (_, i) => i)
    .sort((i, j) => a[j * n + j] - a[i * n + i] || i - j);
  return {
    values: order.map((i) => a[i * n + i]),
    vectors: order.map((i) => Float64Array.from({ length: n }, (_, k) => v[k * n + i])),
  };
}
