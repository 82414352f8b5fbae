import { assert, assertEquals } from "../../tests/_assert.ts";
import { experimentSetup, meanLoss } from "../../tests/_experiment.ts";
import { loadNewsDocuments } from "../data/news.ts";
import { openEngine } from "../engine/open_engine.ts";
import { mirrorDir } from "../hub/sources.ts";
import { readCsv } from "../results/csv.ts";
import { loadTokenizer } from "../tokenizer/load_tokenizer.ts";
import { claimsOf } from "./claims.ts";
import { State } from "../states/state.ts";
import {
  COMPOSITION_METHODS,
  type CompositionParams,
  compositionStarts,
  runComposition,
} from "./composition.ts";

const PARAMS: Partial<CompositionParams> = {
  chunkTokens: [1, 3, 8],
  evalTokens: 8,
  documents: 2,
  source: "mirror",
  batchSize: 2,
};

Deno.test("runComposition(): sequential agrees with one pass over x1 x2 x3; x1's conv state matters only below T = K - 1", async () => {
  const { dir, options } = await experimentSetup("composition-test-", { numHiddenLayers: 2 });
  await runComposition(PARAMS, options);
  const rows = await readCsv(`${dir}/results/composition/composition.csv`);
  assertEquals(rows.length, 3 * 2 * COMPOSITION_METHODS.length);
  const tok = await loadTokenizer(`${mirrorDir()}/tokenizer/gpt-neox-20b`);
  const docs = (await loadNewsDocuments({ source: "mirror" }))
    .map((d) => ({ id: d.id, ids: tok.encode(d.text) }));
  const engine = await openEngine(options.model, { device: "cpu" });
  try {
    for (const T of [1, 3, 8]) {
      for (const d of docs.filter((d) => d.ids.length >= 2 * T + 8).slice(0, 2)) {
        const row = (m: string) => rows.find((r) => r.T === T && r.doc === d.id && r.method === m)!;
        const all = d.ids.slice(0, 2 * T + 8);
        const full = await engine.run(all, { allLogits: true });
        const v = engine.config.vocabSize;
        const close = (a: unknown, b: number, what: string) =>
          assert(Math.abs(Number(a) - b) < 1e-4, `${what} T=${T} ${d.id}: ${a} vs ${b}`);
        close(row("sequential").loss, meanLoss(full.logits, all, 2 * T + 1, v), "sequential");
        close(row("sequential").loss_all, meanLoss(full.logits, all, 2 * T, v), "sequential all");
        // K = 4: the next token's conv reads the state's last 3 inputs, all x2's from T = 3.
        const same = ["loss", "loss_first", "loss_all"].every((k) =>
          row("adecay")[k] === row("adecay_no_conv")[k]
        );
        assertEquals(same, T >= 3, `T=${T} ${d.id}: conv carried vs dropped`);
      }
    }
  } finally {
    await engine.close();
  }
  const summary = await readCsv(`${dir}/results/composition/summary.csv`);
  const claims = claimsOf("composition", summary);
  assertEquals(claims.length, 2);
  assert(claims[1].measured.includes("T = 1:"), claims[1].measured);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("runComposition(): for one layer with conv kernel 1 A-decay is exact; PICASO, the weighted mix, the sum and the mean are not", async () => {
  const { dir, options } = await experimentSetup("composition-test-", {
    numHiddenLayers: 1,
    convKernel: 1,
  });
  await runComposition({ ...PARAMS, chunkTokens: [8] }, options);
  const rows = await readCsv(`${dir}/results/composition/composition.csv`);
  for (const doc of new Set(rows.map((r) => r.doc))) {
    const loss = (m: string) => Number(rows.find((r) => r.doc === doc && r.method === m)!.loss);
    const gap = (m: string) => Math.abs(loss(m) - loss("sequential"));
    assert(gap("adecay") < 1e-5, `${doc}: A-decay ${loss("adecay")} vs ${loss("sequential")}`);
    for (const m of ["picaso", "weighted", "sum", "mean"]) {
      assert(gap(m) > 10 * gap("adecay"), `${doc}: ${m} (gap ${gap(m)}) is not exact`);
    }
  }
  await Deno.remove(dir, { recursive: true });
});

Deno.test("compositionStarts(): weighted is A-decay with one scalar decay, the mean of A-decay's, on x1", () => {
  // One layer, two channels, two state indexes; A = -(1, 2) per channel (A_log = log(1, 2)).
  const shape = { layers: 1, dInner: 2, convKernel: 2, stateSize: 2 };
  const aLog = Float32Array.of(0, Math.log(2), 0, Math.log(2));
  const state = (ssm: number[], conv: number[], deltaSum: number[]) =>
    new State(shape, {
      ssm: Float32Array.from(ssm),
      conv: Float32Array.from(conv),
      deltaSum: Float32Array.from(deltaSum),
    });
  const x1 = state([1, 2, 3, 4], [10, 11, 12, 13], [0.5, 0.25]);
  const x2 = state([5, 6, 7, 8], [20, 21, 22, 23], [0.1, 0.3]);
  const starts = compositionStarts({ x1, x2, x1x2: x2 }, 1, aLog);
  // The decays exp(A * deltaSum(x2)) per (channel, state index), and their mean.
  const decays = [Math.exp(-0.1), Math.exp(-0.2), Math.exp(-0.3), Math.exp(-0.6)];
  const w = decays.reduce((a, b) => a + b) / 4;
  const { weighted, adecay } = starts;
  for (let i = 0; i < 4; i++) {
    assert(Math.abs(weighted.state.ssm[i] - (x2.ssm[i] + w * x1.ssm[i])) < 1e-5, `ssm ${i}`);
    assert(Math.abs(adecay.state.ssm[i] - (x2.ssm[i] + decays[i] * x1.ssm[i])) < 1e-5, `A ${i}`);
  }
  // Conv (x1's window carried: T = 1 < K) and deltaSum are A-decay's.
  assertEquals(weighted.state.conv, adecay.state.conv);
  assertEquals(Array.from(adecay.state.conv), [11, 21, 13, 23]); // x1's last, then x2's last
  assertEquals(weighted.state.deltaSum, adecay.state.deltaSum);
});
