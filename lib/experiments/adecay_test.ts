import { storedStates } from "../../tests/_store.ts";
import { assert, assertEquals } from "../../tests/_assert.ts";
import { loadNewsDocuments } from "../data/news.ts";
import { openEngine } from "../engine/open_engine.ts";
import { mirrorDir } from "../hub/sources.ts";
import type { TinyConfigFields } from "../model/random_checkpoint.ts";
import { experimentSetup, meanLoss } from "../../tests/_experiment.ts";
import { readCsv } from "../results/csv.ts";
import { loadTokenizer } from "../tokenizer/load_tokenizer.ts";
import {
  ADECAY_METHODS,
  type AdecayParams,
  runAdecay,
  studentT975,
  summarizeAdecay,
} from "./adecay.ts";

const PARAMS: Partial<AdecayParams> = {
  chunkTokens: [8, 16],
  documents: 3,
  source: "mirror",
  batchSize: 2,
};

const setup = (fields: TinyConfigFields) => experimentSetup("adecay-test-", fields);

Deno.test("runAdecay() writes a row per chunk length, document and method, matching one-pass losses", async () => {
  const { dir, options } = await setup({ numHiddenLayers: 2 });
  const written = await runAdecay(PARAMS, options);
  const out = `${dir}/results/adecay`;
  for (const f of ["adecay.csv", "summary.csv", "adecay.svg", "meta.json"]) {
    assert(written.includes(`${out}/${f}`), `${f} written`);
  }
  const rows = await readCsv(`${out}/adecay.csv`);
  assertEquals(rows.length, 2 * 3 * 4, "2 chunk lengths x 3 documents x 4 methods");
  assertEquals(Object.keys(rows[0]), ["T", "doc", "method", "loss", "loss_first", "loss_all"]);
  assertEquals(rows.map((r) => r.method), Array(6).fill(ADECAY_METHODS).flat());
  assertEquals(rows.map((r) => r.T), [...Array(12).fill(8), ...Array(12).fill(16)]);
  const summary = await readCsv(`${out}/summary.csv`);
  assertEquals(summary.length, 2 * 4 * 2, "2 chunk lengths x 4 methods x 2 measures");
  assert(summary.every((r) => r.n === 3), "3 documents per summary row");
  assert((await Deno.readTextFile(`${out}/adecay.svg`)).startsWith("<svg"));

  // Independent: the first 3 mirror documents with 3T tokens, read in one pass from zeros.
  const tok = await loadTokenizer(`${mirrorDir()}/tokenizer/gpt-neox-20b`);
  const docs = (await loadNewsDocuments({ source: "mirror" }))
    .map((d) => ({ id: d.id, ids: tok.encode(d.text) }));
  const engine = await openEngine(options.model, { device: "cpu" });
  try {
    for (const T of [8, 16]) {
      const chosen = docs.filter((d) => d.ids.length >= 3 * T).slice(0, 3);
      for (const [j, d] of chosen.entries()) {
        const row = (m: string) => rows.find((r) => r.T === T && r.doc === d.id && r.method === m)!;
        assert(row("sequential") !== undefined, `document ${d.id} is row ${j} for T=${T}`);
        const all = d.ids.slice(0, 3 * T);
        const full = await engine.run(all, { allLogits: true });
        const v = engine.config.vocabSize;
        const close = (a: unknown, b: number, what: string) =>
          assert(Math.abs(Number(a) - b) < 1e-4, `${what} T=${T} ${d.id}: ${a} vs ${b}`);
        close(row("sequential").loss, meanLoss(full.logits, all, 2 * T + 1, v), "sequential loss");
        close(row("sequential").loss_all, meanLoss(full.logits, all, 2 * T, v), "sequential all");
        const late = d.ids.slice(T, 3 * T);
        const x2x3 = await engine.run(late, { allLogits: true });
        close(row("x2_only").loss_all, meanLoss(x2x3.logits, late, T, v), "x2 only all");
        assertEquals(row("mean").loss_first, row("x2_only").loss_first, "x3[0] from x2's logits");
      }
    }
  } finally {
    await engine.close();
  }
  await Deno.remove(dir, { recursive: true });
});

Deno.test("runAdecay() resumes from its cache with identical bytes; other parameters use another cache", async () => {
  const { dir, options, cacheOf } = await setup({ numHiddenLayers: 2 });
  const params = { ...PARAMS, chunkTokens: [8] };
  await runAdecay(params, options);
  const cache = cacheOf();
  const csv = async () =>
    [
      await Deno.readTextFile(`${dir}/results/adecay/adecay.csv`),
      await Deno.readTextFile(
        `${dir}/results/adecay/summary.csv`,
      ),
    ].join("\n--\n");
  const first = await csv();
  const mtimes = () => storedStates(`${dir}/cache/_states`);
  assertEquals(mtimes().size, 3 * 3, "x1, x2 and x1x2 of 3 documents");
  const before = mtimes();
  // Drop the per-document losses: the states must be reused, not recomputed.
  for (const e of Deno.readDirSync(cache)) {
    if (e.name.startsWith("losses-")) Deno.removeSync(`${cache}/${e.name}`);
  }
  await runAdecay(params, options);
  assertEquals(cacheOf(), cache, "same parameters, same cache");
  assertEquals(mtimes(), before, "states reused");
  assertEquals(await csv(), first, "identical CSV bytes");
  await runAdecay({ ...params, documents: 2 }, options);
  assert(cacheOf() !== cache, "another document count uses another cache");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("runAdecay(): A-decay equals the sequential state for one layer with conv kernel 1", async () => {
  const { dir, options } = await setup({ numHiddenLayers: 1, convKernel: 1 });
  await runAdecay({ ...PARAMS, chunkTokens: [8], documents: 2 }, options);
  const rows = await readCsv(`${dir}/results/adecay/adecay.csv`);
  const docs = [...new Set(rows.map((r) => r.doc))];
  assertEquals(docs.length, 2);
  for (const doc of docs) {
    const row = (m: string) => rows.find((r) => r.doc === doc && r.method === m)!;
    const gap = Math.abs(Number(row("adecay").loss) - Number(row("sequential").loss));
    assert(gap < 1e-5, `${doc}: A-decay ${row("adecay").loss} vs ${row("sequential").loss}`);
    const meanGap = Math.abs(Number(row("mean").loss) - Number(row("sequential").loss));
    assert(meanGap > 10 * gap, `${doc}: the mean (gap ${meanGap}) is not exact`);
  }
  await Deno.remove(dir, { recursive: true });
});

Deno.test("studentT975 matches the tables of Student's t", () => {
  // 0.975 quantiles from the standard tables (R: qt(0.975, df)).
  const table: [number, number][] = [
    [1, 12.706205],
    [2, 4.302653],
    [3, 3.182446],
    [5, 2.570582],
    [10, 2.228139],
    [30, 2.042272],
    [49, 2.009575],
    [11, 2.200985],
    [199, 1.971957],
  ];
  for (const [df, t] of table) {
    assert(Math.abs(studentT975(df) - t) < 2e-4, `df ${df}: ${studentT975(df)} against ${t}`);
  }
});

Deno.test("summary.csv pairs every method with sequential reading, document by document", () => {
  // Two documents; x2_only is 0.5 and 0.3 above sequential: mean 0.4, sd 0.1414, t(1) 12.706.
  const rows = [
    { T: 4, doc: "a", method: "sequential", loss: 2, loss_all: 2 },
    { T: 4, doc: "a", method: "x2_only", loss: 2.5, loss_all: 2.5 },
    { T: 4, doc: "b", method: "sequential", loss: 3, loss_all: 3 },
    { T: 4, doc: "b", method: "x2_only", loss: 3.3, loss_all: 3.3 },
  ];
  const s = summarizeAdecay(rows);
  const x2 = s.find((r) => r.method === "x2_only" && r.measure === "loss")!;
  const half = 12.706204736 * Math.sqrt(0.02) / Math.sqrt(2);
  assert(Math.abs(Number(x2.minus_sequential) - 0.4) < 1e-12, String(x2.minus_sequential));
  assert(Math.abs(Number(x2.ci95_low) - (0.4 - half)) < 1e-9, String(x2.ci95_low));
  assert(Math.abs(Number(x2.ci95_high) - (0.4 + half)) < 1e-9, String(x2.ci95_high));
  const seq = s.find((r) => r.method === "sequential" && r.measure === "loss")!;
  assertEquals([seq.minus_sequential, seq.ci95_low, seq.ci95_high], [0, 0, 0]);
});
