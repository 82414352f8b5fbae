import { storedStates } from "../../tests/_store.ts";
import { assert, assertClose, assertEquals, assertThrows } from "../../tests/_assert.ts";
import { openEngine } from "../engine/open_engine.ts";
import { evaluateFirstToken } from "../eval/first_token_accuracy.ts";
import { mirrorDir } from "../hub/sources.ts";
import { tinyMambaConfig, writeRandomCheckpoint } from "../model/random_checkpoint.ts";
import { readCsv } from "../results/csv.ts";
import { encodeDemos } from "../tasks/encode_demos.ts";
import { loadTask } from "../tasks/load_task.ts";
import { loadTokenizer } from "../tokenizer/load_tokenizer.ts";
import { State } from "../states/state.ts";
import { ConfigError } from "../util/errors.ts";
import { planMixingTask } from "./_mixing_vs_k_plan.ts";
import {
  MIXING_METHODS,
  type MixingVsKParams,
  PAPER_MIXING_VS_K,
  QUICK_MIXING_VS_K,
  runMixingVsK,
} from "./mixing_vs_k.ts";

const SIZES: Record<string, number> = {
  "antonym": 2398,
  "capitalize": 813,
  "country-capital": 197,
  "english-french": 4698,
  "present-past": 293,
  "singular-plural": 205,
};

/** Small enough for seconds on a tiny model, with every method and three values of k. */
const TINY: Partial<MixingVsKParams> = {
  tasks: ["antonym", "country-capital"],
  ks: [1, 2, 4],
  totalShots: 4,
  testItems: 6,
  libraryStates: 2,
  libraryShots: 4,
  batchSize: 4,
};

let modelDir: string | undefined;
async function tinyModel(): Promise<string> {
  if (modelDir === undefined) {
    const dir = await Deno.makeTempDir({ prefix: "mixing-model-" });
    await writeRandomCheckpoint(dir, tinyMambaConfig({ vocabSize: 50280, numHiddenLayers: 2 }), {
      seed: 5,
    });
    modelDir = dir;
  }
  return modelDir;
}

/** Runs the experiment into a fresh temp folder (or `dirs`), collecting the log lines. */
async function runTiny(
  params: Partial<MixingVsKParams>,
  dirs?: { results: string; cache: string },
  extra: { mirror?: string } = {},
) {
  const results = dirs?.results ?? await Deno.makeTempDir({ prefix: "mixing-results-" });
  const cache = dirs?.cache ?? await Deno.makeTempDir({ prefix: "mixing-cache-" });
  const lines: string[] = [];
  const paths = await runMixingVsK(params, {
    model: await tinyModel(),
    device: "cpu",
    resultsDir: results,
    cacheDir: cache,
    log: (l) => lines.push(l),
    ...extra,
  });
  const cacheLine = lines.find((l) => l.includes(", cache "))!;
  return { paths, lines, results, cache, cacheKeyDir: cacheLine.split(", cache ")[1] };
}

Deno.test("planMixingTask() tests min(500, size) items and keeps each out of its own demonstrations", () => {
  const expectedFolds: Record<string, number> = {
    "antonym": 1,
    "capitalize": 1,
    "country-capital": 2,
    "english-french": 1,
    "present-past": 2,
    "singular-plural": 2,
  };
  for (const [task, size] of Object.entries(SIZES)) {
    const plan = planMixingTask(task, size, PAPER_MIXING_VS_K);
    assertEquals(plan.test.length, Math.min(500, size), task);
    assertEquals(plan.folds.length, expectedFolds[task], task);
    assertEquals(new Set(plan.test).size, plan.test.length, `${task}: distinct test items`);
    assertEquals(
      plan.folds.flatMap((f) => f.items).sort((a, b) => a - b),
      plan.test,
      `${task}: folds cover the test set`,
    );
    for (const fold of plan.folds) {
      const inFold = new Set(fold.items);
      assert(fold.pool.every((i) => !inFold.has(i)), `${task}: pool outside the fold`);
      if (plan.folds.length === 1) {
        const inTest = new Set(plan.test);
        assert(
          fold.pool.every((i) => !inTest.has(i)),
          `${task}: one fold, pool outside the test set`,
        );
      }
      assertEquals(fold.shots.length, 32);
      assertEquals(new Set(fold.shots).size, 32, `${task}: distinct shots`);
      assert(fold.shots.every((i) => !inFold.has(i) && i >= 0 && i < size), `${task}: shots`);
    }
    plan.test.forEach((item, t) => {
      const demos = plan.promptDemos[t];
      const fold = plan.folds[plan.foldOf[t]];
      assert(fold.items.includes(item), `${task}: item in its fold`);
      assertEquals(demos.length, 32);
      assertEquals(new Set(demos).size, 32);
      assert(!demos.includes(item), `${task}: item ${item} among its own demonstrations`);
      assert(demos.every((i) => !fold.items.includes(i)), `${task}: demo from the item's fold`);
    });
    // Retrieval: two halves, the library from one, queries and their demonstrations from the other.
    const { library: lib, query } = plan.halves;
    assertEquals(lib.length + query.length, size);
    assertEquals(new Set([...lib, ...query]).size, size, `${task}: halves partition`);
    assertEquals(plan.library.length, 10);
    const inLib = new Set(lib), inQuery = new Set(query);
    for (const set of plan.library) {
      assertEquals(new Set(set).size, 32);
      assert(set.every((i) => inLib.has(i)), `${task}: library state from the library half`);
    }
    assertEquals(plan.retrievalTest.length, Math.min(500, query.length), task);
    plan.retrievalTest.forEach((item, t) => {
      assert(inQuery.has(item), `${task}: retrieval test item from the query half`);
      const demos = plan.queryDemos[t];
      assertEquals(new Set(demos).size, 32);
      assert(!demos.includes(item) && demos.every((i) => inQuery.has(i)), `${task}: query demos`);
    });
  }
});

Deno.test("planMixingTask() is deterministic in its inputs and refuses counts that do not fit", () => {
  const a = planMixingTask("antonym", 2398, QUICK_MIXING_VS_K);
  assertEquals(planMixingTask("antonym", 2398, QUICK_MIXING_VS_K), a);
  const b = planMixingTask("antonym", 2398, { ...QUICK_MIXING_VS_K, seed: 1 });
  assert(a.test.join() !== b.test.join(), "another seed draws other items");
  const c = planMixingTask("capitalize", 2398, QUICK_MIXING_VS_K);
  assert(a.test.join() !== c.test.join(), "another task draws other items");
  // 40 items all tested: folds of 20 leave 20 demonstrations, fewer than 32.
  assertThrows(
    () => planMixingTask("t", 40, { ...PAPER_MIXING_VS_K, testItems: 40 }),
    ConfigError,
    "need 32",
  );
  assertThrows(
    () => planMixingTask("t", 4000, { ...PAPER_MIXING_VS_K, ks: [1, 3] }),
    ConfigError,
    "k 3 does not divide totalShots 32",
  );
});

Deno.test("runMixingVsK() writes one row per item and evaluation, accuracies that agree with them, and resumes", async () => {
  const first = await runTiny(TINY);
  const out = `${first.results}/mixing`;
  for (
    const f of [
      "mixing.csv",
      "accuracy.csv",
      "retrieval.csv",
      "mixing.svg",
      "mixing_tasks.svg",
      "meta.json",
    ]
  ) {
    assert(first.paths.includes(`${out}/${f}`), `wrote ${f}`);
  }
  const mixing = await readCsv(`${out}/mixing.csv`);
  const accuracy = await readCsv(`${out}/accuracy.csv`);
  const retrieval = await readCsv(`${out}/retrieval.csv`);
  // 2 tasks x 4 methods x 3 values of k x 6 items.
  assertEquals(mixing.length, 2 * 4 * 3 * 6);
  assertEquals(Object.keys(mixing[0]), [
    "task",
    "method",
    "k",
    "item",
    "correct",
    "target_probability",
  ]);
  assertEquals(accuracy.length, 3 * 4 * 3);
  assertEquals(Object.keys(accuracy[0]), ["task", "method", "k", "accuracy", "items"]);
  assertEquals(retrieval.length, 2 * 3 * 6);
  assertEquals(Object.keys(retrieval[0]), [
    "task",
    "k",
    "item",
    "retrieved_task",
    "retrieved_state",
    "similarity",
    "same_task",
  ]);
  // Rows ordered task, method, k, item.
  const order = (r: Record<string, unknown>) => [
    TINY.tasks!.indexOf(r.task as string),
    MIXING_METHODS.indexOf(r.method as never),
    r.k as number,
    r.item as number,
  ];
  for (let i = 1; i < mixing.length; i++) {
    const [a, b] = [order(mixing[i - 1]), order(mixing[i])];
    const cmp = a.map((x, j) => x - b[j]).find((d) => d !== 0) ?? 0;
    assert(cmp < 0, `rows ${i - 1} and ${i} out of order`);
  }
  for (const r of mixing) {
    assert(r.correct === 0 || r.correct === 1);
    const p = r.target_probability as number;
    assert(p >= 0 && p <= 1, `probability ${p}`);
  }
  // Accuracy is the fraction of correct rows; "mean" the mean over tasks.
  for (const a of accuracy.filter((r) => r.task !== "mean")) {
    const rows = mixing.filter((r) => r.task === a.task && r.method === a.method && r.k === a.k);
    assertEquals(a.items, rows.length);
    assertEquals(a.accuracy, rows.filter((r) => r.correct === 1).length / rows.length);
  }
  for (const m of accuracy.filter((r) => r.task === "mean")) {
    const per = accuracy.filter((r) => r.task !== "mean" && r.method === m.method && r.k === m.k);
    assertEquals(m.accuracy, per.reduce((s, r) => s + (r.accuracy as number), 0) / per.length);
  }
  // The middle layer of two is layer 1.
  const meta = JSON.parse(await Deno.readTextFile(`${out}/meta.json`));
  assertEquals(meta.layer, 1);
  assertEquals(meta.params.totalShots, 4);

  // Same parameters: every evaluation comes from the cache, the same bytes are written.
  const before = await Promise.all(
    ["mixing.csv", "accuracy.csv", "retrieval.csv", "meta.json"].map((f) =>
      Deno.readTextFile(`${out}/${f}`)
    ),
  );
  const states = storedStates(`${first.cache}/_states`);
  assert(states.size > 0, "states were cached");
  const second = await runTiny(TINY, { results: first.results, cache: first.cache });
  assertEquals(second.cacheKeyDir, first.cacheKeyDir);
  assert(!second.lines.some((l) => l.includes(" items")), second.lines.join("\n"));
  assertEquals(second.lines.filter((l) => l.endsWith(": cached")).length, 2 * 3 * 2 + 2 * 3);
  const after = await Promise.all(
    ["mixing.csv", "accuracy.csv", "retrieval.csv", "meta.json"].map((f) =>
      Deno.readTextFile(`${out}/${f}`)
    ),
  );
  assertEquals(after, before);

  // Without the cached evaluations, the cached states are reused (not rewritten) and give the
  // same results.
  for await (const e of Deno.readDir(first.cacheKeyDir)) {
    if (e.name.endsWith(".json")) await Deno.remove(`${first.cacheKeyDir}/${e.name}`);
  }
  const third = await runTiny(TINY, { results: first.results, cache: first.cache });
  assert(third.lines.some((l) => l.endsWith("library: 0 states extracted, 4 cached")));
  assertEquals(storedStates(`${first.cache}/_states`), states);
  const again = await Promise.all(
    ["mixing.csv", "accuracy.csv", "retrieval.csv", "meta.json"].map((f) =>
      Deno.readTextFile(`${out}/${f}`)
    ),
  );
  assertEquals(again, before);

  // Another parameter, another cache folder.
  const other = await runTiny({ ...TINY, seed: 1, methods: ["mix"] }, {
    results: first.results,
    cache: first.cache,
  });
  assert(other.cacheKeyDir !== first.cacheKeyDir, "seed is part of the cache key");
  assertEquals((await readCsv(`${out}/mixing.csv`)).length, 2 * 3 * 6);
});

Deno.test("runMixingVsK() mixes, prompts and retrieves what the plan says", async () => {
  const params = { ...TINY, tasks: ["country-capital"], methods: MIXING_METHODS.slice() };
  const { results } = await runTiny(params);
  const rows = await readCsv(`${results}/mixing/mixing.csv`);
  const hits = await readCsv(`${results}/mixing/retrieval.csv`);
  const full = { ...PAPER_MIXING_VS_K, ...params };
  const task = await loadTask("country-capital");
  const plan = planMixingTask(task.name, task.items.length, full);
  const tok = await loadTokenizer(`${mirrorDir()}/tokenizer/gpt-neox-20b`);
  const engine = await openEngine(await tinyModel(), { device: "cpu" });
  // The experiment's predictions range over the tokenizer's ids, not Mamba's padded vocabulary.
  const vocabLimit = tok.vocabSize;
  // The tiny random model's probabilities move by about 1e-5 (relative) from one state to
  // another, so the comparisons are tight; the ONNX engine gives the same bits in any batch.
  const close = (a: number, b: number, what: string) =>
    assert(Math.abs(a - b) <= 1e-6 * Math.max(a, b), `${what}: ${a} vs ${b}`);
  const pick = (method: string, k: number) => {
    const found = rows.filter((r) => r.method === method && r.k === k);
    assertEquals(found.length, 6, `${method} k=${k} rows`);
    return found;
  };
  try {
    const items = plan.test.map((i) => task.items[i]);
    // mix at k = totalShots is one 4-shot state: the same as the full 4-shot prompt.
    const shots = plan.folds[0].shots.map((i) => task.items[i]);
    const viaPrompt = await evaluateFirstToken(engine, tok, items, { demos: shots, vocabLimit });
    pick("mix", 4).forEach((r, j) => {
      assertEquals(r.item, plan.test[j]);
      assertEquals(r.correct, viaPrompt.items[j].correct ? 1 : 0);
      close(r.target_probability as number, viaPrompt.items[j].targetProbability, "mix k=4");
    });
    // mix at k = 1: the average of four 1-shot states, each read alone.
    const singles: State[] = [];
    for (const d of shots) singles.push((await engine.run(encodeDemos(tok, [d]))).state);
    const avg = (f: "conv" | "ssm" | "deltaSum") =>
      singles[0][f].map((_, i) => singles.reduce((s, st) => s + st[f][i], 0) / singles.length);
    const mean = new State(singles[0].shape, {
      conv: avg("conv"),
      ssm: avg("ssm"),
      deltaSum: avg("deltaSum"),
    });
    const viaMean = await evaluateFirstToken(engine, tok, items, { state: mean, vocabLimit });
    pick("mix", 1).forEach((r, j) =>
      close(r.target_probability as number, viaMean.items[j].targetProbability, "mix k=1")
    );
    // prompt at k = 2: each item with the first two of its own demonstrations.
    const viaOwn = await evaluateFirstToken(engine, tok, items, {
      vocabLimit,
      demos: (j) => plan.promptDemos[j].slice(0, 2).map((i) => task.items[i]),
    });
    pick("prompt", 2).forEach((r, j) =>
      close(r.target_probability as number, viaOwn.items[j].targetProbability, "prompt k=2")
    );
    // query at k = 2 reads the item after its two query demonstrations: a 2-shot prompt.
    const rItems = plan.retrievalTest.map((i) => task.items[i]);
    const viaQuery = await evaluateFirstToken(engine, tok, rItems, {
      vocabLimit,
      demos: (j) => plan.queryDemos[j].slice(0, 2).map((i) => task.items[i]),
    });
    pick("query", 2).forEach((r, j) => {
      assertEquals(r.item, plan.retrievalTest[j]);
      close(r.target_probability as number, viaQuery.items[j].targetProbability, "query k=2");
    });
    // retrieve_mix at k = 2: the library state of largest cosine similarity of layer 1's SSM
    // state (worked out here from states read one at a time), averaged with the query state.
    const layerSsm = (st: { ssm: Float32Array }) => {
      const size = st.ssm.length / 2; // two layers
      return Array.from(st.ssm.subarray(size, 2 * size));
    };
    const cosine = (a: number[], b: number[]) => {
      let ab = 0, aa = 0, bb = 0;
      for (let i = 0; i < a.length; i++) {
        [ab, aa, bb] = [ab + a[i] * b[i], aa + a[i] ** 2, bb + b[i] ** 2];
      }
      return ab / Math.sqrt(aa * bb);
    };
    const library: State[] = [];
    for (const set of plan.library) {
      library.push((await engine.run(encodeDemos(tok, set.map((i) => task.items[i])))).state);
    }
    const mixRows = pick("retrieve_mix", 2);
    for (const [j, item] of plan.retrievalTest.entries()) {
      const demos = plan.queryDemos[j].slice(0, 2).map((i) => task.items[i]);
      const q = (await engine.run(encodeDemos(tok, demos))).state;
      const sims = library.map((l) => cosine(layerSsm(q), layerSsm(l)));
      const best = sims.indexOf(Math.max(...sims));
      const hit = hits.find((h) => h.k === 2 && h.item === item)!;
      assertEquals([hit.retrieved_task, hit.retrieved_state, hit.same_task], [
        "country-capital",
        best,
        1,
      ]);
      close(hit.similarity as number, sims[best], "similarity");
      const half = (f: "conv" | "ssm" | "deltaSum") =>
        q[f].map((x, i) => (x + library[best][f][i]) / 2);
      const [r] = (await evaluateFirstToken(engine, tok, [task.items[item]], {
        state: new State(q.shape, {
          conv: half("conv"),
          ssm: half("ssm"),
          deltaSum: half("deltaSum"),
        }),
        vocabLimit,
      })).items;
      assertEquals(mixRows[j].item, item);
      close(mixRows[j].target_probability as number, r.targetProbability, "retrieve_mix k=2");

      // The compositions beyond the mean, worked out by hand from q and the retrieved r (4
      // shots). The random checkpoint's A_log[c, j] is log(j + 1): A = -(j + 1).
      const lib = library[best];
      const n = q.shape.stateSize;
      const decayOf = (st: State) => (i: number) =>
        Math.exp(-(1 + (i % n)) * st.deltaSum[Math.floor(i / n)]);
      const [dq, dr] = [decayOf(q), decayOf(lib)];
      const sum = (f: "conv" | "ssm" | "deltaSum") => q[f].map((x, i) => x + lib[f][i]);
      const byHand: Record<string, State> = {
        retrieve_weighted: new State(q.shape, {
          conv: q.conv.map((x, i) => (2 * x + 4 * lib.conv[i]) / 6),
          ssm: q.ssm.map((x, i) => (2 * x + 4 * lib.ssm[i]) / 6),
          deltaSum: q.deltaSum.map((x, i) => (2 * x + 4 * lib.deltaSum[i]) / 6),
        }),
        // r's demonstrations first, then q's: q's conv window.
        retrieve_adecay: new State(q.shape, {
          conv: q.conv,
          ssm: q.ssm.map((x, i) => x + dq(i) * lib.ssm[i]),
          deltaSum: sum("deltaSum"),
        }),
        // Both orders, averaged.
        retrieve_picaso: new State(q.shape, {
          conv: half("conv"),
          ssm: q.ssm.map((x, i) => (x + dq(i) * lib.ssm[i] + lib.ssm[i] + dr(i) * x) / 2),
          deltaSum: sum("deltaSum"),
        }),
      };
      for (const [method, state] of Object.entries(byHand)) {
        const [want] = (await evaluateFirstToken(engine, tok, [task.items[item]], {
          state,
          vocabLimit,
        })).items;
        const got = pick(method, 2)[j];
        assertEquals(got.item, item);
        close(got.target_probability as number, want.targetProbability, `${method} k=2`);
      }
      // The check can fail: A-decay in the other order (q read first) gives another answer.
      const [reversed] = (await evaluateFirstToken(engine, tok, [task.items[item]], {
        state: new State(q.shape, {
          conv: lib.conv,
          ssm: lib.ssm.map((x, i) => x + dr(i) * q.ssm[i]),
          deltaSum: sum("deltaSum"),
        }),
        vocabLimit,
      })).items;
      const got = pick("retrieve_adecay", 2)[j].target_probability as number;
      assert(
        Math.abs(got - reversed.targetProbability) > 1e-6 * got,
        `retrieve_adecay k=2 cannot tell the order: ${got} vs ${reversed.targetProbability}`,
      );
    }
  } finally {
    await engine.close();
  }
});

Deno.test("runMixingVsK() on tasks of identical items: mixing changes nothing, retrieval finds its own task", async () => {
  // Every item of a task the same: every state of k shots of a task is the same state (up to
  // float noise between batches), so the mean of 4 / k such states is that state, a 4-shot
  // query state equals each library state of its task (cosine 1), and mixing the two changes
  // nothing.
  const mirror = await Deno.makeTempDir({ prefix: "mixing-mirror-" });
  await Deno.mkdir(`${mirror}/function_vectors/abstractive`, { recursive: true });
  await Deno.mkdir(`${mirror}/tokenizer`, { recursive: true });
  await Deno.symlink(`${mirrorDir()}/tokenizer/gpt-neox-20b`, `${mirror}/tokenizer/gpt-neox-20b`);
  const write = (name: string, input: string, output: string) =>
    Deno.writeTextFile(
      `${mirror}/function_vectors/abstractive/${name}.json`,
      JSON.stringify(Array.from({ length: 30 }, () => ({ input, output }))),
    );
  await write("same-hot", "hot", "cold");
  await write("same-france", "France", "Paris");
  const params = { ...TINY, tasks: ["same-hot", "same-france"], ks: [1, 4] };
  const { results } = await runTiny(params, undefined, { mirror });
  const rows = await readCsv(`${results}/mixing/mixing.csv`);
  const hits = await readCsv(`${results}/mixing/retrieval.csv`);
  const prob = (task: string, method: string, k: number) => {
    const found = rows.filter((r) => r.task === task && r.method === method && r.k === k);
    assertEquals(found.length, 6, `${task} ${method} k=${k} rows`);
    return found.map((r) => r.target_probability as number);
  };
  for (const task of params.tasks) {
    for (const k of params.ks) {
      const q = prob(task, "query", k);
      assertClose(prob(task, "mix", k), q, { rtol: 1e-6, msg: `${task} mix k=${k}` });
      assertClose(prob(task, "prompt", k), q, { rtol: 1e-6, msg: `${task} prompt k=${k}` });
    }
    assertClose(prob(task, "retrieve_mix", 4), prob(task, "query", 4), {
      rtol: 1e-6,
      msg: `${task} retrieve_mix k=4`,
    });
    const found = hits.filter((h) => h.task === task && h.k === 4);
    assertEquals(found.length, 6);
    for (const h of found) {
      // Both library states of the task are the same state: either may win the tie.
      assertEquals([h.retrieved_task, h.same_task], [task, 1]);
      assert(h.retrieved_state === 0 || h.retrieved_state === 1);
      assert(Math.abs((h.similarity as number) - 1) < 1e-6, `similarity ${h.similarity}`);
    }
  }
});
