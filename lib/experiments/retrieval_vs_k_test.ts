import { removeStored, storedStates } from "../../tests/_store.ts";
import { assert, assertEquals, assertThrows } from "../../tests/_assert.ts";
import { mirrorDir } from "../hub/sources.ts";
import { tinyMambaConfig, writeRandomCheckpoint } from "../model/random_checkpoint.ts";
import { readCsv } from "../results/csv.ts";
import { loadTask } from "../tasks/load_task.ts";
import { ConfigError } from "../util/errors.ts";
import { sampleSetsWithReuse } from "./_demo_sets.ts";
import { FIGURE1_TASKS } from "./clustering.ts";
import {
  PAPER_RETRIEVAL_VS_K,
  planRetrievalSets,
  type RetrievalVsKParams,
  runRetrievalVsK,
} from "./retrieval_vs_k.ts";

/** Everything these tests write, removed when they end. */
const ROOT = Deno.makeTempDirSync({ prefix: "retrieval-test-" });
globalThis.addEventListener("unload", () => Deno.removeSync(ROOT, { recursive: true }));

/** A fresh folder under ROOT. */
const tempDir = () => Deno.makeTempDir({ dir: ROOT });

/** A tiny random 2-layer checkpoint with the real vocabulary, written once for this file. */
const checkpoint = (async () => {
  const dir = `${ROOT}/model`;
  await writeRandomCheckpoint(dir, tinyMambaConfig({ vocabSize: 50280, numHiddenLayers: 2 }), {
    seed: 6,
  });
  return dir;
})();

async function runIn(root: string, params: Partial<RetrievalVsKParams>, mirror?: string) {
  const lines: string[] = [];
  const files = await runRetrievalVsK(params, {
    model: await checkpoint,
    device: "cpu",
    resultsDir: `${root}/results`,
    cacheDir: `${root}/cache`,
    mirror,
    log: (line) => lines.push(line),
  });
  const read = (name: string) => Deno.readTextFile(`${root}/results/retrieval/${name}.csv`);
  return { files, lines, retrieval: await read("retrieval"), accuracy: await read("accuracy") };
}

function cacheDirs(root: string): string[] {
  return [...Deno.readDirSync(`${root}/cache/retrieval`)]
    .map((e) => `${root}/cache/retrieval/${e.name}`)
    .sort();
}

const SMALL: Partial<RetrievalVsKParams> = {
  tasks: ["antonym", "country-capital", "present-past"],
  libraryStates: 2,
  libraryShots: 4,
  queries: 2,
  ks: [1, 2],
};

/** How often the most used item of `sets` is used. */
function maxUse(sets: number[][]): number {
  const uses = new Map<number, number>();
  for (const i of sets.flat()) uses.set(i, (uses.get(i) ?? 0) + 1);
  return Math.max(...uses.values());
}

Deno.test("sampleSetsWithReuse() is sampleDemoSets() when the pool suffices, else disjoint rounds", () => {
  const pool = Array.from({ length: 20 }, (_, i) => 3 * i);
  const enough = sampleSetsWithReuse(pool, { count: 4, k: 5, seed: 1 });
  assertEquals(new Set(enough.flat()).size, 20);
  // 7 sets of 6 from 20 items: rounds of 3 disjoint sets (18 items), so 3 rounds.
  const sets = sampleSetsWithReuse(pool, { count: 7, k: 6, seed: 1 });
  assertEquals(sets.length, 7);
  for (const s of sets) assertEquals(new Set(s).size, 6, "no item twice in a set");
  assert(sets.flat().every((i) => pool.includes(i)), "only pool items");
  for (const round of [sets.slice(0, 3), sets.slice(3, 6)]) {
    assertEquals(new Set(round.flat()).size, 18, "a round is disjoint");
  }
  assertEquals(maxUse(sets), 3);
  assertThrows(() => sampleSetsWithReuse(pool, { count: 1, k: 21, seed: 1 }), ConfigError, "21");
});

Deno.test("planRetrievalSets() keeps queries apart from the library for the paper's tasks", async () => {
  const p = PAPER_RETRIEVAL_VS_K;
  const reused: string[] = [];
  for (const name of FIGURE1_TASKS) {
    const task = await loadTask(name);
    const plan = planRetrievalSets(task, p);
    const n = task.items.length;
    assertEquals(plan.pools.items, n);
    assertEquals(plan.pools.queries, Math.round(0.3 * n));
    assertEquals(plan.library.length, 10);
    assert(plan.library.every((s) => s.length === 32 && new Set(s).size === 32), name);
    const library = new Set(plan.library.flat());
    for (const k of p.ks) {
      const sets = plan.queries.get(k)!;
      assertEquals(sets.length, 10);
      assert(sets.every((s) => s.length === k && new Set(s).size === k), `${name} k=${k}`);
      assert(sets.flat().every((i) => !library.has(i) && i < n), `${name} k=${k} hits the library`);
      const disjoint = maxUse(sets) === 1;
      assertEquals(disjoint, 10 * k <= plan.pools.queries, `${name} k=${k}`);
      if (!disjoint) reused.push(`${name} k=${k}`);
    }
    const libraryDisjoint = maxUse(plan.library) === 1;
    assertEquals(libraryDisjoint, 320 <= plan.pools.library, name);
    if (!libraryDisjoint) reused.push(`${name} library`);
    // As disjoint as the pool allows: an item is used at most ceil(needed / pool) times.
    assert(maxUse(plan.library) <= Math.ceil(320 / plan.pools.library), `${name} library reuse`);
  }
  // What the module documentation says.
  assertEquals(reused.sort(), [
    "country-capital k=16",
    "country-capital k=8",
    "country-capital library",
    "present-past k=16",
    "present-past library",
    "singular-plural k=16",
    "singular-plural k=8",
    "singular-plural library",
  ]);
});

Deno.test("runRetrievalVsK() writes a row per query and accuracies that match them", async () => {
  const root = await tempDir();
  const { files, lines } = await runIn(root, SMALL);
  const out = `${root}/results/retrieval`;
  assertEquals(files.sort(), [
    `${out}/accuracy.csv`,
    `${out}/meta.json`,
    `${out}/retrieval.csv`,
    `${out}/retrieval.png`,
    `${out}/retrieval.svg`,
  ]);
  const rows = await readCsv(`${out}/retrieval.csv`);
  assertEquals(rows.length, 3 * 2 * 2);
  assertEquals(Object.keys(rows[0]), ["task", "k", "query", "retrieved_task", "score", "correct"]);
  assertEquals(
    rows.map((r) => `${r.task} ${r.k} ${r.query}`),
    SMALL.tasks!.flatMap((t) => [1, 2].flatMap((k) => [0, 1].map((q) => `${t} ${k} ${q}`))),
  );
  for (const r of rows) {
    assert(SMALL.tasks!.includes(r.retrieved_task as string), String(r.retrieved_task));
    assert(+r.score! >= -1 && +r.score! <= 1, `score ${r.score}`);
    assertEquals(r.correct, String(r.retrieved_task === r.task));
  }
  const accuracy = await readCsv(`${out}/accuracy.csv`);
  assertEquals(accuracy.length, (3 + 1) * 2);
  for (const a of accuracy.filter((r) => r.task !== "mean")) {
    const mine = rows.filter((r) => r.task === a.task && r.k === a.k);
    assertEquals(a.accuracy, mine.filter((r) => r.correct === "true").length / mine.length);
  }
  for (const k of [1, 2]) {
    const per = accuracy.filter((r) => r.task !== "mean" && r.k === k).map((r) => +r.accuracy!);
    const mean = accuracy.find((r) => r.task === "mean" && r.k === k)!;
    assertEquals(mean.accuracy, per.reduce((a, b) => a + b, 0) / per.length);
  }
  const meta = JSON.parse(await Deno.readTextFile(`${out}/meta.json`));
  assertEquals(meta.layer, 1);
  assertEquals(meta.pools["country-capital"], { items: 197, library: 138, queries: 59 });
  assert(lines.some((l) => l.endsWith("library states: 6/6")), lines.join("\n"));
  assert(lines.some((l) => l.endsWith("query states present-past k=2: 2/2")), lines.join("\n"));
});

Deno.test("runRetrievalVsK() resumes from its cache with identical results", async () => {
  const root = await tempDir();
  const first = await runIn(root, SMALL);
  const [cache] = cacheDirs(root);
  const times = storedStates(`${root}/cache/_states`);
  assertEquals(times.size, 3 * 2 + 3 * 2 * 2);

  const again = await runIn(root, SMALL);
  assertEquals([again.retrieval, again.accuracy], [first.retrieval, first.accuracy]);
  assert(!again.lines.some((l) => l.includes(" states")), again.lines.join("\n"));

  // Killed midway: some states and results lost; the rest is reused, the results the same.
  const names = [...times.keys()].sort();
  const gone = names.filter((_, i) => i % 4 === 1);
  for (const name of gone) await removeStored(`${root}/cache/_states`, name);
  for (const e of Deno.readDirSync(cache)) {
    if (e.name.endsWith(".json")) await Deno.remove(`${cache}/${e.name}`);
  }
  const resumed = await runIn(root, SMALL);
  assertEquals([resumed.retrieval, resumed.accuracy], [first.retrieval, first.accuracy]);
  const after = storedStates(`${root}/cache/_states`);
  assertEquals([...after.keys()].sort(), names);
  for (const name of names) {
    if (!gone.includes(name)) assertEquals(after.get(name), times.get(name), `${name} was reused`);
  }
  assertEquals(cacheDirs(root), [cache]);
});

Deno.test("runRetrievalVsK() uses another cache folder when a parameter changes", async () => {
  const root = await tempDir();
  await runIn(root, SMALL);
  const other = await runIn(root, { ...SMALL, ks: [1, 3] });
  assertEquals(cacheDirs(root).length, 2);
  assert(other.accuracy.includes("\nmean,3,"), other.accuracy);
});

Deno.test("runRetrievalVsK() finds the task when a query reads the library's very tokens", async () => {
  // Tasks whose items are all one pair: a query of k = libraryShots reads exactly the tokens of
  // every library state of its task, so its state is theirs: score 1, always the right task.
  const root = await tempDir();
  const mirror = `${root}/mirror`;
  await Deno.mkdir(`${mirror}/function_vectors/abstractive`, { recursive: true });
  await Deno.mkdir(`${mirror}/tokenizer`, { recursive: true });
  await Deno.symlink(`${mirrorDir()}/tokenizer/gpt-neox-20b`, `${mirror}/tokenizer/gpt-neox-20b`);
  const pairs = [["same-a", "hot", "cold"], ["same-b", "big", "small"], ["same-c", "up", "down"]];
  for (const [name, input, output] of pairs) {
    const items = Array.from({ length: 40 }, () => ({ input, output }));
    await Deno.writeTextFile(
      `${mirror}/function_vectors/abstractive/${name}.json`,
      JSON.stringify(items),
    );
  }
  const params = { ...SMALL, tasks: pairs.map(([name]) => name), ks: [1, 4] };
  await runIn(root, params, mirror);
  const rows = await readCsv(`${root}/results/retrieval/retrieval.csv`);
  const exact = rows.filter((r) => r.k === 4);
  assertEquals(exact.length, 3 * 2);
  for (const r of exact) {
    assertEquals(r.retrieved_task, r.task);
    assert(+r.score! > 1 - 1e-6, `score ${r.score}`);
  }
  const accuracy = await readCsv(`${root}/results/retrieval/accuracy.csv`);
  assertEquals(accuracy.find((r) => r.task === "mean" && r.k === 4)!.accuracy, 1);
});
