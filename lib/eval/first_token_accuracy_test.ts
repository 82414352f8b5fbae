import { assert, assertEquals, assertRejects } from "../../tests/_assert.ts";
import { evaluateFirstToken } from "./first_token_accuracy.ts";
import { openEngine } from "../engine/open_engine.ts";
import { tinyMambaConfig, writeRandomCheckpoint } from "../model/random_checkpoint.ts";
import { loadTokenizer } from "../tokenizer/load_tokenizer.ts";
import { mirrorDir } from "../hub/sources.ts";
import { encodeDemos } from "../tasks/encode_demos.ts";
import { SoupError } from "../util/errors.ts";

const demos = [
  { input: "hot", output: "cold" },
  { input: "up", output: "down" },
];
const test = [
  { input: "big", output: "small" },
  { input: "wet", output: "dry" },
  { input: "early", output: "late" },
  { input: "hot", output: "cold" },
];

async function setup() {
  const dir = await Deno.makeTempDir();
  await writeRandomCheckpoint(dir, tinyMambaConfig({ vocabSize: 50280, numHiddenLayers: 2 }), {
    seed: 8,
  });
  const tok = await loadTokenizer(`${mirrorDir()}/tokenizer/gpt-neox-20b`);
  return { dir, tok };
}

Deno.test("evaluateFirstToken() scores the first target token against the reference's argmax", async () => {
  const { dir, tok } = await setup();
  const onnx = await openEngine(dir, { device: "cpu" });
  const reference = await openEngine(dir, { device: "reference" });
  const res = await evaluateFirstToken(onnx, tok, test, { demos, vocabLimit: tok.vocabSize });
  // " small", " dry", " late", " cold" are single vocabulary entries: the targets are their ids.
  assertEquals(
    res.items.map((r) => r.target),
    ["Ġsmall", "Ġdry", "Ġlate", "Ġcold"].map((t) => tok.tokenToId(t)!),
  );
  for (const [i, item] of test.entries()) {
    const ids = tok.encode(
      `<|endoftext|>Q: hot\nA: cold\n\nQ: up\nA: down\n\nQ: ${item.input}\nA:`,
    );
    const { logits } = await reference.run(ids);
    let best = 0;
    for (let v = 0; v < tok.vocabSize; v++) if (logits[v] > logits[best]) best = v;
    assertEquals(res.items[i].predicted, best, `item ${i}`);
    assertEquals(res.items[i].correct, best === res.items[i].target);
  }
  assertEquals(res.accuracy, res.items.filter((r) => r.correct).length / test.length);
  await onnx.close();
});

Deno.test("evaluateFirstToken() from the demos' state equals the full k-shot prompt", async () => {
  const { dir, tok } = await setup();
  const engine = await openEngine(dir, { device: "cpu" });
  const { state } = await engine.run(encodeDemos(tok, demos));
  const viaPrompt = await evaluateFirstToken(engine, tok, test, { demos, batchSize: 3 });
  let calls = 0;
  const viaState = await evaluateFirstToken(engine, tok, test, {
    state,
    onProgress: () => calls++,
  });
  assertEquals(calls, 1);
  assertEquals(
    viaState.items.map((r) => [r.target, r.predicted]),
    viaPrompt.items.map((r) => [r.target, r.predicted]),
  );
  for (const [i, r] of viaState.items.entries()) {
    const p = viaPrompt.items[i].targetProbability;
    assert(
      Math.abs(r.targetProbability - p) <= 1e-4 * p,
      `item ${i}: ${r.targetProbability} vs ${p}`,
    );
  }
  await assertRejects(
    () => evaluateFirstToken(engine, tok, test, { state, demos }),
    SoupError,
    "not both",
  );
  await assertRejects(
    () => evaluateFirstToken(engine, tok, test, { states: [state] }),
    SoupError,
    "1 states for 4 items",
  );
  await engine.close();
});
