/**
 * Nearest-neighbour search by cosine similarity over many state vectors, for libraries far larger
 * than the paper's 80 states: exact search as one batched matrix product in onnxruntime, a random
 * projection to few dimensions whose candidates are re-ranked exactly, and usearch's in-memory
 * HNSW index (npm `usearch`, prebuilt binaries). Vectors are rows of one flat float32 array.
 *
 * @module
 */

import { DT, GraphBuilder } from "../onnx/graph_builder.ts";
import { OrtSession } from "../onnx/session.ts";
import { SoupError } from "../util/errors.ts";
import { symmetricEigen } from "../util/linalg.ts";
import { Rng } from "../util/random.ts";

/** One hit: the row of the library and its cosine similarity to the query. */
export interface VectorHit {
  index: number;
  score: number;
}

/** A search structure over a library of `size` vectors of `dim` floats. */
export interface VectorIndex {
  /** What it is, for tables. */
  readonly name: string;
  readonly size: number;
  readonly dim: number;
  /** Bytes the structure holds in memory beyond the caller's library array. */
  readonly memoryBytes: number;
  /**
   * Bytes of the files it keeps on disk while in use (LanceDB's table); absent for indexes held
   * in memory only.
   */
  readonly diskBytes?: number;
  /** The `k` most similar library rows of each query (rows of `queries`), best first. */
  search(queries: Float32Array, k: number): Promise<VectorHit[][]>;
  /** Frees what it holds. */
  close(): Promise<void>;
}

/** Rows of `flat` (n x dim) scaled to unit length, in a new array (zero rows stay zero). */
export function unitRows(flat: Float32Array, dim: number): Float32Array {
  checkShape(flat, dim, "vectors");
  const out = new Float32Array(flat.length);
  for (let r = 0; r < flat.length / dim; r++) {
    let norm = 0;
    for (let i = r * dim; i < (r + 1) * dim; i++) norm += flat[i] * flat[i];
    if (!Number.isFinite(norm)) {
      throw new SoupError(`Cannot search vectors: row ${r} holds a value that is not finite`);
    }
    const s = norm > 0 ? 1 / Math.sqrt(norm) : 0;
    for (let i = r * dim; i < (r + 1) * dim; i++) out[i] = flat[i] * s;
  }
  return out;
}

function checkShape(flat: Float32Array, dim: number, what: string): void {
  if (!Number.isInteger(dim) || dim < 1 || flat.length % dim !== 0) {
    throw new SoupError(
      `Cannot search vectors: ${what} hold ${flat.length} floats, not rows of ${dim}`,
    );
  }
}

/** The `k` largest of `scores` (ties by position), best first. */
function topK(scores: Float32Array | Float64Array, k: number, rows?: Int32Array): VectorHit[] {
  const hits: VectorHit[] = [];
  for (let i = 0; i < scores.length; i++) {
    const s = scores[i];
    if (hits.length === k && s <= hits[k - 1].score) continue;
    let at = hits.length;
    while (at > 0 && hits[at - 1].score < s) at--;
    hits.splice(at, 0, { index: rows ? rows[i] : i, score: s });
    if (hits.length > k) hits.pop();
  }
  return hits;
}

/** Queries per onnxruntime call of the exact search (bounds its score matrix). */
const QUERY_BLOCK = 256;

/**
 * Exact cosine search: library and queries scaled to unit rows, then queries x library^T as one
 * onnxruntime Gemm per block of queries, and the top k of each row of scores.
 *
 * @example
 * ```ts
 * import { ExactCosineIndex } from "./vector_search.ts";
 * const index = await ExactCosineIndex.create(Float32Array.of(1, 0, 0, 1, 1, 1), 2);
 * const [[hit]] = await index.search(Float32Array.of(0.1, 1), 1);
 * if (hit.index !== 1) throw new Error(JSON.stringify(hit));
 * await index.close();
 * ```
 */
export class ExactCosineIndex implements VectorIndex {
  readonly name = "exact";
  readonly size: number;
  readonly dim: number;
  readonly memoryBytes: number;
  readonly #unit: Float32Array;
  readonly #session: OrtSession;

  private constructor(unit: Float32Array, dim: number, session: OrtSession) {
    this.#unit = unit;
    this.dim = dim;
    this.size = unit.length / dim;
    this.memoryBytes = unit.byteLength;
    this.#session = session;
  }

  /** Indexes the rows of `library` (n x dim). */
  static async create(library: Float32Array, dim: number): Promise<ExactCosineIndex> {
    const unit = unitRows(library, dim);
    const g = new GraphBuilder();
    const q = g.input("q", DT.FLOAT, ["m", dim]);
    const l = g.input("l", DT.FLOAT, ["n", dim]);
    g.output(g.op1("Gemm", [q, l], { transB: 1 }), "s", DT.FLOAT, ["m", "n"]);
    const session = await OrtSession.create(g.encode({ "": 21 }));
    return new ExactCosineIndex(unit, dim, session);
  }

  async search(queries: Float32Array, k: number): Promise<VectorHit[][]> {
    checkShape(queries, this.dim, "queries");
    const unit = unitRows(queries, this.dim);
    const m = unit.length / this.dim, n = this.size;
    const out: VectorHit[][] = [];
    for (let start = 0; start < m; start += QUERY_BLOCK) {
      const rows = Math.min(QUERY_BLOCK, m - start);
      const { s } = await this.#session.run({
        q: {
          type: "float32",
          data: unit.subarray(start * this.dim, (start + rows) * this.dim),
          dims: [rows, this.dim],
        },
        l: { type: "float32", data: this.#unit, dims: [n, this.dim] },
      });
      for (let r = 0; r < rows; r++) out.push(topK(s.subarray(r * n, (r + 1) * n), k));
    }
    return out;
  }

  async close(): Promise<void> {
    await this.#session.release();
  }
}

/** A seeded generator of standard normal numbers. */
function gaussian(seed: number): () => number {
  const rng = new Rng(seed);
  return () => rng.normal();
}

/** One onnxruntime session computing `a` (m x k) times `b` (k x n) in float32, for any sizes. */
class MatMul {
  readonly #session: OrtSession;

  private constructor(session: OrtSession) {
    this.#session = session;
  }

  static async create(): Promise<MatMul> {
    const g = new GraphBuilder();
    const x = g.input("a", DT.FLOAT, ["m", "k"]);
    const y = g.input("b", DT.FLOAT, ["k", "n"]);
    g.output(g.op1("MatMul", [x, y]), "c", DT.FLOAT, ["m", "n"]);
    return new MatMul(await OrtSession.create(g.encode({ "": 21 })));
  }

  async run(a: Float32Array, b: Float32Array, m: number, k: number, n: number) {
    return (await this.#session.run({
      a: { type: "float32", data: a, dims: [m, k] },
      b: { type: "float32", data: b, dims: [k, n] },
    })).c;
  }

  release(): Promise<void> {
    return this.#session.release();
  }
}

/** The transpose of `a` (rows x cols). */
function transpose(a: Float32Array, rows: number, cols: number): Float32Array {
  const t = new Float32Array(a.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = a[r * cols + c];
  return t;
}

/** Orthonormal columns spanning the columns of `y` (n x p), modified Gram-Schmidt in float64. */
function orthonormalColumns(y: Float32Array, n: number, p: number): Float32Array {
  const cols = Array.from(
    { length: p },
    (_, j) => Float64Array.from({ length: n }, (_, i) => y[i * p + j]),
  );
  for (let j = 0; j < p; j++) {
    for (let i = 0; i < j; i++) {
      let dot = 0;
      for (let r = 0; r < n; r++) dot += cols[i][r] * cols[j][r];
      for (let r = 0; r < n; r++) cols[j][r] -= dot * cols[i][r];
    }
    let norm = 0;
    for (let r = 0; r < n; r++) norm += cols[j][r] * cols[j][r];
    const s = norm > 1e-24 ? 1 / Math.sqrt(norm) : 0;
    for (let r = 0; r < n; r++) cols[j][r] *= s;
  }
  const q = new Float32Array(n * p);
  for (let j = 0; j < p; j++) for (let r = 0; r < n; r++) q[r * p + j] = cols[j][r];
  return q;
}

/**
 * The top `dims` right singular vectors of `x` (n x dim, uncentred: the directions that keep its
 * rows' inner products best), as a (dim x dims) projection: a randomized range finder with
 * `dims + 8` columns and one power iteration (Halko, Martinsson and Tropp), then the small
 * eigenproblem of B B^T in float64.
 */
export async function topSingularVectors(
  x: Float32Array,
  dim: number,
  dims: number,
  seed: number,
): Promise<Float32Array> {
  const n = x.length / dim;
  const p = Math.min(dims + 8, n, dim);
  const omega = Float32Array.from({ length: dim * p }, gaussian(seed));
  const xt = transpose(x, n, dim);
  const mm = await MatMul.create();
  let b: Float32Array;
  try {
    let q = orthonormalColumns(await mm.run(x, omega, n, dim, p), n, p); // range of X
    const z = orthonormalColumns(await mm.run(xt, q, dim, n, p), dim, p); // power iteration
    q = orthonormalColumns(await mm.run(x, z, n, dim, p), n, p);
    b = await mm.run(transpose(q, n, p), x, p, n, dim); // (p x dim)
  } finally {
    await mm.release();
  }
  const c = new Float64Array(p * p);
  for (let i = 0; i < p; i++) {
    for (let j = i; j < p; j++) {
      let dot = 0;
      for (let k = 0; k < dim; k++) dot += b[i * dim + k] * b[j * dim + k];
      c[i * p + j] = c[j * p + i] = dot;
    }
  }
  const { values, vectors } = symmetricEigen(c, p);
  const out = new Float32Array(dim * dims);
  for (let j = 0; j < Math.min(dims, p); j++) {
    const s = values[j] > 0 ? 1 / Math.sqrt(values[j]) : 0; // u_j^T B / sigma_j
    for (let k = 0; k < dim; k++) {
      let sum = 0;
      for (let i = 0; i < p; i++) sum += vectors[j][i] * b[i * dim + k];
      out[k * dims + j] = sum * s;
    }
  }
  return out;
}

/**
 * A projection to `dims` dimensions for candidates, re-ranked exactly: a seeded Gaussian matrix
 * (`kind` "random"), or the library's top `dims` right singular vectors ("pca", uncentred, see
 * {@link topSingularVectors}). Each query's `rerank` most similar rows in the projected space (cosine) are scored by their full
 * cosine, and the best `k` of those returned. The projected library is
 * n x dims floats; the full vectors are read only for the candidates (they could stay on disk).
 *
 * @example
 * ```ts
 * import { ProjectionIndex } from "./vector_search.ts";
 * const lib = Float32Array.from({ length: 40 * 16 }, (_, i) => Math.sin(i * 1.7));
 * const index = await ProjectionIndex.create(lib, 16, { dims: 4, rerank: 40, seed: 1 });
 * // Re-ranking every row is exact search: row 7 finds itself.
 * const [[hit]] = await index.search(lib.slice(7 * 16, 8 * 16), 1);
 * if (hit.index !== 7 || Math.abs(hit.score - 1) > 1e-6) throw new Error(JSON.stringify(hit));
 * await index.close();
 * ```
 */
export class ProjectionIndex implements VectorIndex {
  readonly name: string;
  readonly size: number;
  readonly dim: number;
  readonly memoryBytes: number;
  readonly #unit: Float32Array;
  readonly #projection: Float32Array;
  readonly #projected: ExactCosineIndex;
  readonly #dims: number;
  readonly #rerank: number;
  readonly #matmul: MatMul;

  private constructor(
    unit: Float32Array,
    dim: number,
    projection: Float32Array,
    projected: ExactCosineIndex,
    options: { dims: number; rerank: number; kind: "random" | "pca" },
    matmul: MatMul,
  ) {
    this.#unit = unit;
    this.dim = dim;
    this.size = unit.length / dim;
    this.#projection = projection;
    this.#projected = projected;
    this.#dims = options.dims;
    this.#rerank = options.rerank;
    this.#matmul = matmul;
    this.name = options.kind === "pca"
      ? `PCA ${options.dims}, rerank ${options.rerank}`
      : `projection ${options.dims}, rerank ${options.rerank}`;
    this.memoryBytes = projected.memoryBytes + projection.byteLength;
  }

  /** Indexes `library` (n x dim) through a `dims`-dimensional Gaussian projection. */
  static async create(
    library: Float32Array,
    dim: number,
    options: { dims: number; rerank: number; seed: number; kind?: "random" | "pca" },
  ): Promise<ProjectionIndex> {
    const { dims, rerank } = options;
    const kind = options.kind ?? "random";
    if (!Number.isInteger(dims) || dims < 1 || !Number.isInteger(rerank) || rerank < 1) {
      throw new SoupError(
        `Cannot build a projection index: dims ${dims} and rerank ${rerank} must be positive integers`,
      );
    }
    const unit = unitRows(library, dim);
    const projection = kind === "pca"
      ? await topSingularVectors(unit, dim, dims, options.seed)
      : Float32Array.from({ length: dim * dims }, gaussian(options.seed));
    const matmul = await MatMul.create();
    const projected = await ExactCosineIndex.create(
      await matmul.run(unit, projection, unit.length / dim, dim, dims),
      dims,
    );
    return new ProjectionIndex(unit, dim, projection, projected, { dims, rerank, kind }, matmul);
  }

  async search(queries: Float32Array, k: number): Promise<VectorHit[][]> {
    checkShape(queries, this.dim, "queries");
    const unit = unitRows(queries, this.dim);
    const y = await this.#matmul.run(
      unit,
      this.#projection,
      unit.length / this.dim,
      this.dim,
      this.#dims,
    );
    const candidates = await this.#projected.search(y, Math.min(this.#rerank, this.size));
    return candidates.map((hits, q) => {
      const rows = Int32Array.from(hits, (h) => h.index);
      const scores = new Float64Array(rows.length);
      const query = unit.subarray(q * this.dim, (q + 1) * this.dim);
      for (const [j, row] of rows.entries()) {
        let dot = 0;
        const v = this.#unit.subarray(row * this.dim, (row + 1) * this.dim);
        for (let i = 0; i < this.dim; i++) dot += query[i] * v[i];
        scores[j] = dot;
      }
      return topK(scores, k, rows);
    });
  }

  async close(): Promise<void> {
    await this.#projected.close();
    await this.#matmul.release();
  }
}

/** Options of {@link UsearchIndex.create}: HNSW's graph degree and beam widths. */
export interface UsearchOptions {
  /** Neighbours per node. @default 16 */
  connectivity?: number;
  /** Beam width while adding. @default 64 */
  expansionAdd?: number;
  /** Beam width while searching. @default 128 */
  expansionSearch?: number;
  /** How the index stores the vectors: float32, float16 or int8. @default "f32" */
  quantization?: "f32" | "f16" | "i8";
}

/**
 * usearch's in-memory HNSW graph (npm `usearch`, cosine metric, vectors as float32, float16 or
 * int8), approximate: built by adding every row on one thread (so that it is the same graph
 * every time), searched with the beam width `expansionSearch`. `memoryBytes` is the size of
 * its serialised form (vectors and graph), which is what it holds in memory (measured by saving
 * it once to a temporary file, then removed: it keeps nothing on disk).
 *
 * @example
 * ```ts
 * import { UsearchIndex } from "./vector_search.ts";
 * const lib = Float32Array.from({ length: 50 * 8 }, (_, i) => Math.cos(i * 0.37));
 * const index = await UsearchIndex.create(lib, 8);
 * const [[hit]] = await index.search(lib.slice(3 * 8, 4 * 8), 1);
 * if (hit.index !== 3 || Math.abs(hit.score - 1) > 1e-5) throw new Error(JSON.stringify(hit));
 * await index.close();
 * ```
 */
export class UsearchIndex implements VectorIndex {
  readonly name: string;
  readonly size: number;
  readonly dim: number;
  readonly memoryBytes: number;
  // deno-lint-ignore no-explicit-any
  readonly #index: any;

  // deno-lint-ignore no-explicit-any
  private constructor(index: any, size: number, dim: number, bytes: number, name: string) {
    this.#index = index;
    this.size = size;
    this.dim = dim;
    this.memoryBytes = bytes;
    this.name = name;
  }

  /** Builds the graph over the rows of `library` (n x dim). */
  static async create(
    library: Float32Array,
    dim: number,
    options: UsearchOptions = {},
  ): Promise<UsearchIndex> {
    checkShape(library, dim, "vectors");
    const { Index, MetricKind, ScalarKind } = await import("npm:usearch@2.26.2");
    const connectivity = options.connectivity ?? 16;
    const expansionAdd = options.expansionAdd ?? 64;
    const expansionSearch = options.expansionSearch ?? 128;
    const quantization = options.quantization ?? "f32";
    const index = new Index({
      metric: MetricKind.Cos,
      dimensions: dim,
      quantization: { f32: ScalarKind.F32, f16: ScalarKind.F16, i8: ScalarKind.I8 }[quantization],
      connectivity,
      expansion_add: expansionAdd,
      expansion_search: expansionSearch,
      multi: false,
    });
    const n = library.length / dim;
    // One thread: the graph, hence every search result, is the same from run to run.
    if (n > 0) index.add(BigUint64Array.from({ length: n }, (_, i) => BigInt(i)), library, 1);
    const dir = await Deno.makeTempDir({ prefix: "soup-usearch-" });
    let bytes: number;
    try {
      index.save(`${dir}/index.usearch`);
      bytes = (await Deno.stat(`${dir}/index.usearch`)).size;
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
    const name =
      `usearch HNSW ${quantization} (${connectivity}/${expansionAdd}/${expansionSearch})`;
    return new UsearchIndex(index, n, dim, bytes, name);
  }

  search(queries: Float32Array, k: number): Promise<VectorHit[][]> {
    checkShape(queries, this.dim, "queries");
    const m = queries.length / this.dim;
    const out: VectorHit[][] = [];
    for (let q = 0; q < m; q++) {
      const found = this.#index.search(queries.subarray(q * this.dim, (q + 1) * this.dim), k, 1);
      const hits: VectorHit[] = [];
      for (let j = 0; j < found.keys.length; j++) {
        hits.push({ index: Number(found.keys[j]), score: 1 - found.distances[j] });
      }
      out.push(hits);
    }
    return Promise.resolve(out);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
