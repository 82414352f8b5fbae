/**
 * `reproduce --plan` against what a run really does: on the organism preset the planned tokens,
 * sequences and state bytes are what the real run's engine and store count, and the predicted
 * CPU time is within a factor of 2 of the measured one; the FLOPs of a token are twice the
 * weights its matrix products read, plus the scan's; `--plan --json` prints one JSON object.
 */
import "./_cache.ts";
import { assert, assertEquals } from "./_assert.ts";
import { inTempDir } from "./_temp.ts";
import { FIGURE_REGISTRY, PRESETS } from "../lib/experiments/mod.ts";
import { flopsPerToken, planRun, standInConfig, stateRowBytes } from "../lib/experiments/plan.ts";
import { readMambaConfig } from "../lib/model/config.ts";
import { SafetensorsCheckpoint } from "../lib/model/safetensors.ts";
import { tinyMambaConfig, writeRandomCheckpoint } from "../lib/model/random_checkpoint.ts";
import { BUNDLED_MODELS } from "../lib/hub/resolve.ts";
import { readWorkCounters, resetWorkCounters } from "../lib/util/counters.ts";

Deno.test("flopsPerToken() is twice the matrix weights a token reads, plus the conv and the scan", () =>
  inTempDir("soup-plan-", async (dir) => {
    const config = tinyMambaConfig({ hiddenSize: 24, numHiddenLayers: 3, stateSize: 5 });
    await writeRandomCheckpoint(dir, config);
    using ckpt = await SafetensorsCheckpoint.open(dir);
    let matmul = 0;
    for (const [name, t] of ckpt.tensors) {
      if (/(in_proj|x_proj|dt_proj|out_proj)\.weight$/.test(name)) {
        matmul += t.shape.reduce((a, b) => a * b, 1);
      }
    }
    const { intermediateSize: di, stateSize: n, convKernel: k, hiddenSize: d } = config;
    const rest = 3 * (2 * di * k + 9 * di * n + 5 * di + 5 * d);
    assertEquals(flopsPerToken(config), 2 * matmul + rest);
    // The stand-in keeps what decides the work: layers, vocabulary, conv width.
    const s = standInConfig(config);
    assertEquals([s.numHiddenLayers, s.vocabSize, s.convKernel], [3, 64, 4]);
  }));

Deno.test("the organism's retrieval plan is what the run processes, its CPU time within 2x", () =>
  inTempDir("soup-plan-", async (dir) => {
    const preset = { ...PRESETS.organism, name: "organism" };
    const plan = await planRun("organism", preset, ["retrieval"]);
    const [planned] = plan.figures;
    resetWorkCounters();
    const started = performance.now();
    await FIGURE_REGISTRY.find((f) => f.id === "retrieval")!.run(PRESETS.organism, {
      model: "organism",
      device: "cpu",
      cacheDir: `${dir}/cache`,
      resultsDir: `${dir}/results`,
      log: () => {},
    });
    const seconds = (performance.now() - started) / 1000;
    const real = readWorkCounters();
    assertEquals(
      [planned.calls, planned.sequences, planned.tokens, planned.logitPositions],
      [real.engineCalls, real.sequences, real.tokens, real.logitPositions],
    );
    const config = await readMambaConfig(BUNDLED_MODELS.organism);
    assertEquals(planned.storeBytes, real.stateRows * stateRowBytes(config));
    const ratio = planned.cpuSeconds / seconds;
    console.log(
      `  planned ${planned.cpuSeconds.toFixed(1)} s, measured ${seconds.toFixed(1)} s ` +
        `(${ratio.toFixed(2)}x), ${planned.tokens} tokens`,
    );
    assert(ratio > 0.5 && ratio < 2, `predicted ${planned.cpuSeconds} s against ${seconds} s`);
    assert(planned.gpuSeconds > 0 && planned.gpuSeconds < planned.cpuSeconds);
    assertEquals(plan.total.tokens, planned.tokens);
  }));

Deno.test("reproduce --plan --json prints one object: per figure and in total, with the assumptions", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("../cli/reproduce.ts", import.meta.url).pathname,
      "arithmetic",
      "--model",
      "organism",
      "--plan",
      "--json",
      "--gpu",
      "a100",
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
  const plan = JSON.parse(text);
  for (const f of [...plan.figures, plan.total]) {
    for (const key of ["tokens", "flops", "storeBytes", "cpuSeconds", "gpuSeconds"]) {
      assert(typeof f[key] === "number" && f[key] >= 0, `${f.figure}.${key}: ${f[key]}`);
    }
  }
  assertEquals(plan.figures.map((f: { figure: string }) => f.figure), ["arithmetic"]);
  assertEquals(plan.gpu.gpu.name, "NVIDIA A100 SXM");
  assert(plan.gpu.note.includes("estimate"), plan.gpu.note);
  assert(plan.total.tokens > 0);
});
