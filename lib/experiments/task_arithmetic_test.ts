import { storedStates } from "../../tests/_store.ts";
import { assert, assertEquals } from "../../tests/_assert.ts";
import { openEngine } from "../engine/open_engine.ts";
import { mirrorDir } from "../hub/sources.ts";
import { experimentSetup } from "../../tests/_experiment.ts";
import { readCsv } from "../results/csv.ts";
import { buildPrompt } from "../tasks/build_prompt.ts";
import type { TaskItem } from "../tasks/types.ts";
import { loadTokenizer } from "../tokenizer/load_tokenizer.ts";
import { countingDemos, runTaskArithmetic, type TaskArithmeticParams } from "./task_arithmetic.ts";
import { planPairs } from "./arithmetic_pairs.ts";
import { encodeDemos } from "../tasks/encode_demos.ts";
import { buildQueryPrompt } from "../tasks/build_prompt.ts";

const PARAMS: Partial<TaskArithmeticParams> = {
  weights: [0, 0.5, 1],
  shots: 4,
  topK: 3,
  pairTasks: ["antonym", "capitalize", "counting", "english-french"],
  pairShots: 4,
  pairItems: 6,
  pairMinItems: 3,
  pairWeights: [0, 0.5, 1],
};

async function setup() {
  const setup = await experimentSetup("arithmetic-test-");
  return { ...setup, out: `${setup.dir}/results/arithmetic` };
}

function softmax(logits: Float32Array): number[] {
  const max = Math.max(...logits);
  const e = Array.from(logits, (x) => Math.exp(x - max));
  const z = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / z);
}

Deno.test("runTaskArithmetic() at w = 0 and w = 1 gives what the full counting and French prompts give", async () => {
  const { dir, options, out } = await setup();
  await runTaskArithmetic(PARAMS, options);
  const top = await readCsv(`${out}/arithmetic.csv`);
  assertEquals(top.length, 3 * 3, "3 weights x top 3");
  assertEquals(Object.keys(top[0]), ["weight", "rank", "token_id", "token", "probability"]);
  assertEquals(top.map((r) => r.rank), [1, 2, 3, 1, 2, 3, 1, 2, 3]);
  for (let i = 1; i < top.length; i++) {
    if (top[i].weight === top[i - 1].weight) {
      assert(Number(top[i].probability) <= Number(top[i - 1].probability), "ranked by probability");
    }
  }
  const targets = await readCsv(`${out}/targets.csv`);
  assertEquals(Object.keys(targets[0]), ["weight", "target", "token_id", "token", "probability"]);
  assertEquals(targets.map((r) => r.weight), [0, 0, 0, 0.5, 0.5, 0.5, 1, 1, 1]);
  // " fifteen", " quin|ze", " qu|ator|ze" in GPT-NeoX (NOTES.md gives " quinze" = 42116, 2721).
  assertEquals(targets.slice(0, 3).map((r) => r.token_id), [15342, 42116, 572]);
  assert((await Deno.readTextFile(`${out}/arithmetic.svg`)).startsWith("<svg"));

  const meta = JSON.parse(await Deno.readTextFile(`${out}/meta.json`));
  const french = meta.translationDemos as TaskItem[];
  assertEquals(french.length, 4);
  assert(
    !french.some((d) => /^(one|two|three|four|fourteen|fifteen)$/.test(d.input)),
    "no numbers",
  );
  const tok = await loadTokenizer(`${mirrorDir()}/tokenizer/gpt-neox-20b`);
  const engine = await openEngine(options.model, { device: "cpu" });
  try {
    const query = { input: "fourteen" };
    for (const [w, demos] of [[0, countingDemos(14)], [1, french]] as const) {
      const { logits } = await engine.run(tok.encode(buildPrompt(demos, query)));
      const probs = softmax(logits);
      for (const r of [...top, ...targets].filter((r) => r.weight === w)) {
        const want = probs[Number(r.token_id)];
        assert(
          Math.abs(Number(r.probability) - want) <= 1e-4 * want,
          `w=${w} token ${r.token_id}: ${r.probability} vs full prompt ${want}`,
        );
      }
      const best = probs.slice(0, tok.vocabSize).indexOf(
        Math.max(...probs.slice(0, tok.vocabSize)),
      );
      assertEquals(top.find((r) => r.weight === w && r.rank === 1)!.token_id, best, "top 1");
    }
  } finally {
    await engine.close();
  }
  await Deno.remove(dir, { recursive: true });
});

Deno.test("runTaskArithmetic() resumes with identical bytes; other weights use another cache", async () => {
  const { dir, options, out, cacheOf } = await setup();
  await runTaskArithmetic(PARAMS, options);
  const cache = cacheOf();
  const read = async () =>
    (await Deno.readTextFile(`${out}/arithmetic.csv`)) +
    (await Deno.readTextFile(`${out}/targets.csv`));
  const first = await read();
  const mtime = () => storedStates(`${dir}/cache/_states`);
  // The counting and the french state, and one state per task that is in a pair.
  const pairs = await readCsv(`${out}/pairs.csv`);
  const inPairs = new Set(pairs.flatMap((r) => [r.first, r.second]));
  assertEquals(mtime().size, 2 + inPairs.size, "the anecdote's 2 states and the pairs' tasks'");
  const before = mtime();
  Deno.removeSync(`${cache}/weight-0.5.json`);
  await runTaskArithmetic(PARAMS, options);
  assertEquals(cacheOf(), cache);
  assertEquals(mtime(), before, "skill states reused");
  assertEquals(await read(), first, "identical CSV bytes");
  await runTaskArithmetic({ ...PARAMS, weights: [0, 1] }, options);
  assert(cacheOf() !== cache, "other weights, other cache");
  // The states are shared through the store: another cache key (parameters, or edited library
  // code) reuses them.
  assertEquals(mtime(), before, "skill states shared across cache keys");
  assertEquals((await readCsv(`${out}/targets.csv`)).length, 2 * 3);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("runTaskArithmetic() in add mode at w = 0 is the counting state alone", async () => {
  const { dir, options, out } = await setup();
  await runTaskArithmetic({ ...PARAMS, weights: [0] }, options);
  const interpolated = await Deno.readTextFile(`${out}/targets.csv`);
  await runTaskArithmetic({ ...PARAMS, weights: [0], mode: "add" }, options);
  assertEquals(await Deno.readTextFile(`${out}/targets.csv`), interpolated);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("planPairs(): a pair's composition comes from the data, never from the second task's demonstrations", () => {
  const words = ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"];
  const f = { name: "f", items: words.map((w) => ({ input: w, output: `${w}y` })) };
  const g = { name: "g", items: words.map((w) => ({ input: `${w}y`, output: `${w}z` })) };
  const [plan, ...rest] = planPairs([f, g], {
    pairShots: 3,
    pairItems: 10,
    pairMinItems: 1,
    seed: 4,
  });
  assertEquals(rest.length, 0, "g's answers are no input of f: one pair");
  assertEquals([plan.first, plan.second], ["f", "g"]);
  const taught = new Set(plan.secondDemos.map((d) => d.input));
  const firstTaught = new Set(plan.firstDemos.map((d) => d.input));
  assert(plan.queries.length > 0);
  for (const q of plan.queries) {
    assertEquals([q.y, q.z, q.gx], [`${q.x}y`, `${q.x}z`, null]);
    assert(!taught.has(q.y), `${q.y} is one of g's demonstrations`);
    assert(!firstTaught.has(q.x), `${q.x} is one of f's demonstrations`);
  }
  assertEquals(planPairs([f, g], { pairShots: 3, pairItems: 10, pairMinItems: 1, seed: 4 }), [
    plan,
  ]);
});

Deno.test("runTaskArithmetic(): at w = 0 a pair's prediction is the first task's prompt read in one pass", async () => {
  const { dir, options, out } = await setup();
  await runTaskArithmetic(PARAMS, options);
  const pairs = await readCsv(`${out}/pairs.csv`);
  const rates = await readCsv(`${out}/rates.csv`);
  const meta = JSON.parse(await Deno.readTextFile(`${out}/meta.json`));
  assert(pairs.length > 0, "some pair has queries");
  const names = [...new Set(pairs.map((r) => `${r.first}>${r.second}`))];
  // Per pair: as many rows per weight, and a rates row per weight; then the mean per weight.
  assertEquals(rates.length, (names.length + 1) * 3);
  const tok = await loadTokenizer(`${mirrorDir()}/tokenizer/gpt-neox-20b`);
  const engine = await openEngine(options.model, { device: "cpu" });
  try {
    for (const name of names) {
      const [first, second] = name.split(">");
      const plan = meta.pairs.find((p: { first: string; second: string }) =>
        p.first === first && p.second === second
      );
      const rows = pairs.filter((r) => r.first === first && r.second === second && r.weight === 0);
      for (const r of rows.slice(0, 2)) {
        const ids = [
          ...encodeDemos(tok, plan.firstDemos),
          ...tok.encode(buildQueryPrompt({ input: String(r.x) })),
        ];
        const { logits } = await engine.run(ids);
        let best = 0;
        for (let id = 1; id < tok.vocabSize; id++) if (logits[id] > logits[best]) best = id;
        assertEquals(r.predicted_id, best, `${name} ${r.x}`);
      }
    }
  } finally {
    await engine.close();
  }
  await Deno.remove(dir, { recursive: true });
});
