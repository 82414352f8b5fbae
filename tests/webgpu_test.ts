/**
 * The GPU path: onnxruntime's WebGPU provider on whatever Vulkan device this machine has (in CI,
 * Mesa's lavapipe, a software Vulkan device: it proves correctness and placement, never speed).
 * The engine on WebGPU must agree with the float64 reference on the same random checkpoints as
 * the CPU tests, from zeros and injected states, in chunks, on batches of different lengths;
 * every compute node must run on the WebGPU provider; states kept in GPU memory between chunks
 * must give what CPU-held states give; `auto` must never pick a software adapter.
 *
 * Without a Vulkan device these tests fail and say how to get one; `SOUP_SKIP_WEBGPU=1` skips
 * them explicitly (they then show as ignored).
 */
import { inTempDir } from "./_temp.ts";
import { assert, assertEquals } from "./_assert.ts";
import {
  assertNear,
  assertRunNear,
  CONFIGS,
  randomState,
  relErr,
  writeCase,
} from "./_engine_cases.ts";
import { OnnxEngine, openEngine, ReferenceEngine } from "../lib/engine/mod.ts";
import { tinyMambaConfig, writeRandomCheckpoint } from "../lib/model/mod.ts";
import { hasVulkan, OrtSession, webgpuAdapter } from "../lib/onnx/mod.ts";

const ignore = Deno.env.get("SOUP_SKIP_WEBGPU") === "1";

/** Fails with what to install when this machine has no WebGPU adapter. */
async function requireAdapter() {
  const adapter = hasVulkan() ? await webgpuAdapter() : undefined;
  if (adapter === undefined) {
    throw new Error(
      "No WebGPU adapter: the GPU tests need a Vulkan device. Without a GPU install Mesa's " +
        "lavapipe from bookworm-backports (mesa-vulkan-drivers libvulkan1; `deno task test` does as root, through tools/setup/test_deps.sh), or " +
        "set SOUP_SKIP_WEBGPU=1 to skip these tests",
    );
  }
  return adapter;
}

for (const c of CONFIGS) {
  const [name, fields] = c;
  Deno.test({
    name: `WebGPU agrees with the reference forward: ${name}`,
    ignore,
    fn: () =>
      inTempDir("soup-webgpu-", async (dir) => {
        await requireAdapter();
        const { config, ids } = await writeCase(dir, c);
        const ref = await ReferenceEngine.load(dir);
        // One pass, and chunks of 4 whose states stay in GPU memory between chunks.
        for (const chunkSize of [256, 4]) {
          const gpu = await OnnxEngine.load(dir, { provider: "webgpu", chunkSize });
          try {
            for (const state of [undefined, randomState(fields, 9)]) {
              const tag = `chunks of ${chunkSize}, ${state ? "from a state" : "from zeros"}`;
              const a = await gpu.run(ids, { state, allLogits: true });
              assertEquals(gpu.name, "onnx-webgpu");
              const b = await ref.run(ids, { state, allLogits: true });
              assertRunNear(a, b, tag);
              const last = await gpu.run(ids, { state });
              assertNear(last.logits, b.logits.subarray(10 * config.vocabSize), `last ${tag}`);
            }
          } finally {
            await gpu.close();
          }
        }
      }),
  });
}

Deno.test({
  name: "WebGPU batches of different lengths, in chunks, from states: each as the reference alone",
  ignore,
  fn: () =>
    inTempDir("soup-webgpu-", async (dir) => {
      await requireAdapter();
      const fields = { numHiddenLayers: 2, convKernel: 3, stateSize: 5 };
      await writeRandomCheckpoint(dir, tinyMambaConfig(fields), { seed: 4 });
      const ref = await ReferenceEngine.load(dir);
      const seqs = [[1, 2, 3, 4, 5, 6, 7, 8, 9], [10], [11, 12, 13], [14, 15, 16, 17, 18]];
      const states = [undefined, randomState(fields, 1), undefined, randomState(fields, 2)];
      const gpu = await OnnxEngine.load(dir, { provider: "webgpu", chunkSize: 4 });
      try {
        for (const allLogits of [false, true]) {
          const batch = await gpu.runBatch(seqs, { states, allLogits });
          for (const [s, seq] of seqs.entries()) {
            const alone = await ref.run(seq, { state: states[s], allLogits });
            const tag = `sequence ${s}${allLogits ? ", all logits" : ""}`;
            assertRunNear(batch[s], alone, `of ${tag}`);
          }
        }
      } finally {
        await gpu.close();
      }
    }),
});

Deno.test({
  name: "WebGPU states kept in GPU memory between chunks equal states copied to the CPU",
  ignore,
  fn: () =>
    inTempDir("soup-webgpu-", async (dir) => {
      await requireAdapter();
      const fields = { numHiddenLayers: 3, stateSize: 16, convKernel: 4 };
      await writeRandomCheckpoint(dir, tinyMambaConfig(fields), { seed: 6 });
      const seqs = [[3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5], [8, 9, 7], [9, 3, 2, 3, 8, 4, 6]];
      const states = [randomState(fields, 3), undefined, randomState(fields, 4)];
      const run = async (statesOnDevice: boolean) => {
        const e = await OnnxEngine.load(dir, { provider: "webgpu", chunkSize: 2, statesOnDevice });
        try {
          return await e.runBatch(seqs, { states, allLogits: true });
        } finally {
          await e.close();
        }
      };
      const held = await run(true);
      const copied = await run(false);
      for (const s of seqs.keys()) {
        for (const key of ["conv", "ssm", "deltaSum"] as const) {
          assertEquals(relErr(held[s].state[key], copied[s].state[key]), 0, `${key} of ${s}`);
        }
        assertEquals(relErr(held[s].logits, copied[s].logits), 0, `logits of ${s}`);
      }
    }),
});

/** Element types of a profile node's inputs and outputs, e.g. ["int64", "float"]. */
function typesOf(args: Record<string, unknown>): string[] {
  const list = [
    ...(args.input_type_shape as Record<string, unknown>[] ?? []),
    ...(args.output_type_shape as Record<string, unknown>[] ?? []),
  ];
  return list.flatMap((t) => Object.keys(t));
}

Deno.test({
  name: "WebGPU placement: every node that touches floats runs on the WebGPU provider",
  ignore,
  fn: () =>
    inTempDir("soup-webgpu-", async (dir) => {
      await requireAdapter();
      const config = tinyMambaConfig({ numHiddenLayers: 2, stateSize: 7, vocabSize: 50280 });
      await writeRandomCheckpoint(dir, config, { dtype: "BF16", seed: 5 });
      const engine = await OnnxEngine.load(dir, { provider: "webgpu" });
      const ran = new Map<string, { op: string; provider: string; types: string[] }>();
      for (const allLogits of [false, true]) {
        const session = await OrtSession.create(engine.modelBytes(allLogits), {
          provider: "webgpu",
          externalDataFolder: dir,
          profilePrefix: `${dir}/profile-${allLogits}`,
        });
        const { numHiddenLayers: nl, intermediateSize: dIn, convKernel: k, stateSize: n } = config;
        const feeds: Parameters<OrtSession["run"]>[0] = {
          input_ids: { type: "int64", data: BigInt64Array.from([5n, 6n, 7n, 8n]), dims: [2, 2] },
          lengths: { type: "int64", data: BigInt64Array.from([2n, 1n]), dims: [2] },
        };
        for (let i = 0; i < nl; i++) {
          feeds[`past_conv.${i}`] = {
            type: "float32",
            data: new Float32Array(2 * dIn * k),
            dims: [2, dIn, k],
          };
          feeds[`past_ssm.${i}`] = {
            type: "float32",
            data: new Float32Array(2 * dIn * n),
            dims: [2, dIn, n],
          };
        }
        await session.run(feeds);
        session.endProfiling();
        await session.release();
        const file = [...Deno.readDirSync(dir)].find((f) =>
          f.name.startsWith(`profile-${allLogits}`)
        );
        assert(file !== undefined, "onnxruntime wrote no profile");
        const events = JSON.parse(await Deno.readTextFile(`${dir}/${file.name}`)) as {
          cat?: string;
          name: string;
          args: Record<string, unknown>;
        }[];
        for (const e of events) {
          if (e.cat !== "Node") continue;
          ran.set(`${allLogits}:${e.name}`, {
            op: String(e.args.op_name),
            provider: String(e.args.provider),
            types: typesOf(e.args),
          });
        }
      }
      await engine.close();
      assert(ran.size > 50, `only ${ran.size} nodes in the profiles`);
      const onCpu = [...ran.values()].filter((r) => r.provider !== "WebGpuExecutionProvider");
      const floatOnCpu = onCpu.filter((r) => r.types.some((t) => !["int64", "bool"].includes(t)));
      assertEquals(
        floatOnCpu.map((r) => `${r.op} (${r.types.join(", ")})`),
        [],
        "nodes that fell back to the CPU with float tensors",
      );
      const onGpu = new Set(
        [...ran.values()].filter((r) => r.provider === "WebGpuExecutionProvider").map((r) => r.op),
      );
      for (const op of ["Gemm", "LinearAttention", "Conv", "Softplus", "Gather"]) {
        assert(onGpu.has(op), `${op} did not run on WebGPU (ran: ${[...onGpu].join(", ")})`);
      }
    }),
});

Deno.test({
  name: "auto never picks a software WebGPU adapter; webgpu names the adapter it ran on",
  ignore,
  fn: () =>
    inTempDir("soup-webgpu-", async (dir) => {
      const adapter = await requireAdapter();
      await writeRandomCheckpoint(dir, tinyMambaConfig({ numHiddenLayers: 1 }));
      const auto = await openEngine(dir, { device: "auto" });
      await auto.run([1, 2]);
      if (adapter.software) {
        assert(
          auto.name === "onnx-cpu" || auto.name === "onnx-cuda",
          `auto chose ${auto.name} with only a software adapter (${adapter.description})`,
        );
      }
      await auto.close();
      const gpu = await openEngine(dir, { device: "webgpu" });
      await gpu.run([1, 2]);
      assertEquals(gpu.name, "onnx-webgpu");
      assertEquals(gpu.adapter?.description, adapter.description);
      assertEquals(gpu.adapter?.software, adapter.software);
      await gpu.close();
    }),
});

/**
 * Half precision on WebGPU, against the float64 reference. Tolerance 1e-2 relative (normwise):
 * float16 keeps 11 significant bits (unit roundoff u = 2^-11 = 4.9e-4), and every layer rounds
 * the inputs, weights and outputs of its four matrix products and the sums inside them, so a
 * few u per quantity is expected; 1e-2 is about 20u (measured at most 2.3e-3, about 5u, on
 * these checkpoints). The error must also exceed 1e-5, or the products did not run in half
 * precision (float32 on the same device is within 1e-6).
 */
Deno.test({
  name: "WebGPU float16: within 1e-2 of the reference, and really in half precision",
  ignore,
  fn: () =>
    inTempDir("soup-webgpu-", async (dir) => {
      const adapter = await requireAdapter();
      assert(adapter.shaderF16, `${adapter.description} has no shader-f16`);
      for (const [index, c] of CONFIGS.entries()) {
        const [name, fields] = c;
        const model = `${dir}/${index}`;
        const { ids } = await writeCase(model, c);
        const ref = await ReferenceEngine.load(model);
        const half = await OnnxEngine.load(model, {
          provider: "webgpu",
          precision: "float16",
          chunkSize: 4,
        });
        try {
          for (const state of [undefined, randomState(fields, 9)]) {
            const tag = `${name}, ${state ? "from a state" : "from zeros"}`;
            const a = await half.run(ids, { state, allLogits: true });
            const b = await ref.run(ids, { state, allLogits: true });
            for (
              const [what, x, y] of [
                ["logits", a.logits, b.logits],
                ["conv", a.state.conv, b.state.conv],
                ["ssm", a.state.ssm, b.state.ssm],
              ] as const
            ) {
              const err = relErr(x, y);
              assert(err <= 1e-2, `${what} ${tag}: float16 error ${err.toExponential(2)} > 1e-2`);
              if (what === "logits") {
                assert(err > 1e-5, `${tag}: error ${err.toExponential(2)}: not half precision?`);
              }
            }
          }
        } finally {
          await half.close();
        }
      }
    }),
});

Deno.test("float16 is refused on the CPU with a reason", async () => {
  const dir = await Deno.makeTempDir({ prefix: "soup-webgpu-" });
  try {
    await writeRandomCheckpoint(dir, tinyMambaConfig({ numHiddenLayers: 1 }));
    const cpu = await OnnxEngine.load(dir, { provider: "cpu", precision: "float16" });
    let message = "";
    try {
      await cpu.run([1, 2]);
    } catch (err) {
      message = (err as Error).message;
    }
    assert(message.includes("Cannot run in float16 on the CPU"), message);
    await cpu.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
