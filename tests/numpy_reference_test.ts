/**
 * Outside check of the checkpoint code and the reference forward: an independent NumPy
 * implementation (tests/reference/mamba_numpy.py, its own safetensors reader and writer)
 * runs the same checkpoints and must agree, in both directions.
 */
import { assertClose, assertEquals } from "./_assert.ts";
import { numpyPython } from "./_python.ts";
import {
  loadMambaWeights,
  readMambaConfig,
  referenceForward,
  SafetensorsCheckpoint,
  tinyMambaConfig,
  writeRandomCheckpoint,
} from "../lib/model/mod.ts";
import { readNpy, writeNpy } from "../lib/npy/mod.ts";
import { Rng } from "../lib/util/random.ts";

const SCRIPT = new URL("./reference/mamba_numpy.py", import.meta.url).pathname;

async function runNumpyReference(args: string[]): Promise<void> {
  const out = await new Deno.Command(await numpyPython(), {
    args: [SCRIPT, ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(
      `mamba_numpy.py ${args.join(" ")} failed:\n${new TextDecoder().decode(out.stderr)}`,
    );
  }
}

async function load(dir: string) {
  const config = await readMambaConfig(dir);
  using ckpt = await SafetensorsCheckpoint.open(dir);
  return await loadMambaWeights(ckpt, config);
}

async function readF64(path: string): Promise<Float64Array> {
  const a = await readNpy(path);
  return Float64Array.from(a.data as Float64Array);
}

const CASES = [
  {
    name: "1 layer, K 2, n 3, no conv bias",
    fields: { numHiddenLayers: 1, convKernel: 2, stateSize: 3, useConvBias: false },
    dtype: "F32",
  },
  {
    name: "odd sizes, rank 3, vocab 61, K 3",
    fields: { hiddenSize: 13, intermediateSize: 27, timeStepRank: 3, vocabSize: 61, convKernel: 3 },
    dtype: "F32",
  },
  {
    name: "4 layers, n 16, biases, untied, F16, sharded",
    fields: { numHiddenLayers: 4, stateSize: 16, useBias: true, tieWordEmbeddings: false },
    dtype: "F16",
    shard: 6000,
  },
  {
    name: "real vocabulary 50280, BF16",
    fields: { hiddenSize: 8, intermediateSize: 16, vocabSize: 50280, numHiddenLayers: 2 },
    dtype: "BF16",
  },
] as const;

for (const c of CASES) {
  Deno.test(`referenceForward() agrees with the NumPy reference: ${c.name}`, async () => {
    const dir = await Deno.makeTempDir();
    const config = tinyMambaConfig(c.fields);
    await writeRandomCheckpoint(`${dir}/model`, config, {
      seed: 21,
      dtype: c.dtype,
      maxShardBytes: "shard" in c ? c.shard : undefined,
    });
    const w = await load(`${dir}/model`);
    const rng = new Rng(5);
    const ids = Array.from({ length: 9 }, () => rng.int(config.vocabSize));
    const { numHiddenLayers: nl, intermediateSize: dIn, convKernel: k, stateSize: n } = config;
    // A nonzero starting state, so that state injection is checked too.
    const conv = Float32Array.from({ length: nl * dIn * k }, () => rng.normal(0, 0.5));
    const ssm = Float32Array.from({ length: nl * dIn * n }, () => rng.normal(0, 0.5));
    await writeNpy(`${dir}/conv0.npy`, { data: conv, shape: [nl, dIn, k] });
    await writeNpy(`${dir}/ssm0.npy`, { data: ssm, shape: [nl, dIn, n] });
    for (const fromState of [false, true]) {
      const out = `${dir}/out${fromState}`;
      const stateArgs = fromState ? ["--conv", `${dir}/conv0.npy`, "--ssm", `${dir}/ssm0.npy`] : [];
      await runNumpyReference([
        "--model",
        `${dir}/model`,
        "--ids",
        ids.join(","),
        "--out",
        out,
        ...stateArgs,
      ]);
      const ours = referenceForward(w, ids, fromState ? { conv, ssm } : {});
      const tol = { rtol: 1e-9, atol: 1e-12 };
      assertClose(ours.logits, await readF64(`${out}/logits.npy`), { ...tol, msg: "logits" });
      assertClose(ours.conv, await readF64(`${out}/conv.npy`), { ...tol, msg: "conv" });
      assertClose(ours.ssm, await readF64(`${out}/ssm.npy`), { ...tol, msg: "ssm" });
      assertClose(ours.deltaSum, await readF64(`${out}/decay.npy`), { ...tol, msg: "decay" });
    }
  });
}

Deno.test("checkpoints NumPy wrote (sharded, mixed F32/F16/BF16) load and run identically", async () => {
  const dir = await Deno.makeTempDir();
  // The NumPy side writes two checkpoints with its own safetensors writer and runs them.
  await new Deno.Command(await numpyPython(), {
    args: [
      "-c",
      `import sys, numpy as np; sys.path.insert(0, ${JSON.stringify(SCRIPT.replace(/[^/]*$/, ""))})
import mamba_numpy as m
for sharded in (False, True):
    d = sys.argv[1] + ("/sharded" if sharded else "/single")
    import os; os.makedirs(d)
    m._random_checkpoint(d, np.random.default_rng(3), n_layer=3, sharded=sharded)
    cfg, w = m.load_model(d)
    logits, conv, ssm, decay = m.forward(cfg, w, [1, 5, 2, 12, 0, 7])
    for k, v in dict(logits=logits, conv=conv, ssm=ssm, decay=decay).items():
        np.save(f"{d}/{k}.npy", np.asarray(v))`,
      dir,
    ],
    stdout: "inherit",
    stderr: "inherit",
  }).output().then((o) => assertEquals(o.success, true, "python side failed"));
  for (const kind of ["single", "sharded"]) {
    const w = await load(`${dir}/${kind}`);
    const ours = referenceForward(w, [1, 5, 2, 12, 0, 7]);
    const tol = { rtol: 1e-9, atol: 1e-12 };
    assertClose(ours.logits, await readF64(`${dir}/${kind}/logits.npy`), {
      ...tol,
      msg: `${kind} logits`,
    });
    assertClose(ours.ssm, await readF64(`${dir}/${kind}/ssm.npy`), { ...tol, msg: `${kind} ssm` });
    assertClose(ours.conv, await readF64(`${dir}/${kind}/conv.npy`), {
      ...tol,
      msg: `${kind} conv`,
    });
    assertClose(ours.deltaSum, await readF64(`${dir}/${kind}/decay.npy`), {
      ...tol,
      msg: `${kind} decay`,
    });
  }
});

Deno.test("the NumPy reference passes its own self-test", async () => {
  await runNumpyReference(["--self-test"]);
});
