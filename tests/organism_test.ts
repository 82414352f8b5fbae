/**
 * The model organism shipped in data/models/organism, checked as a user meets it: the checkpoint
 * loads by name, the ONNX engine runs it as an independent NumPy implementation does, and the
 * behaviour State Soup needs is there, measured through the experiments themselves (a fast
 * preset): zero-shot accuracy stays low and rises with k, 8-shot states retrieve their task,
 * held-out news is modelled and earlier text lowers its loss. Floors sit a margin below what was measured (docs/organism.md),
 * so a regression in the engine, tasks, library or experiments fails here on real behaviour.
 */
import { inTempDir } from "./_temp.ts";
import { assert, assertEquals } from "./_assert.ts";
import { numpyPython } from "./_python.ts";
import { loadNewsDocuments } from "../lib/data/mod.ts";
import { openEngine } from "../lib/engine/mod.ts";
import {
  FIGURE1_TASKS,
  ORGANISM_HELD_OUT_DOCUMENTS,
  ORGANISM_PRESET,
  PAPER_ICL_VS_K,
  PAPER_RETRIEVAL_VS_K,
  runAdecay,
  runComposition,
  runIclVsK,
  runLayers,
  runRetrievalVsK,
  runScale,
} from "../lib/experiments/mod.ts";
import { BUNDLED_MODELS, resolveModelDir, resolveTokenizerFile } from "../lib/hub/mod.ts";
import { readMambaConfig } from "../lib/model/mod.ts";
import { readNpy } from "../lib/npy/mod.ts";
import { readCsv } from "../lib/results/mod.ts";
import { buildPrompt, loadTask, sampleDemoSets, splitTask } from "../lib/tasks/mod.ts";
import { loadTokenizer } from "../lib/tokenizer/mod.ts";

const DIR = BUNDLED_MODELS.organism;

// Floors and ceilings: a margin from the numbers measured on the committed checkpoint with these
// exact settings (printed by each test; docs/organism.md); see each constant for the measured value.
/** Mean first-token accuracy over the six tasks at k = 0 (40 items per task): measured 0.463
 * (the target is 0.30; docs/organism.md says why it is missed). */
const CEILING_ICL_0 = 0.55;
/** Mean accuracy at k = 32 (40 items per task): measured 0.917. */
const FLOOR_ICL_32 = 0.85;
/** Mean accuracy at k = 32 minus at k = 1: measured 0.917 - 0.775 = 0.142. */
const FLOOR_ICL_1_TO_32 = 0.08;
/** Retrieval accuracy of 8-shot queries (8 tasks, 5 queries each, 5 library states of 16):
 * measured 0.90 (36 of 40). */
const FLOOR_RETRIEVAL_8 = 0.8;
/** Layer sweep (the retrieval test's sizes, k = 8): 5-NN accuracy of the task among the library's
 * SSM states, at every layer: measured 0.85 to 0.925. */
const FLOOR_LAYERS_SSM_KNN = 0.75;
/** Silhouette of the SSM states minus that of the conv states, at every layer: measured 0.154 to
 * 0.447 (the conv state clusters by task barely, if at all). */
const FLOOR_LAYERS_SSM_OVER_CONV = 0.08;
/** Retrieval accuracy at k = 8 at the middle layer, SSM state minus conv state: measured
 * 0.900 - 0.650 = 0.25. */
const FLOOR_LAYERS_RETRIEVAL_GAP = 0.1;
/** Composition at T = 1 (12 held-out documents, x3 of 32 tokens): the share of documents whose
 * A-decay mix comes closer to reading x1 then x2 with x1's conv state carried than with x2's
 * alone: measured 12 of 12 (40 of 50 on the organism preset's 50 documents). */
const FLOOR_CONV_CARRY_SHARE = 0.75;
/** Scale (4 sets per task and k, 5 queries per task, k = 8): exact retrieval accuracy with the
 * paper's library (the 8 queried tasks' 32-shot states) minus with every task's states at 1 set
 * per task and k (159 states, distractors included): measured 0.925 - 0.650 = 0.275. */
const FLOOR_SCALE_DISTRACTOR_DROP = 0.1;
/** usearch's recall@1 against exact search on the 636-state library: measured 1.0. */
const FLOOR_SCALE_USEARCH_RECALL = 0.9;
/** Loss on x3 after reading x1 then x2, held-out news (12 documents, T = 32): measured 6.193 (the predecessor: 8.8). */
const CEILING_NEWS_LOSS = 6.5;
/** How much reading x1 before x2 lowers that loss against x2 alone: measured
 * 6.199 - 6.193 = 0.0063; a state that forgets x1 gives 0. */
const FLOOR_NEWS_GAIN = 0.003;
/** How many times closer to sequential reading A-decay mixing is than the mean: measured
 * 0.0085 / 0.0013, about 6.5. */
const FLOOR_ADECAY_RATIO = 3;

function options(dir: string) {
  return {
    model: "organism",
    device: "cpu" as const,
    resultsDir: `${dir}/results`,
    cacheDir: `${dir}/cache`,
    log: () => {},
  };
}

Deno.test("the organism is a Hugging Face Mamba checkpoint of at most 40 MB found by name", async () => {
  assertEquals(await resolveModelDir("organism"), DIR);
  const raw = JSON.parse(await Deno.readTextFile(`${DIR}/config.json`));
  assertEquals(raw.model_type, "mamba");
  assertEquals(raw.vocab_size, 50280);
  const config = await readMambaConfig(DIR);
  assertEquals(config.vocabSize, 50280);
  const bytes = (await Deno.stat(`${DIR}/model.safetensors`)).size;
  assert(bytes <= 40e6, `model.safetensors is ${bytes} bytes`);
  const training = JSON.parse(await Deno.readTextFile(`${DIR}/training.json`));
  for (const task of FIGURE1_TASKS) assert(training.tasks.includes(task), task);
  assert(!training.tasks.some((t: string) => t.includes("randomized")), "a randomized task");
  // The held-out documents are exactly the pool the organism preset's Fig. 3 reads.
  const heldOut: string[] = training.news_held_out_documents;
  assertEquals(heldOut.length, ORGANISM_HELD_OUT_DOCUMENTS);
  assertEquals(ORGANISM_PRESET.adecay.pool, heldOut.length);
  const docs = await loadNewsDocuments({ limit: ORGANISM_HELD_OUT_DOCUMENTS });
  assertEquals(docs.map((d) => d.id), heldOut);
});

Deno.test("the ONNX engine runs the organism as the NumPy reference does (16-shot prompt)", async () => {
  await inTempDir("soup-organism-", async (dir) => {
    const tok = await loadTokenizer(await resolveTokenizerFile());
    const task = await loadTask("antonym");
    const split = splitTask(task, { seed: 0 });
    const [demos] = sampleDemoSets(split.train, { count: 1, k: 16, seed: 3 });
    const ids = tok.encode(
      buildPrompt(demos.map((i) => task.items[i]), task.items[split.test[0]]),
    );
    const out = await new Deno.Command(await numpyPython(), {
      args: [
        new URL("./reference/mamba_numpy.py", import.meta.url).pathname,
        "--model",
        DIR,
        "--ids",
        ids.join(","),
        "--out",
        dir,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert(out.success, new TextDecoder().decode(out.stderr));
    const ref = await readNpy(`${dir}/logits.npy`);
    const refSsm = await readNpy(`${dir}/ssm.npy`);
    const engine = await openEngine("organism", { device: "cpu" });
    try {
      const ours = await engine.run(ids, { allLogits: true });
      assertEquals(ours.logits.length, ref.data.length);
      const relMax = (a: ArrayLike<number>, b: ArrayLike<number>) => {
        let diff = 0, scale = 0;
        for (let i = 0; i < a.length; i++) {
          diff = Math.max(diff, Math.abs(a[i] - Number(b[i])));
          scale = Math.max(scale, Math.abs(Number(b[i])));
        }
        return diff / scale;
      };
      const logitsErr = relMax(ours.logits, ref.data as Float64Array);
      const ssmErr = relMax(ours.state.ssm, refSsm.data as Float64Array);
      assert(logitsErr < 1e-4, `logits differ by ${logitsErr} (relative to the largest)`);
      assert(ssmErr < 1e-4, `SSM states differ by ${ssmErr} (relative to the largest)`);
    } finally {
      await engine.close();
    }
  });
});

Deno.test("in-context learning: the organism needs its demonstrations; unseen ids never win", async () => {
  await inTempDir("soup-organism-", async (dir) => {
    await runIclVsK({ ...PAPER_ICL_VS_K, ks: [0, 1, 32], testItems: 40 }, options(dir));
    const rows = await readCsv(`${dir}/results/icl/accuracy.csv`);
    const mean = (k: number) => Number(rows.find((r) => r.task === "mean" && r.k === k)!.accuracy);
    console.log(
      `organism ICL (40 items per task): k=0 ${mean(0)}, k=1 ${mean(1)}, k=32 ${mean(32)}`,
    );
    assert(mean(0) <= CEILING_ICL_0, `mean accuracy at k=0 is ${mean(0)}`);
    assert(mean(32) >= FLOOR_ICL_32, `mean accuracy at k=32 is ${mean(32)}`);
    assert(mean(32) - mean(1) >= FLOOR_ICL_1_TO_32, `k=1: ${mean(1)}, k=32: ${mean(32)}`);
    // Every prediction is an id the organism saw in training (seen_ids.npy, from the trainer).
    const seen = new Set(Array.from((await readNpy(`${DIR}/seen_ids.npy`)).data as Int32Array));
    const engine = await openEngine("organism", { device: "cpu" });
    try {
      const tok = await loadTokenizer(await resolveTokenizerFile());
      // Zero-shot prompts, where the organism is least sure, of every task of Fig. 1.
      for (const name of FIGURE1_TASKS) {
        const task = await loadTask(name);
        const split = splitTask(task, { seed: 0 });
        const prompts = split.test.slice(0, 8).map((i) =>
          tok.encode(buildPrompt([], task.items[i]))
        );
        for (const out of await engine.runBatch(prompts)) {
          let best = 0;
          for (let v = 1; v < out.logits.length; v++) {
            if (out.logits[v] > out.logits[best]) best = v;
          }
          assert(seen.has(best), `${name}: id ${best} was never seen in training but wins`);
        }
      }
    } finally {
      await engine.close();
    }
  });
});

Deno.test("retrieval: 8-shot organism states find their task's library states", async () => {
  await inTempDir("soup-organism-", async (dir) => {
    const params = {
      ...PAPER_RETRIEVAL_VS_K,
      libraryStates: 5,
      libraryShots: 16,
      queries: 5,
      ks: [1, 8],
    };
    await runRetrievalVsK(params, options(dir));
    const rows = await readCsv(`${dir}/results/retrieval/accuracy.csv`);
    const acc = Number(rows.find((r) => r.task === "mean" && r.k === 8)!.accuracy);
    console.log(`organism retrieval (5 states of 16 shots, 5 queries per task): k=8 ${acc}`);
    assert(acc >= FLOOR_RETRIEVAL_8, `retrieval accuracy at k=8 is ${acc}`);
  });
});

Deno.test("layer sweep: every layer's SSM states cluster by task, and clearly better than its conv states", async () => {
  await inTempDir("soup-organism-", async (dir) => {
    const params = { libraryStates: 5, libraryShots: 16, queries: 5, ks: [8] };
    await runLayers(params, options(dir));
    const rows = await readCsv(`${dir}/results/layers/summary.csv`);
    const at = (layer: number, kind: string, measure: string) =>
      Number(
        rows.find((r) => r.layer === layer && r.kind === kind && r.measure === measure)!.value,
      );
    const layers = [...new Set(rows.map((r) => Number(r.layer)))];
    assertEquals(layers, [0, 1, 2, 3]);
    for (const l of layers) {
      const knn = at(l, "ssm", "knn");
      const gap = at(l, "ssm", "silhouette") - at(l, "conv", "silhouette");
      console.log(`organism layer ${l}: SSM 5-NN ${knn}, silhouette SSM - conv ${gap}`);
      assert(knn >= FLOOR_LAYERS_SSM_KNN, `layer ${l}: 5-NN accuracy of SSM states ${knn}`);
      assert(gap >= FLOOR_LAYERS_SSM_OVER_CONV, `layer ${l}: silhouette SSM - conv ${gap}`);
    }
    const gap = at(2, "ssm", "retrieval") - at(2, "conv", "retrieval");
    console.log(`organism layer 2, k = 8: retrieval SSM - conv ${gap}`);
    assert(gap >= FLOOR_LAYERS_RETRIEVAL_GAP, `retrieval SSM - conv at layer 2: ${gap}`);
  });
});

Deno.test("composition: with x2 one token long, carrying x1's conv state brings A-decay closer to reading x1 then x2", async () => {
  await inTempDir("soup-organism-", async (dir) => {
    const params = { ...ORGANISM_PRESET.composition, chunkTokens: [1], documents: 12 };
    await runComposition(params, options(dir));
    const rows = await readCsv(`${dir}/results/composition/composition.csv`);
    const docs = [...new Set(rows.map((r) => r.doc))];
    assertEquals(docs.length, 12);
    const closer = docs.filter((doc) => {
      const loss = (m: string) => Number(rows.find((r) => r.doc === doc && r.method === m)!.loss);
      const gap = (m: string) => Math.abs(loss(m) - loss("sequential"));
      return gap("adecay") < gap("adecay_no_conv");
    }).length;
    console.log(`organism composition, T = 1: conv carried closer in ${closer} of 12 documents`);
    assert(closer / docs.length >= FLOOR_CONV_CARRY_SHARE, `closer in ${closer} of 12`);
  });
});

Deno.test("scale: distractor tasks' states pull 8-shot queries away from their task; HNSW keeps exact search's hits", async () => {
  await inTempDir("soup-organism-", async (dir) => {
    const params = { statesPerK: 4, levels: [1, 4], queries: 5, ks: [8], indexes: ["usearch"] };
    await runScale(params, options(dir));
    const rows = await readCsv(`${dir}/results/scale/accuracy.csv`);
    const at = (library: string, index: string) =>
      rows.find((r) => r.library === library && String(r.index).startsWith(index))!;
    const drop = Number(at("paper", "exact").accuracy) - Number(at("level 1", "exact").accuracy);
    const recall = Number(at("level 4", "usearch").recall_at_1);
    console.log(`organism scale, k = 8: paper -> 159 states ${drop}; usearch recall@1 ${recall}`);
    assert(drop >= FLOOR_SCALE_DISTRACTOR_DROP, `accuracy drop with distractors ${drop}`);
    assert(recall >= FLOOR_SCALE_USEARCH_RECALL, `usearch recall@1 ${recall}`);
  });
});

Deno.test("Fig. 3 on held-out news: x1 helps, and A-decay mixing stays closer to reading x1 then x2 than the mean", async () => {
  await inTempDir("soup-organism-", async (dir) => {
    await runAdecay({ ...ORGANISM_PRESET.adecay, chunkTokens: [32], documents: 12 }, options(dir));
    const rows = await readCsv(`${dir}/results/adecay/adecay.csv`);
    const mean = (m: string) => {
      const of = rows.filter((r) => r.method === m).map((r) => Number(r.loss));
      return of.reduce((s, x) => s + x, 0) / of.length;
    };
    const gap = (m: string) => Math.abs(mean(m) - mean("sequential"));
    console.log(
      `organism Fig. 3 (12 documents, T = 32): sequential ${mean("sequential")}, x2 only ${
        mean("x2_only")
      }, mean ${mean("mean")}, adecay ${mean("adecay")}`,
    );
    assert(mean("sequential") <= CEILING_NEWS_LOSS, `sequential loss ${mean("sequential")}`);
    const gain = mean("x2_only") - mean("sequential");
    assert(gain >= FLOOR_NEWS_GAIN, `reading x1 first lowers the loss by ${gain}`);
    assert(
      gap("adecay") * FLOOR_ADECAY_RATIO < gap("mean"),
      `A-decay is ${gap("adecay")} from sequential, the mean ${gap("mean")}`,
    );
  });
});
