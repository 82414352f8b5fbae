import { removeStored, storedStates } from "../../tests/_store.ts";
import { assert, assertClose, assertEquals } from "../../tests/_assert.ts";
import { mirrorDir } from "../hub/sources.ts";
import { tinyMambaConfig, writeRandomCheckpoint } from "../model/random_checkpoint.ts";
import { readCsv } from "../results/csv.ts";
import { Rng } from "../util/random.ts";
import { centeredGram, pcaFromGram, symmetricEigen, tsneFromGram } from "./_embedding.ts";
import { type ClusteringParams, QUICK_CLUSTERING, runClustering } from "./clustering.ts";

/** Everything these tests write, removed when they end. */
const ROOT = Deno.makeTempDirSync({ prefix: "clustering-test-" });
globalThis.addEventListener("unload", () => Deno.removeSync(ROOT, { recursive: true }));

/** A fresh folder under ROOT. */
const tempDir = () => Deno.makeTempDir({ dir: ROOT });

/** A tiny random 2-layer checkpoint with the real vocabulary, written once for this file. */
const checkpoint = (async () => {
  const dir = `${ROOT}/model`;
  await writeRandomCheckpoint(dir, tinyMambaConfig({ vocabSize: 50280, numHiddenLayers: 2 }), {
    seed: 5,
  });
  return dir;
})();

/** Run folders in a fresh temp dir, logs collected. */
async function runIn(root: string, params: Partial<ClusteringParams>, mirror?: string) {
  const lines: string[] = [];
  const files = await runClustering(params, {
    model: await checkpoint,
    device: "cpu",
    resultsDir: `${root}/results`,
    cacheDir: `${root}/cache`,
    mirror,
    log: (line) => lines.push(line),
  });
  return { files, lines, csv: await Deno.readTextFile(`${root}/results/clustering/points.csv`) };
}

/** The one cache folder of the clustering runs under `root`. */
function cacheDirs(root: string): string[] {
  return [...Deno.readDirSync(`${root}/cache/clustering`)].map((e) =>
    `${root}/cache/clustering/${e.name}`
  ).sort();
}

const SMALL: Partial<ClusteringParams> = {
  ...QUICK_CLUSTERING,
  tasks: ["antonym", "country-capital", "present-past"],
  sets: 3,
  shots: 2,
  iterations: 100,
};

Deno.test("symmetricEigen() gives orthonormal eigenvectors sorted by eigenvalue", () => {
  const rng = new Rng(1);
  const n = 7;
  const m = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = i; j < n; j++) m[i * n + j] = m[j * n + i] = rng.normal();
  }
  const { values, vectors } = symmetricEigen(m, n);
  for (let c = 0; c < n; c++) {
    const mv = Array.from({ length: n }, (_, i) => {
      let s = 0;
      for (let k = 0; k < n; k++) s += m[i * n + k] * vectors[c][k];
      return s;
    });
    assertClose(mv, Array.from(vectors[c], (x) => values[c] * x), { atol: 1e-12 });
    for (let d = 0; d < n; d++) {
      const dot = vectors[c].reduce((s, x, i) => s + x * vectors[d][i], 0);
      assertClose([dot], [c === d ? 1 : 0], { atol: 1e-12 });
    }
    if (c > 0) assert(values[c] <= values[c - 1], "descending");
  }
});

Deno.test("pcaFromGram() recovers two orthogonal directions of known spread", () => {
  // x_i = c + t_i u + s_i w with u, w orthogonal, |u| = 3, |w| = 1, t and s of mean 0 and
  // uncorrelated (s is made orthogonal to 1 and t), var(3t) > var(s): the principal
  // coordinates are exactly 3 t_i and s_i, up to sign.
  const rng = new Rng(2);
  const d = 50, n = 30;
  const u = new Float64Array(d), w = new Float64Array(d);
  u[3] = 3;
  w[17] = 0.6;
  w[40] = 0.8;
  const centered = (a: number[]) => {
    const m = a.reduce((p, q) => p + q, 0) / a.length;
    return a.map((v) => v - m);
  };
  const t = centered(Array.from({ length: n }, () => 4 * rng.normal()));
  const s0 = centered(Array.from({ length: n }, () => rng.normal()));
  const tt = t.reduce((p, q) => p + q * q, 0), st = s0.reduce((p, q, i) => p + q * t[i], 0);
  const s = s0.map((v, i) => v - (st / tt) * t[i]);
  const c = Float64Array.from({ length: d }, () => rng.normal());
  const x = t.map((ti, i) => Float32Array.from(c, (cj, j) => cj + ti * u[j] + s[i] * w[j]));
  const points = pcaFromGram(centeredGram(x), n);
  // float32 inputs: agreement to ~1e-6 relative.
  const px = points.map((p) => p[0]), py = points.map((p) => p[1]);
  const ex = t.map((ti) => 3 * ti), ey = s;
  const flip = (a: number[], ref: number[]) => (a[0] * ref[0] < 0 ? a.map((v) => -v) : a);
  assertClose(flip(px, ex), ex, { rtol: 1e-4, atol: 1e-4 });
  assertClose(flip(py, ey), ey, { rtol: 1e-4, atol: 1e-4 });
  // Sign convention: each axis' largest-magnitude coordinate is positive.
  for (const axis of [px, py]) {
    const big = axis.reduce((b, v) => (Math.abs(v) > Math.abs(b) ? v : b), 0);
    assert(big > 0, `largest coordinate ${big} is not positive`);
  }
});

Deno.test("tsneFromGram() keeps separated clusters apart and is deterministic given the seed", () => {
  const rng = new Rng(3);
  const clusters = 4, per = 10, d = 64;
  const centers = Array.from(
    { length: clusters },
    () => Float32Array.from({ length: d }, () => 5 * rng.normal()),
  );
  const x = Array.from(
    { length: clusters * per },
    (_, i) => centers[i % clusters].map((v) => v + 0.5 * rng.normal()),
  );
  const gram = centeredGram(x);
  const n = x.length;
  const y = tsneFromGram(gram, n, { perplexity: 5, iterations: 300, seed: 7 });
  for (let i = 0; i < n; i++) {
    let best = -1, bestD = Infinity;
    for (let j = 0; j < n; j++) {
      const dd = (y[i][0] - y[j][0]) ** 2 + (y[i][1] - y[j][1]) ** 2;
      if (j !== i && dd < bestD) [best, bestD] = [j, dd];
    }
    assertEquals(best % clusters, i % clusters, `nearest 2-D neighbour of point ${i}`);
  }
  assertEquals(tsneFromGram(gram, n, { perplexity: 5, iterations: 300, seed: 7 }), y);
  const other = tsneFromGram(gram, n, { perplexity: 5, iterations: 300, seed: 8 });
  assert(JSON.stringify(other) !== JSON.stringify(y), "another seed, another layout");
});

Deno.test("runClustering() writes one row per view, method and state, in order", async () => {
  const root = await tempDir();
  const { files, lines, csv } = await runIn(root, SMALL);
  const out = `${root}/results/clustering`;
  assertEquals(files.sort(), [
    `${out}/clustering.png`,
    `${out}/clustering.svg`,
    `${out}/clustering_appendix.png`,
    `${out}/clustering_appendix.svg`,
    `${out}/meta.json`,
    `${out}/points.csv`,
  ]);
  // 2 layers: main layer floor(2/2) = 1, appendix layers {0, 0, 1, 1, 1} = [0, 1]; kinds ssm,
  // conv: 4 views x 2 methods x 3 tasks x 2 variants x 3 sets.
  const rows = await readCsv(`${out}/points.csv`);
  assertEquals(rows.length, 4 * 2 * 3 * 2 * 3);
  assert(csv.startsWith("task,randomized,set,layer,kind,method,x,y\n"), csv.slice(0, 60));
  const key = (r: Record<string, unknown>) =>
    [r.layer, r.kind, r.method, r.task, r.randomized, r.set].join(" ");
  assertEquals(rows.slice(0, 7).map(key), [
    "0 ssm tsne antonym false 0",
    "0 ssm tsne antonym false 1",
    "0 ssm tsne antonym false 2",
    "0 ssm tsne antonym true 0",
    "0 ssm tsne antonym true 1",
    "0 ssm tsne antonym true 2",
    "0 ssm tsne country-capital false 0",
  ]);
  assertEquals(
    [...new Set(rows.map((r) => `${r.layer} ${r.kind} ${r.method}`))],
    [
      "0 ssm tsne",
      "0 ssm pca",
      "0 conv tsne",
      "0 conv pca",
      "1 ssm tsne",
      "1 ssm pca",
      "1 conv tsne",
      "1 conv pca",
    ],
  );
  assert(rows.every((r) => Number.isFinite(r.x) && Number.isFinite(r.y)), "finite coordinates");
  const meta = JSON.parse(await Deno.readTextFile(`${out}/meta.json`));
  assertEquals([meta.layer, meta.layers, meta.states], [1, [0, 1], 18]);
  assertEquals(meta.params.sets, 3);
  // The main figure holds the 18 states of layer 1's ssm t-SNE.
  const svg = await Deno.readTextFile(`${out}/clustering.svg`);
  assertEquals(svg.match(/<circle/g)?.length, 18);
  assert(lines.some((l) => l.endsWith("clustering: states: 18/18")), lines.join("\n"));
  // Demonstration sets are disjoint within a task and shared by its control.
  for (const sets of Object.values(meta.demoSets) as number[][][]) {
    assertEquals(new Set(sets.flat()).size, 3 * 2);
  }
});

Deno.test("runClustering() resumes from its cache with identical results", async () => {
  const root = await tempDir();
  const first = await runIn(root, SMALL);
  const [cache] = cacheDirs(root);
  const times = storedStates(`${root}/cache/_states`);
  assertEquals(times.size, 18);

  // A finished run is rewritten from the cached points: no state is read or computed.
  const again = await runIn(root, SMALL);
  assertEquals(again.csv, first.csv);
  assert(!again.lines.some((l) => l.includes("states:")), again.lines.join("\n"));
  assertEquals(cacheDirs(root), [cache]);

  // A run killed after some states: only the missing ones are computed, the rest reused.
  const names = [...times.keys()].sort();
  const gone = names.filter((_, i) => i % 3 === 0);
  for (const name of gone) await removeStored(`${root}/cache/_states`, name);
  for (const e of Deno.readDirSync(cache)) {
    if (e.name.endsWith(".json")) await Deno.remove(`${cache}/${e.name}`);
  }
  const resumed = await runIn(root, SMALL);
  assertEquals(resumed.csv, first.csv);
  const after = storedStates(`${root}/cache/_states`);
  assertEquals([...after.keys()].sort(), names);
  for (const name of names) {
    if (!gone.includes(name)) assertEquals(after.get(name), times.get(name), `${name} was reused`);
  }
});

Deno.test("runClustering() uses another cache folder when a parameter changes", async () => {
  const root = await tempDir();
  const a = await runIn(root, SMALL);
  const b = await runIn(root, { ...SMALL, seed: 1 });
  assertEquals(cacheDirs(root).length, 2);
  assert(a.csv !== b.csv, "another seed draws other sets");
});

Deno.test("runClustering() puts sets of identical demonstrations on one point per task", async () => {
  // Two tasks whose items are all the same pair: every set of a task reads the same tokens, and
  // shuffling identical outputs changes nothing, so all 2 x 3 states of a task are one state.
  const root = await tempDir();
  const mirror = `${root}/mirror`;
  await Deno.mkdir(`${mirror}/function_vectors/abstractive`, { recursive: true });
  await Deno.mkdir(`${mirror}/tokenizer`, { recursive: true });
  await Deno.symlink(`${mirrorDir()}/tokenizer/gpt-neox-20b`, `${mirror}/tokenizer/gpt-neox-20b`);
  for (const [name, input, output] of [["same-a", "hot", "cold"], ["same-b", "big", "small"]]) {
    const items = Array.from({ length: 12 }, () => ({ input, output }));
    await Deno.writeTextFile(
      `${mirror}/function_vectors/abstractive/${name}.json`,
      JSON.stringify(items),
    );
  }
  await runIn(root, { ...SMALL, tasks: ["same-a", "same-b"], kinds: ["ssm"] }, mirror);
  const rows = await readCsv(`${root}/results/clustering/points.csv`);
  for (const method of ["pca", "tsne"]) {
    for (const layer of [0, 1]) {
      const view = rows.filter((r) => r.method === method && r.layer === layer);
      assertEquals(view.length, 12);
      const [a, b] = ["same-a", "same-b"].map((task) => view.filter((r) => r.task === task));
      const dist = (r: (typeof view)[0], q: (typeof view)[0]) =>
        Math.hypot(+r.x! - +q.x!, +r.y! - +q.y!);
      const within = Math.max(...[a, b].flatMap((g) => g.flatMap((r) => g.map((q) => dist(r, q)))));
      const apart = Math.min(...a.flatMap((r) => b.map((q) => dist(r, q))));
      // PCA maps equal vectors to one point; t-SNE's repulsion spreads equal points into a small
      // ring, but each task's ring lies apart from the other's.
      const limit = method === "pca" ? 1e-6 * apart : apart;
      assert(apart > 0, `${method} layer ${layer}: the tasks coincide`);
      assert(within < limit, `${method} layer ${layer}: spread ${within}, tasks ${apart} apart`);
    }
  }
});
