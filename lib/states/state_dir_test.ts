import { tree } from "../../tests/_temp.ts";
import { assert, assertClose, assertEquals, assertRejects } from "../../tests/_assert.ts";
import { runNumpy } from "../../tests/_python.ts";
import { loadState, saveState, stateShapeOf } from "./state_dir.ts";
import { State } from "./state.ts";
import { configHash, tinyMambaConfig } from "../model/mod.ts";
import { FormatError, NotFoundError, SoupError } from "../util/errors.ts";
import { Rng } from "../util/random.ts";

async function randomState(seed: number, fields = {}): Promise<State> {
  const config = tinyMambaConfig(fields);
  const rng = new Rng(seed);
  const { numHiddenLayers: nl, intermediateSize: dIn, convKernel: k, stateSize: n } = config;
  const arr = (len: number) => Float32Array.from({ length: len }, () => rng.normal());
  return new State(stateShapeOf(config), {
    conv: arr(nl * dIn * k),
    ssm: arr(nl * dIn * n),
    deltaSum: arr(nl * dIn),
    logits: arr(config.vocabSize),
  }, {
    meta: {
      model: "tiny",
      configHash: await configHash(config),
      shape: stateShapeOf(config),
      tokenIds: [1, 2, 3],
      source: null,
      engine: "reference",
      created: new Date(0).toISOString(),
    },
  });
}

Deno.test("saveState() writes files NumPy loads with the documented dtypes and shapes", async () => {
  const dir = `${await Deno.makeTempDir()}/s`;
  const state = await randomState(1);
  await saveState(dir, state);
  const out = await runNumpy(
    `import sys, json, numpy as np
d = sys.argv[1]
print(json.dumps({f: [str(np.load(f"{d}/{f}.npy").dtype), list(np.load(f"{d}/{f}.npy").shape),
  float(np.load(f"{d}/{f}.npy").astype(np.float64).sum())] for f in ["conv", "ssm", "delta_sum", "logits"]}))`,
    [dir],
  );
  const got = JSON.parse(out);
  assertEquals(got.conv.slice(0, 2), ["float32", [2, 32, 4]]);
  assertEquals(got.ssm.slice(0, 2), ["float32", [2, 32, 4]]);
  assertEquals(got.delta_sum.slice(0, 2), ["float32", [2, 32]]);
  assertEquals(got.logits.slice(0, 2), ["float32", [64]]);
  const sum = (a: Float32Array) => a.reduce((x, y) => x + y, 0);
  assertClose([got.ssm[2], got.logits[2]], [sum(state.ssm), sum(state.logits!)], { rtol: 1e-9 });
  const back = await loadState(dir, { config: tinyMambaConfig() });
  assertEquals(back.ssm, state.ssm);
  assertEquals(back.conv, state.conv);
  assertEquals(back.meta, state.meta);
});

Deno.test("loadState() refuses a state of another model or shape", async () => {
  const dir = `${await Deno.makeTempDir()}/s`;
  await saveState(dir, await randomState(2));
  await assertRejects(
    () => loadState(dir, { config: tinyMambaConfig({ stateSize: 8 }) }),
    SoupError,
    "not to this model",
  );
  await assertRejects(
    () => loadState(dir, { config: tinyMambaConfig({ layerNormEpsilon: 1e-6 }) }),
    SoupError,
    "not to this model",
  );
});

Deno.test("loadState() names the broken file", async () => {
  const dir = `${await Deno.makeTempDir()}/s`;
  await assertRejects(() => loadState(dir), NotFoundError, `"${dir}": no such folder`);
  await Deno.writeTextFile(dir, "notes");
  await assertRejects(() => loadState(dir), NotFoundError, "it is a file, not a state folder");
  await Deno.remove(dir);
  await Deno.mkdir(dir);
  await assertRejects(() => loadState(dir), NotFoundError, "it has no meta.json (not a state");
  await Deno.remove(dir);
  await saveState(dir, await randomState(3));
  await Deno.remove(`${dir}/ssm.npy`);
  await assertRejects(() => loadState(dir), NotFoundError, `${dir}/ssm.npy`);
  await saveState(dir, await randomState(3, { stateSize: 5 }), { replace: true });
  const meta = JSON.parse(await Deno.readTextFile(`${dir}/meta.json`));
  meta.shape.stateSize = 4;
  await Deno.writeTextFile(`${dir}/meta.json`, JSON.stringify(meta));
  await assertRejects(() => loadState(dir), FormatError, "meta.json implies float32 (2, 32, 4)");
  await Deno.writeTextFile(`${dir}/meta.json`, "{");
  await assertRejects(() => loadState(dir), FormatError, "malformed JSON");
});

Deno.test("saveState() never leaves a half-written folder", async () => {
  const parent = await Deno.makeTempDir();
  const good = await randomState(4);
  await saveState(`${parent}/s`, good);
  // A State whose arrays were swapped behind its back after it was checked.
  const bad: State = Object.create(good, { ssm: { value: new Float32Array(3) } });
  await assertRejects(() => saveState(`${parent}/s`, bad), SoupError, "holds 3 ssm values");
  const entries = [...Deno.readDirSync(parent)].map((e) => e.name);
  assertEquals(entries, ["s"]);
  assertEquals((await loadState(`${parent}/s`)).ssm, good.ssm);
  await saveState(`${parent}/s`, await randomState(5), { replace: true });
  assert((await loadState(`${parent}/s`)).ssm[0] !== good.ssm[0], "replaced");
  assertEquals([...Deno.readDirSync(parent)].map((e) => e.name), ["s"]);
});

Deno.test("saveState() never replaces what it did not write, and a state only when asked", async () => {
  const dir = await Deno.makeTempDir({ prefix: "soup-state-" });
  try {
    await Deno.writeTextFile(`${dir}/notes.txt`, "my notes");
    await Deno.mkdir(`${dir}/project/src`, { recursive: true });
    await Deno.writeTextFile(`${dir}/project/src/main.ts`, "console.log(1)");
    await Deno.mkdir(`${dir}/empty`);
    await saveState(`${dir}/state`, await randomState(6));
    const before = tree(dir);
    const s = await randomState(7);
    for (
      const [path, why] of [
        ["notes.txt", "it is a file"],
        ["project", "it is a folder holding src"],
        ["empty", "it is an empty folder"],
      ]
    ) {
      for (const replace of [false, true]) {
        await assertRejects(() => saveState(`${dir}/${path}`, s, { replace }), SoupError, why);
      }
    }
    await assertRejects(() => saveState(`${dir}/state`, s), SoupError, "pass --force");
    assertEquals(tree(dir), before, "nothing was touched");
    await saveState(`${dir}/state`, s, { replace: true });
    assertEquals((await loadState(`${dir}/state`)).ssm, s.ssm);
    assertEquals(tree(dir).length, before.length, "no leftovers");
    await assertRejects(
      () => saveState("/proc/soup-no-such/state", s),
      SoupError,
      "is not writable",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadState() refuses a state of other weights of the same shape", async () => {
  const dir = await Deno.makeTempDir({ prefix: "soup-state-" });
  try {
    const s = await randomState(8);
    await saveState(`${dir}/s`, s.withMeta({ ...s.meta!, weightsFingerprint: "aaaa" }));
    await loadState(`${dir}/s`, { weights: "aaaa" });
    await assertRejects(
      () => loadState(`${dir}/s`, { weights: "bbbb" }),
      SoupError,
      "made with other weights",
    );
    // A folder written before fingerprints were recorded is accepted.
    await saveState(`${dir}/old`, s);
    await loadState(`${dir}/old`, { weights: "bbbb" });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadState() reads folders written before delta_sum.npy had its name (decay.npy)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "soup-state-" });
  try {
    const s = await randomState(9);
    await saveState(`${dir}/s`, s);
    await Deno.rename(`${dir}/s/delta_sum.npy`, `${dir}/s/decay.npy`);
    assertEquals((await loadState(`${dir}/s`)).deltaSum, s.deltaSum);
    // And such a folder is still recognised as a state this tool wrote.
    await saveState(`${dir}/s`, s, { replace: true });
    assertEquals([...Deno.readDirSync(`${dir}/s`)].map((e) => e.name).sort(), [
      "conv.npy",
      "delta_sum.npy",
      "logits.npy",
      "meta.json",
      "ssm.npy",
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadState() refuses a NaN or an infinity that NumPy wrote into a state, naming the file and value", async () => {
  const dir = `${await Deno.makeTempDir()}/s`;
  await saveState(dir, await randomState(3));
  for (
    const [file, value, said] of [
      ["ssm.npy", "nan", "is NaN"],
      ["conv.npy", "inf", "is Infinity"],
      ["delta_sum.npy", "-inf", "is -Infinity"],
    ]
  ) {
    await runNumpy(
      `import numpy as np, sys
a = np.load(sys.argv[1]); a.flat[5] = float(sys.argv[2]); np.save(sys.argv[1], a)`,
      [`${dir}/${file}`, value],
    );
    const err = await loadState(dir).then(() => undefined, (e) => e);
    assert(err instanceof SoupError, `${file}: ${err}`);
    assert(
      err.message.includes(`${dir}/${file}`) && err.message.includes(`value 5 ${said}`),
      err.message,
    );
    assertEquals(err.message.includes("\n"), false);
    await saveState(dir, await randomState(3), { replace: true });
  }
});
