/**
 * Side by side with Hugging Face transformers: fixtures made by transformers' own
 * `MambaForCausalLM` (tools/hf/make_fixtures.py, versions in testdata/hf/meta.json) on random
 * checkpoints it saved itself and on the organism. Every engine of this project reads the same
 * ids and must give the same logits at every position and the same conv and SSM states after
 * the prefill and after each token decoded one at a time, within 1e-4 relative (the largest
 * absolute difference over the largest magnitude of the quantity). States move both ways: a
 * state folder written by `soup extract` continued by transformers, and one written from
 * transformers' cache by tools/hf/soup_hf.py continued here, give the same greedy tokens.
 */
import { cudaStatus } from "../lib/onnx/cuda.ts";
import { assert, assertEquals } from "./_assert.ts";
import { generate, OnnxEngine, ReferenceEngine } from "../lib/engine/mod.ts";
import type { Engine } from "../lib/engine/mod.ts";
import { BUNDLED_MODELS, resolveTokenizerFile } from "../lib/hub/mod.ts";
import { readNpy } from "../lib/npy/mod.ts";
import { weightsFingerprint } from "../lib/model/mod.ts";
import { loadState } from "../lib/states/mod.ts";
import { loadTokenizer } from "../lib/tokenizer/mod.ts";
import { softmaxParts } from "../lib/util/softmax.ts";

const ROOT = new URL("../testdata/hf/", import.meta.url).pathname;
const TOLERANCE = 1e-4;

interface Meta {
  transformers: string;
  torch: string;
  cases: string[];
}
interface Fixture {
  model: string;
  description: string;
  prefillIds: number[];
  decodeIds: number[];
}

const meta: Meta = JSON.parse(await Deno.readTextFile(`${ROOT}meta.json`));

/** Largest |a - e| over the largest |e|. */
function relError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  assertEquals(actual.length, expected.length, "lengths");
  let diff = 0, scale = 0;
  for (let i = 0; i < expected.length; i++) {
    const d = Math.abs(actual[i] - expected[i]);
    if (!(d <= diff)) diff = d; // NaN propagates
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  return diff / scale;
}

/** The largest relative error seen per quantity, over all cases and engines (printed at the end). */
const worst = new Map<string, { err: number; where: string }>();

function check(
  quantity: string,
  where: string,
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
) {
  const err = relError(actual, expected);
  assert(
    err <= TOLERANCE,
    `${where}: ${quantity} differs from transformers by ${err.toExponential(2)} (relative)`,
  );
  const w = worst.get(quantity);
  if (w === undefined || err > w.err) worst.set(quantity, { err, where });
}

async function f32(path: string): Promise<{ data: Float32Array; shape: number[] }> {
  const a = await readNpy(path);
  assertEquals(a.dtype, "float32", path);
  return { data: a.data as Float32Array, shape: a.shape };
}

/** Row `i` of an array whose first axis is steps. */
function row(a: { data: Float32Array; shape: number[] }, i: number): Float32Array {
  const size = a.data.length / a.shape[0];
  return a.data.subarray(i * size, (i + 1) * size);
}

/** The engines under test, on one checkpoint folder. */
const ENGINES: [string, (dir: string) => Promise<Engine>][] = [
  ["onnx-cpu (WebAssembly scan)", (dir) => OnnxEngine.load(dir, { provider: "cpu" })],
  ["onnx-cpu, chunks of 3", (dir) => OnnxEngine.load(dir, { provider: "cpu", chunkSize: 3 })],
  [
    "onnx-cpu (one graph, LinearAttention)",
    (dir) => OnnxEngine.load(dir, { provider: "cpu", cpuScan: "onnx" }),
  ],
  ["reference (float64)", (dir) => ReferenceEngine.load(dir)],
  // The GPU path (tests/webgpu_test.ts says how to get a Vulkan device, or to skip it).
  ...(Deno.env.get("SOUP_SKIP_WEBGPU") === "1" ? [] : [[
    "onnx-webgpu, chunks of 3 (states in GPU memory)",
    (dir: string) => OnnxEngine.load(dir, { provider: "webgpu", chunkSize: 3 }),
  ] as [string, (dir: string) => Promise<Engine>]]),
  // CUDA where `deno task setup cuda` found every library (tests/cuda_test.ts checks the rest).
  ...(cudaStatus().ready
    ? [[
      "onnx-cuda, chunks of 3",
      (dir: string) => OnnxEngine.load(dir, { provider: "cuda", chunkSize: 3 }),
    ] as [string, (dir: string) => Promise<Engine>]]
    : []),
];

for (const name of meta.cases) {
  const dir = `${ROOT}${name}`;
  const fx: Fixture = JSON.parse(await Deno.readTextFile(`${dir}/fixture.json`));
  const modelDir = new URL(fx.model, `file://${dir}/`).pathname;
  Deno.test(`transformers ${meta.transformers} parity: ${name} (${fx.description})`, async (t) => {
    const logits = await f32(`${dir}/logits.npy`);
    const conv = await f32(`${dir}/conv.npy`);
    const ssm = await f32(`${dir}/ssm.npy`);
    const decay = await f32(`${dir}/decay.npy`);
    const dLogits = await f32(`${dir}/decode_logits.npy`);
    const dConv = await f32(`${dir}/decode_conv.npy`);
    const dSsm = await f32(`${dir}/decode_ssm.npy`);
    for (const [label, open] of ENGINES) {
      await t.step(label, async () => {
        const engine = await open(modelDir);
        try {
          const where = `${name}, ${label}`;
          const v = engine.config.vocabSize;
          assertEquals(logits.shape, [fx.prefillIds.length, v], "fixture logits shape");
          const pre = await engine.run(fx.prefillIds, { allLogits: true });
          check("prefill logits", where, pre.logits, logits.data);
          check("prefill conv state", where, pre.state.conv, conv.data);
          check("prefill SSM state", where, pre.state.ssm, ssm.data);
          check("prefill sum of delta", where, pre.state.deltaSum, decay.data);
          let state = pre.state;
          let last = pre.logits.subarray((fx.prefillIds.length - 1) * v);
          for (const [s, id] of fx.decodeIds.entries()) {
            assertEquals(
              softmaxParts(last).argmax,
              id,
              `${where}: greedy token before decode step ${s}`,
            );
            const next = await engine.run([id], { state });
            check("decode logits", `${where}, step ${s}`, next.logits, row(dLogits, s));
            check("decode conv state", `${where}, step ${s}`, next.state.conv, row(dConv, s));
            check("decode SSM state", `${where}, step ${s}`, next.state.ssm, row(dSsm, s));
            state = next.state;
            last = next.logits;
          }
        } finally {
          await engine.close();
        }
      });
    }
  });
}

interface Exchange {
  vocabLimit: number;
  soupState: {
    prompt: string;
    promptIds: number[];
    generatedIds: number[];
    generatedText: string;
  };
  hfState: {
    ids: number[];
    prompt: string;
    promptIds: number[];
    generatedIds: number[];
  };
}

const EX = `${ROOT}exchange`;

/** Greedy continuation of `promptIds` from a state, as `soup generate` makes it. */
async function continueHere(
  engine: Engine,
  stateDir: string,
  promptIds: number[],
  maxTokens: number,
  vocabLimit: number,
) {
  const weights = await weightsFingerprint(BUNDLED_MODELS.organism);
  const state = await loadState(stateDir, { config: engine.config, weights });
  assertEquals(state.meta.weightsFingerprint, weights, `${stateDir}: weights fingerprint`);
  const ids: number[] = [];
  const logits: Float32Array[] = [];
  for await (
    const tok of generate(engine, promptIds, { state, maxTokens, vocabLimit, stopToken: 0 })
  ) {
    ids.push(tok.id);
    logits.push(tok.logits);
  }
  return { ids, logits };
}

/**
 * The greedy continuation of `spec.promptIds` from the state folder `exchange/<name>` equals
 * transformers' (`<name>_continuation_logits.npy`): same tokens, logits within the tolerance.
 */
async function checkContinuation(
  engine: Engine,
  name: string,
  spec: { promptIds: number[]; generatedIds: number[] },
  vocabLimit: number,
) {
  const want = await f32(`${EX}/${name}_continuation_logits.npy`);
  const got = await continueHere(
    engine,
    `${EX}/${name}`,
    spec.promptIds,
    spec.generatedIds.length,
    vocabLimit,
  );
  assertEquals(got.ids, spec.generatedIds, `${name}: greedy tokens`);
  for (const [i, l] of got.logits.entries()) {
    check("continuation logits", `${name}, token ${i}`, l, row(want, i));
  }
}

Deno.test("states move between soup and transformers both ways (organism)", async (t) => {
  const ex: Exchange = JSON.parse(await Deno.readTextFile(`${EX}/fixture.json`));
  const tok = await loadTokenizer(await resolveTokenizerFile("organism"));
  assertEquals(tok.vocabSize, ex.vocabLimit, "tokenizer vocabulary (the greedy limit)");
  const engine = await OnnxEngine.load(BUNDLED_MODELS.organism, { provider: "cpu" });
  try {
    await t.step(
      "a soup extract state continued by transformers = soup generate --from",
      async () => {
        const s = ex.soupState;
        assertEquals(
          tok.encode(s.prompt),
          s.promptIds,
          "prompt ids (tokenizers in Python and here)",
        );
        await checkContinuation(engine, "soup_state", s, ex.vocabLimit);
      },
    );
    await t.step("the CLI prints the text transformers produced", async () => {
      const s = ex.soupState;
      const out = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--allow-all",
          new URL("../cli/soup.ts", import.meta.url).pathname,
          "generate",
          "--model",
          "organism",
          "--device",
          "cpu",
          "--from",
          `${EX}/soup_state`,
          "--text",
          s.prompt.replaceAll("\n", "\\n"),
          "--max-tokens",
          String(s.generatedIds.length),
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const err = new TextDecoder().decode(out.stderr);
      assert(out.success, `soup generate failed: ${err}`);
      assertEquals(new TextDecoder().decode(out.stdout), s.generatedText + "\n", "generated text");
    });
    await t.step("a state saved from transformers' cache loads and continues here", async () => {
      const h = ex.hfState;
      const saved = await loadState(`${EX}/hf_state`, { config: engine.config });
      assertEquals(saved.meta.tokenIds, h.ids, "token ids in meta.json");
      const ours = await engine.run(h.ids);
      check("saved state: conv", "transformers state", saved.conv, ours.state.conv);
      check("saved state: SSM", "transformers state", saved.ssm, ours.state.ssm);
      check("saved state: sum of delta", "transformers state", saved.deltaSum, ours.state.deltaSum);
      check("saved state: logits", "transformers state", saved.logits!, ours.logits);
      await checkContinuation(engine, "hf_state", h, ex.vocabLimit);
    });
  } finally {
    await engine.close();
  }
});

Deno.test({
  name: "transformers parity: largest relative error per quantity",
  // Runs after the cases above in this file (tests in a file run in order).
  fn() {
    assert(worst.size > 0, "no comparison ran");
    const lines = [...worst].map(([q, w]) =>
      `  ${q.padEnd(28)} ${w.err.toExponential(2)}  (${w.where})`
    );
    console.log(
      `transformers ${meta.transformers}, torch ${meta.torch}:\n${lines.join("\n")}`,
    );
  },
});
