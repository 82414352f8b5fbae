import { assert, assertEquals, assertRejects } from "../../tests/_assert.ts";
import { SoupError } from "../util/errors.ts";
import { LANCEDB_SPECIFIER, LanceIndex, OPTIONAL_PACKAGES } from "./lancedb_index.ts";
import {
  ExactCosineIndex,
  ProjectionIndex,
  topSingularVectors,
  unitRows,
  UsearchIndex,
  type VectorIndex,
} from "./vector_search.ts";

/** Seeded uniform numbers in [-1, 1). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (Math.imul(a, 1664525) + 1013904223) >>> 0;
    return a / 2 ** 31 - 1;
  };
}

/** `n` rows of `dim` around `centres` cluster centres (noise `noise`), and their clusters. */
function clustered(n: number, dim: number, centres: number, noise: number, seed: number) {
  const next = rng(seed);
  const c = Array.from({ length: centres }, () => Array.from({ length: dim }, next));
  const labels = Array.from({ length: n }, (_, i) => i % centres);
  const flat = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    for (let d = 0; d < dim; d++) flat[i * dim + d] = c[labels[i]][d] + noise * next();
  }
  return { flat, labels };
}

/** The top k of each query by float64 cosine, the independent reference. */
function bruteForce(lib: Float32Array, queries: Float32Array, dim: number, k: number) {
  const norm = (v: Float32Array) => Math.sqrt(v.reduce((a, x) => a + x * x, 0));
  const out: { index: number; score: number }[][] = [];
  for (let q = 0; q < queries.length / dim; q++) {
    const qv = queries.subarray(q * dim, (q + 1) * dim);
    const scores = [];
    for (let r = 0; r < lib.length / dim; r++) {
      const v = lib.subarray(r * dim, (r + 1) * dim);
      let dot = 0;
      for (let i = 0; i < dim; i++) dot += qv[i] * v[i];
      scores.push({ index: r, score: dot / norm(qv) / norm(v) });
    }
    out.push(scores.sort((a, b) => b.score - a.score || a.index - b.index).slice(0, k));
  }
  return out;
}

/**
 * An approximate index's first hits of 100 clustered queries: exact search's for at least 95 of
 * them, each scored by its true cosine.
 */
async function checkFirstHits(
  index: VectorIndex,
  flat: Float32Array,
  queries: Float32Array,
  dim: number,
  what: string,
): Promise<void> {
  const want = bruteForce(flat, queries, dim, 1);
  const got = await index.search(queries, 1);
  const recall = got.filter(([h], q) => h.index === want[q][0].index).length / got.length;
  console.log(`${what} recall@1 on ${flat.length / dim} clustered vectors: ${recall}`);
  assert(got.length === 100 && recall >= 0.95, `recall@1 ${recall} of ${got.length}`);
  for (const [[h], q] of got.map((hits, q) => [hits, q] as const)) {
    const v = unitRows(flat.slice(h.index * dim, (h.index + 1) * dim), dim);
    const u = unitRows(queries.slice(q * dim, (q + 1) * dim), dim);
    const cos = v.reduce((a, x, i) => a + x * u[i], 0);
    assert(Math.abs(h.score - cos) < 1e-4, `${what}, query ${q}: ${h.score} vs ${cos}`);
  }
}

Deno.test("ExactCosineIndex: the batched Gemm search is float64 brute force, over blocks of queries", async () => {
  const dim = 48;
  const next = rng(3);
  const lib = Float32Array.from({ length: 300 * dim }, next);
  const queries = Float32Array.from({ length: 300 * dim }, next); // more than one block of 256
  const index = await ExactCosineIndex.create(lib, dim);
  try {
    const got = await index.search(queries, 5);
    const want = bruteForce(lib, queries, dim, 5);
    assertEquals(got.length, 300);
    for (const [q, hits] of got.entries()) {
      assertEquals(hits.map((h) => h.index), want[q].map((h) => h.index), `query ${q}`);
      for (const [j, h] of hits.entries()) assert(Math.abs(h.score - want[q][j].score) < 1e-5);
    }
  } finally {
    await index.close();
  }
});

Deno.test("ProjectionIndex: re-ranking every row is exact; few dimensions with re-ranking keep clustered neighbours", async () => {
  const dim = 256;
  const data = clustered(660, dim, 20, 0.6, 5);
  const flat = data.flat.slice(0, 600 * dim), labels = data.labels;
  const queries = data.flat.slice(600 * dim);
  const exact = await ExactCosineIndex.create(flat, dim);
  const all = await ProjectionIndex.create(flat, dim, { dims: 8, rerank: 600, seed: 2 });
  const few = await ProjectionIndex.create(flat, dim, { dims: 32, rerank: 20, seed: 2 });
  try {
    const want = (await exact.search(queries, 1)).map(([h]) => h.index);
    assertEquals((await all.search(queries, 1)).map(([h]) => h.index), want);
    const got = (await few.search(queries, 1)).map(([h]) => h.index);
    const sameCluster = got.filter((g, q) => labels[g] === labels[want[q]]).length;
    assertEquals(sameCluster, 60, "the candidate's cluster is the exact neighbour's");
  } finally {
    await Promise.all([exact.close(), all.close(), few.close()]);
  }
});

Deno.test("UsearchIndex: HNSW finds the exact neighbour of clustered vectors, and its scores are cosines", async () => {
  const dim = 128;
  // One draw around the same centres: 2000 library rows, then 100 queries.
  const all = clustered(2100, dim, 40, 0.5, 9);
  const flat = all.flat.slice(0, 2000 * dim), queries = all.flat.slice(2000 * dim);
  const index = await UsearchIndex.create(flat, dim);
  try {
    await checkFirstHits(index, flat, queries, dim, "usearch");
    assert(index.memoryBytes >= flat.byteLength, `${index.memoryBytes} bytes`);
    // int8 vectors: a quarter of the memory. Rounding reorders near neighbours inside a cluster,
    // but on well-separated clusters the first hit stays in the query's cluster.
    const tight = clustered(2100, dim, 40, 0.1, 9);
    const tightLib = tight.flat.slice(0, 2000 * dim);
    const i8 = await UsearchIndex.create(tightLib, dim, { quantization: "i8" });
    const f32 = await UsearchIndex.create(tightLib, dim);
    const got8 = await i8.search(tight.flat.slice(2000 * dim), 1);
    const cluster = got8.filter(([h], q) => tight.labels[h.index] === tight.labels[2000 + q])
      .length;
    assertEquals(cluster, 100, "int8 hits in the query's cluster");
    assert(i8.memoryBytes < 0.5 * f32.memoryBytes, `${i8.memoryBytes} vs ${f32.memoryBytes}`);
    assert(i8.memoryBytes < 0.5 * index.memoryBytes, `${i8.memoryBytes} vs ${index.memoryBytes}`);
  } finally {
    await index.close();
  }
});

Deno.test("vector indexes refuse vectors that are not whole rows, or not finite, in one line", async () => {
  await assertRejects(
    () => ExactCosineIndex.create(new Float32Array(7), 2),
    SoupError,
    "rows of 2",
  );
  const index = await ExactCosineIndex.create(new Float32Array(8), 2);
  try {
    await assertRejects(() => index.search(Float32Array.of(1, NaN), 1), SoupError, "not finite");
  } finally {
    await index.close();
  }
});

Deno.test("topSingularVectors(): rank-5 data is rebuilt from its 5 orthonormal directions, and its PCA index is exact", async () => {
  const dim = 64, n = 300, rank = 5;
  const next = rng(11);
  const basis = Array.from({ length: rank }, () => Array.from({ length: dim }, next));
  const x = new Float32Array(n * dim);
  for (let r = 0; r < n; r++) {
    const w = Array.from({ length: rank }, next);
    for (let d = 0; d < dim; d++) {
      x[r * dim + d] = w.reduce((a, wi, i) => a + wi * basis[i][d], 0);
    }
  }
  const v = await topSingularVectors(x, dim, rank, 3); // (dim x rank)
  const col = (j: number) => Array.from({ length: dim }, (_, d) => v[d * rank + j]);
  for (let i = 0; i < rank; i++) {
    for (let j = 0; j < rank; j++) {
      const dot = col(i).reduce((a, c, d) => a + c * col(j)[d], 0);
      assert(Math.abs(dot - (i === j ? 1 : 0)) < 1e-4, `columns ${i}, ${j}: ${dot}`);
    }
  }
  // Each row projected onto the span and back is itself.
  let worst = 0;
  for (let r = 0; r < n; r++) {
    const row = x.subarray(r * dim, (r + 1) * dim);
    const coef = Array.from(
      { length: rank },
      (_, j) => col(j).reduce((a, c, d) => a + c * row[d], 0),
    );
    for (let d = 0; d < dim; d++) {
      const back = coef.reduce((a, c, j) => a + c * v[d * rank + j], 0);
      worst = Math.max(worst, Math.abs(back - row[d]) / (1 + Math.abs(row[d])));
    }
  }
  assert(worst < 1e-3, `reconstruction error ${worst}`);
  const exact = await ExactCosineIndex.create(x, dim);
  const pca = await ProjectionIndex.create(x, dim, { dims: rank, rerank: 3, seed: 3, kind: "pca" });
  try {
    const queries = x.slice(0, 40 * dim).map((q, i) => q + 0.01 * Math.sin(i));
    const want = (await exact.search(queries, 1)).map(([h]) => h.index);
    assertEquals((await pca.search(queries, 1)).map(([h]) => h.index), want);
  } finally {
    await Promise.all([exact.close(), pca.close()]);
  }
});

/** Whether `path` exists. */
async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
}

Deno.test("LanceIndex: the flat table is exact search, its scores cosines; close() removes its folder", async () => {
  const dim = 128;
  const all = clustered(660, dim, 20, 0.5, 4);
  const flat = all.flat.slice(0, 600 * dim), queries = all.flat.slice(600 * dim);
  const index = await LanceIndex.create(flat, dim);
  try {
    assertEquals(index.name, "LanceDB flat");
    assertEquals(index.size, 600);
    const want = bruteForce(flat, queries, dim, 5);
    const got = await index.search(queries, 5);
    assertEquals(got.length, 60);
    for (const [q, hits] of got.entries()) {
      assertEquals(hits.map((h) => h.index), want[q].map((h) => h.index), `query ${q}`);
      for (const [j, h] of hits.entries()) assert(Math.abs(h.score - want[q][j].score) < 1e-5);
    }
    // Nothing held in memory; the float32 rows (and their numbers) on disk.
    assertEquals(index.memoryBytes, 0);
    assert(index.diskBytes >= flat.byteLength, `${index.diskBytes} bytes on disk`);
    assert(await exists(index.dir), index.dir);
  } finally {
    await index.close();
  }
  assert(!(await exists(index.dir)), `${index.dir} is left after close()`);
  await index.close(); // a second close does nothing
  await assertRejects(() => index.search(queries, 1), SoupError, "closed");
});

Deno.test("LanceIndex: IVF_HNSW_SQ re-ranked finds the exact neighbour of clustered vectors, and trains on 80 rows", async () => {
  const dim = 128;
  const all = clustered(2100, dim, 40, 0.5, 9);
  const flat = all.flat.slice(0, 2000 * dim), queries = all.flat.slice(2000 * dim);
  const index = await LanceIndex.create(flat, dim, { index: "ivf-hnsw-sq" });
  // The paper's library is 80 states: one partition trains on a table that small.
  const small = await LanceIndex.create(flat.slice(0, 80 * dim), dim, { index: "ivf-hnsw-sq" });
  try {
    assertEquals(index.name, "LanceDB IVF_HNSW_SQ (20/300/200, refine 10)");
    // Re-ranked by the full vectors: the scores are the exact cosines.
    await checkFirstHits(index, flat, queries, dim, "LanceDB IVF_HNSW_SQ");
    // The index (graph and 8-bit vectors) is what it loads: a fraction of the float32 rows,
    // which stay on disk beside it.
    assert(index.memoryBytes > 0 && index.memoryBytes < flat.byteLength, `${index.memoryBytes}`);
    assert(index.diskBytes >= flat.byteLength + index.memoryBytes, `${index.diskBytes}`);
    assert(small.memoryBytes > 0, `${small.memoryBytes}`);
    const smallWant = bruteForce(flat.slice(0, 80 * dim), queries, dim, 1).map(([h]) => h.index);
    const smallGot = (await small.search(queries, 1)).map(([h]) => h.index);
    const smallRecall = smallGot.filter((g, q) => g === smallWant[q]).length / 100;
    assert(smallRecall >= 0.95, `recall@1 on 80 rows ${smallRecall}`);
  } finally {
    await Promise.all([index.close(), small.close()]);
  }
});

Deno.test("LanceIndex refuses bad rows, queries, k and options in one line", async () => {
  await assertRejects(() => LanceIndex.create(new Float32Array(7), 2), SoupError, "rows of 2");
  await assertRejects(
    () => LanceIndex.create(new Float32Array(8), 2, { index: "ivf-hnsw-sq", ef: 0 }),
    SoupError,
    "ef 0 is not a positive integer",
  );
  const index = await LanceIndex.create(Float32Array.of(1, 0, 0, 1, 1, 1), 2);
  try {
    await assertRejects(() => index.search(Float32Array.of(1, NaN), 1), SoupError, "not finite");
    await assertRejects(() => index.search(Float32Array.of(1, 0, 1), 1), SoupError, "rows of 2");
    await assertRejects(() => index.search(Float32Array.of(1, 0), 0), SoupError, "k 0");
  } finally {
    await index.close();
  }
});

Deno.test("LanceDB is optional: pinned, left out of deno.json and the committed deno.lock, so no run installs it unasked", async () => {
  const root = new URL("../../", import.meta.url);
  const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", root)));
  // The committed lock: a LanceDB index adds its packages to the working copy's deno.lock when
  // it first loads them (as in this very test run; `deno task test` puts the lock back after),
  // and from then on Deno installs them. Outside a git checkout, the working copy's.
  const git = await new Deno.Command("git", {
    args: ["show", "HEAD:deno.lock"],
    cwd: root,
    stdout: "piped",
    stderr: "null",
  }).output().catch(() => undefined);
  const lock = git?.success
    ? new TextDecoder().decode(git.stdout)
    : await Deno.readTextFile(new URL("deno.lock", root));
  for (const spec of OPTIONAL_PACKAGES) {
    const m = /^npm:(@?[^@]+)@(\d+\.\d+\.\d+)$/.exec(spec);
    assert(m !== null, `${spec} is not an exact npm version`);
    assert(!Object.values(config.imports).includes(spec), `deno.json lists ${spec}`);
    assert(!lock.includes(`"${m[1]}@`), `deno.lock holds ${m[1]}`);
  }
  assertEquals(OPTIONAL_PACKAGES[0], LANCEDB_SPECIFIER);
});
