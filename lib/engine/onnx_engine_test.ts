import { assert, assertEquals, assertRejects } from "../../tests/_assert.ts";
import {
  assertNear,
  assertRunNear,
  CONFIGS,
  randomState,
  writeCase,
} from "../../tests/_engine_cases.ts";
import { OnnxEngine } from "./onnx_engine.ts";
import { ReferenceEngine } from "./reference_engine.ts";
import { openEngine } from "./open_engine.ts";
import { tinyMambaConfig, writeRandomCheckpoint } from "../model/mod.ts";
import { OrtSession } from "../onnx/session.ts";
import { SoupError } from "../util/errors.ts";

/** The two CPU paths: the WebAssembly scan between segments, and the one LinearAttention graph. */
const SCANS = ["wasm", "onnx"] as const;

for (const c of CONFIGS) {
  const [name, fields] = c;
  Deno.test(`the ONNX engine agrees with the reference forward: ${name}`, async () => {
    const dir = await Deno.makeTempDir();
    const { config, ids } = await writeCase(dir, c);
    const ref = await ReferenceEngine.load(dir);
    for (
      const [cpuScan, state] of SCANS.flatMap((s) =>
        [[s, undefined], [s, randomState(fields, 9)]] as const
      )
    ) {
      const onnx = await OnnxEngine.load(dir, { cpuScan });
      const a = await onnx.run(ids, { state, allLogits: true });
      const b = await ref.run(ids, { state, allLogits: true });
      const tag = `${cpuScan} scan, ${state ? "from a state" : "from zeros"}`;
      assertRunNear(a, b, tag);
      const last = await onnx.run(ids, { state });
      assertNear(last.logits, b.logits.subarray(10 * config.vocabSize), `last logits ${tag}`);
      await onnx.close();
    }
  });
}

for (const cpuScan of SCANS) {
  Deno.test(`OnnxEngine (${cpuScan} scan) resumed from a state, in chunks of any size, equals one pass`, async () => {
    const dir = await Deno.makeTempDir();
    const config = tinyMambaConfig({ numHiddenLayers: 2, convKernel: 4 });
    await writeRandomCheckpoint(dir, config, { seed: 2 });
    const whole = await OnnxEngine.load(dir, { chunkSize: 1000, cpuScan });
    const ids = Array.from({ length: 23 }, (_, i) => (i * 7) % 64);
    const one = await whole.run(ids, { allLogits: true });
    for (const chunkSize of [1, 2, 5]) {
      const chunked = await OnnxEngine.load(dir, { chunkSize, cpuScan });
      const c = await chunked.run(ids, { allLogits: true });
      assertNear(c.logits, one.logits, `logits, chunks of ${chunkSize}`, 1e-5);
      assertNear(c.state.ssm, one.state.ssm, `ssm, chunks of ${chunkSize}`, 1e-5);
      assertNear(c.state.deltaSum, one.state.deltaSum, `decay, chunks of ${chunkSize}`, 1e-5);
      await chunked.close();
    }
    for (const cut of [1, 3, 4, 20]) {
      const a = await whole.run(ids.slice(0, cut));
      const b = await whole.run(ids.slice(cut), { state: a.state });
      assertNear(
        b.logits,
        one.logits.subarray((ids.length - 1) * 64),
        `logits after cut ${cut}`,
        1e-5,
      );
      assertNear(b.state.conv, one.state.conv, `conv after cut ${cut}`, 1e-5);
      assertNear(b.state.ssm, one.state.ssm, `ssm after cut ${cut}`, 1e-5);
      const sum = a.state.deltaSum.map((x, i) => x + b.state.deltaSum[i]);
      assertNear(sum, one.state.deltaSum, `decay sums after cut ${cut}`, 1e-5);
    }
    await whole.close();
  });

  Deno.test(`OnnxEngine.runBatch() (${cpuScan} scan) gives each sequence what it gives alone`, async () => {
    const dir = await Deno.makeTempDir();
    const fields = { numHiddenLayers: 2, convKernel: 3, stateSize: 5 };
    await writeRandomCheckpoint(dir, tinyMambaConfig(fields), { seed: 4 });
    const engine = await OnnxEngine.load(dir, { chunkSize: 4, cpuScan });
    const seqs = [[1, 2, 3, 4, 5, 6, 7, 8, 9], [10], [11, 12, 13], [14, 15, 16, 17, 18]];
    const states = [undefined, randomState(fields, 1), undefined, randomState(fields, 2)];
    for (const allLogits of [false, true]) {
      const batch = await engine.runBatch(seqs, { states, allLogits });
      for (const [s, seq] of seqs.entries()) {
        const alone = await engine.run(seq, { state: states[s], allLogits });
        assertRunNear(batch[s], alone, `of sequence ${s}`, 1e-6);
      }
    }
    await engine.close();
  });
}

Deno.test("the two CPU scans agree, with the kernel on 1, 2 or 3 threads", async () => {
  const dir = await Deno.makeTempDir();
  // d_in 522 and a first chunk of 3 x 256 tokens: enough work for the kernel's workers to
  // take part (2^20 state updates); the second chunk (3 x 44 tokens) runs on one thread.
  const fields = { numHiddenLayers: 2, hiddenSize: 64, intermediateSize: 522, stateSize: 6 };
  await writeRandomCheckpoint(dir, tinyMambaConfig(fields), { seed: 8 });
  const onnx = await OnnxEngine.load(dir, { cpuScan: "onnx" });
  const seq = (len: number, seed: number) =>
    Array.from({ length: len }, (_, t) => (t * 7919 + seed * 131) % 61);
  const seqs = [seq(300, 1), seq(2, 2), seq(170, 3)];
  const want = await onnx.runBatch(seqs, { allLogits: true });
  await onnx.close();
  for (const intraOpThreads of [1, 2, 3]) {
    const wasm = await OnnxEngine.load(dir, { cpuScan: "wasm", intraOpThreads });
    const got = await wasm.runBatch(seqs, { allLogits: true });
    for (const s of seqs.keys()) {
      const tag = `sequence ${s}, ${intraOpThreads} threads`;
      assertRunNear(got[s], want[s], `of ${tag}`, 1e-5);
    }
    await wasm.close();
  }
});

Deno.test("the ONNX model stays small: weights are referenced, not copied", async () => {
  const dir = await Deno.makeTempDir();
  const config = tinyMambaConfig({ numHiddenLayers: 4, hiddenSize: 64, vocabSize: 50280 });
  await writeRandomCheckpoint(dir, config);
  const engine = await OnnxEngine.load(dir);
  const weights = (await Deno.stat(`${dir}/model.safetensors`)).size;
  for (const all of [false, true]) {
    const bytes = engine.modelBytes(all).length;
    assert(
      bytes < 64_000 && bytes * 100 < weights,
      `model ${bytes} bytes for ${weights} bytes of weights`,
    );
    const segments = engine.segmentBytes(all);
    assertEquals(segments.length, 9); // in_proj and x_proj segments per layer, and the head
    const total = segments.reduce((sum, seg) => sum + seg.length, 0);
    assert(total * 100 < weights, `segments ${total} bytes for ${weights} bytes of weights`);
  }
});

Deno.test("onnxruntime feeds are checked against the session's inputs", async () => {
  const dir = await Deno.makeTempDir();
  await writeRandomCheckpoint(dir, tinyMambaConfig({ numHiddenLayers: 1 }));
  const engine = await OnnxEngine.load(dir);
  const session = await OrtSession.create(engine.modelBytes(false), { externalDataFolder: dir });
  const err = await assertRejects(
    () =>
      session.run({
        input_ids: { type: "int64", data: new BigInt64Array(2), dims: [1, 2] },
        past_ssm: { type: "float32", data: new Float32Array(1), dims: [1] },
      }),
    SoupError,
    "missing inputs lengths, past_conv.0, past_ssm.0",
  );
  assert(err.message.includes("unknown inputs past_ssm"), err.message);
  await assertRejects(
    () =>
      session.run({
        input_ids: { type: "int64", data: new BigInt64Array(2), dims: [1, 2] },
        lengths: { type: "int64", data: new BigInt64Array(1), dims: [1] },
        "past_conv.0": { type: "float32", data: new Float32Array(32 * 3), dims: [1, 32, 3] },
        "past_ssm.0": { type: "float32", data: new Float32Array(32 * 4), dims: [1, 32, 4] },
      }),
    SoupError,
    "past_conv.0: got [1,32,3] (96 values), expected [batch,32,4]",
  );
  await session.release();
});

Deno.test("devices: auto reports what it used, an unavailable provider fails clearly", async () => {
  const dir = await Deno.makeTempDir();
  await writeRandomCheckpoint(dir, tinyMambaConfig({ numHiddenLayers: 1 }));
  const auto = await openEngine(dir, { device: "auto" });
  // Final as openEngine returns: the provider is resolved up front, not at the first run.
  const name = auto.name;
  assert(["onnx-cpu", "onnx-webgpu", "onnx-cuda"].includes(name), name);
  await auto.run([1, 2]);
  assertEquals(auto.name, name);
  await auto.close();
  for (const device of ["cuda", "webgpu"] as const) {
    let engine;
    try {
      engine = await openEngine(dir, { device });
    } catch (err) {
      // Refused when it opens, in one line naming the device.
      assert(err instanceof SoupError, String(err));
      assert(new RegExp(`(on|device) ${device}`).test(err.message), err.message);
      assert(!err.message.includes("\n"), err.message);
      continue;
    }
    try {
      await engine.run([1, 2]);
      assertEquals(engine.name, `onnx-${device}`); // a machine that has this provider
    } finally {
      await engine.close();
    }
  }
  await assertRejects(
    () => openEngine(dir, { device: "tpu" as "cpu" }),
    SoupError,
    "Unknown device",
  );
});

Deno.test("devices: auto falls back to the CPU and says why; a named GPU never falls back", async () => {
  const dir = await Deno.makeTempDir();
  await writeRandomCheckpoint(dir, tinyMambaConfig({ numHiddenLayers: 1 }));
  const { engineHooks } = await import("./open_engine.ts");
  const machine = engineHooks.gpuProviders;
  // As if this machine had the CUDA provider's library: auto tries cuda first.
  engineHooks.gpuProviders = () => Promise.resolve(["cuda"]);
  try {
    const warnings: string[] = [];
    const auto = await openEngine(dir, { device: "auto", onWarning: (m) => warnings.push(m) });
    try {
      if (auto.name === "onnx-cuda") return; // a machine with CUDA: nothing fell back
      assertEquals(auto.name, "onnx-cpu");
      assertEquals(warnings.length, 1, warnings.join("\n"));
      assert(
        warnings[0].startsWith("warning: device auto runs on cpu: cuda failed ("),
        warnings[0],
      );
      assert(!warnings[0].includes("\n"), "one line");
    } finally {
      await auto.close();
    }
    // Named, cuda is refused in one line, never run on the CPU instead.
    const err = await openEngine(dir, { device: "cuda" }).then(
      (e) => e.close().then(() => undefined),
      (e) => e,
    );
    assert(err instanceof SoupError, String(err));
    assert(/(on|device) cuda/.test(err.message) && !err.message.includes("\n"), err.message);
    // float16 on auto with no GPU that opens is refused, not run in float32.
    await assertRejects(
      () => openEngine(dir, { device: "auto", precision: "float16", onWarning: () => {} }),
      SoupError,
      "auto",
    );
  } finally {
    engineHooks.gpuProviders = machine;
  }
});

Deno.test("a process that opens onnxruntime leaves no /tmp/mat-debug-<pid>.log behind", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await writeRandomCheckpoint(`${dir}/m`, tinyMambaConfig());
    await Deno.writeTextFile(
      `${dir}/child.ts`,
      `import { openEngine } from ${
        JSON.stringify(new URL("./open_engine.ts", import.meta.url).href)
      };
const e = await openEngine(${JSON.stringify(`${dir}/m`)}, { device: "cpu" });
await e.run([1, 2, 3]);
await e.close();
console.log(Deno.pid);
`,
    );
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", `${dir}/child.ts`],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert(out.success, new TextDecoder().decode(out.stderr));
    const pid = Number(new TextDecoder().decode(out.stdout).trim());
    assert(pid > 0, "the child printed its pid");
    const left = await Deno.stat(`/tmp/mat-debug-${pid}.log`).then(() => true, () => false);
    assertEquals(left, false, `/tmp/mat-debug-${pid}.log is left`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("runs started at once on one engine (both logits variants) give what each gives alone", async () => {
  const dir = await Deno.makeTempDir();
  await writeRandomCheckpoint(dir, tinyMambaConfig({ numHiddenLayers: 2 }), { seed: 3 });
  const engine = await OnnxEngine.load(dir);
  try {
    const seqs = [[1, 2, 3, 4, 5], [6, 7], [8, 9, 10, 11, 12, 13, 14]];
    const alone = [];
    for (const s of seqs) alone.push(await engine.run(s), await engine.run(s, { allLogits: true }));
    const together = await Promise.all(
      seqs.flatMap((s) => [engine.run(s), engine.run(s, { allLogits: true })]),
    );
    for (const [i, r] of together.entries()) {
      assertEquals(r.logits, alone[i].logits);
      assertEquals(r.state.ssm, alone[i].state.ssm);
      assertEquals(r.state.conv, alone[i].state.conv);
    }
  } finally {
    await engine.close();
  }
});
