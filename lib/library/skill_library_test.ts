import { assert, assertEquals, assertRejects } from "../../tests/_assert.ts";
import { runNumpy } from "../../tests/_python.ts";
import { configHash, type MambaConfig, tinyMambaConfig } from "../model/mod.ts";
import { saveState, State, type StateMeta, stateShapeOf } from "../states/mod.ts";
import { FormatError, NotFoundError, SoupError } from "../util/errors.ts";
import { Rng } from "../util/random.ts";
import { libraryHooks } from "./_hooks.ts";
import { type SkillEntry, SkillLibrary } from "./mod.ts";

/** A random state of `config` and the meta of a k-shot skill. */
async function skill(
  config: MambaConfig,
  seed: number,
  extra: Record<string, unknown>,
  options: { logits?: boolean; model?: string } = {},
): Promise<{ state: State; meta: StateMeta }> {
  const rng = new Rng(seed);
  const { numHiddenLayers: nl, intermediateSize: d, convKernel: k, stateSize: n } = config;
  const arr = (len: number) => Float32Array.from({ length: len }, () => rng.normal());
  return {
    state: new State(stateShapeOf(config), {
      conv: arr(nl * d * k),
      ssm: arr(nl * d * n),
      deltaSum: arr(nl * d).map(Math.abs),
      logits: options.logits === false ? undefined : arr(config.vocabSize),
    }),
    meta: {
      model: options.model ?? "tiny-random",
      configHash: await configHash(config),
      shape: stateShapeOf(config),
      tokenIds: [0, 50, 27, seed],
      text: `demo text ${seed}`,
      source: null,
      engine: "reference",
      created: new Date(Date.UTC(2026, 10, 24, 9, 0, seed)).toISOString(),
      extra,
    },
  };
}

async function tree(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (sub: string) => {
    for await (const e of Deno.readDir(`${dir}${sub}`)) {
      out.push(`${sub}/${e.name}`);
      if (e.isDirectory) await walk(`${sub}/${e.name}`);
    }
  };
  await walk("");
  return out.sort();
}

const config = tinyMambaConfig({ stateSize: 5, convKernel: 3, vocabSize: 48 });

Deno.test("a skill library round-trips through NumPy and reopens with identical arrays", async () => {
  const dir = `${await Deno.makeTempDir()}/library`;
  const lib = await SkillLibrary.open(dir, { create: true });
  const added = [
    await skill(config, 1, { task: "antonym", k: 5, seed: 0, demos: [3, 9, 4, 1, 7] }),
    await skill(config, 2, { task: "antonym", k: 5, seed: 1, demos: [2, 8, 0, 6, 5] }),
    await skill(config, 3, { task: "en→fr (capitals)", k: 2, seed: 0, demos: [11, 12] }, {
      logits: false,
    }),
    await skill(config, 4, { task: "antonym", k: 0 }),
  ];
  const entries: SkillEntry[] = [];
  for (const s of added) entries.push(await lib.add(s.state, s.meta));
  entries.push(await lib.add(added[0].state, added[0].meta)); // the same skill again: new id
  const ids = ["antonym-k5-seed0", "antonym-k5-seed1", "en_fr_capitals_-k2-seed0", "antonym-k0"];
  assertEquals(entries.map((e) => e.id), [...ids, "antonym-k5-seed0-2"]);

  // index.json lists what was added.
  const index = JSON.parse(await Deno.readTextFile(`${dir}/index.json`));
  assertEquals(index.entries.length, 5);
  const sources = [...added, added[0]];
  index.entries.forEach((e: Record<string, unknown>, i: number) => {
    const { meta } = sources[i];
    assertEquals(e, {
      id: entries[i].id,
      folder: `states/${entries[i].id}`,
      task: meta.extra!.task,
      k: meta.extra!.k,
      seed: meta.extra!.seed ?? null,
      model: "tiny-random",
      configHash: meta.configHash,
      shape: { layers: 2, dInner: 32, convKernel: 3, stateSize: 5, vocab: 48 },
      created: meta.created,
    });
  });

  // NumPy loads every .npy the index points at, with the right dtypes, shapes and values.
  const out = await runNumpy(
    `import json, os, sys, numpy as np
root = sys.argv[1]
index = json.load(open(os.path.join(root, "index.json")))
out = {}
for e in index["entries"]:
    folder = os.path.join(root, e["folder"])
    arrays = {}
    for name in sorted(os.listdir(folder)):
        if name.endswith(".npy"):
            a = np.load(os.path.join(folder, name))
            arrays[name[:-4]] = [str(a.dtype), list(a.shape), a.astype(np.float64).ravel().tolist()]
    meta = json.load(open(os.path.join(folder, "meta.json")))
    out[e["id"]] = {"arrays": arrays, "extra": meta["extra"]}
print(json.dumps(out))`,
    [dir],
  );
  const got = JSON.parse(out);
  assertEquals(Object.keys(got), entries.map((e) => e.id));
  entries.forEach((e, i) => {
    const { state, meta } = sources[i];
    const arrays = got[e.id].arrays;
    assertEquals(
      Object.keys(arrays),
      state.logits ? ["conv", "delta_sum", "logits", "ssm"] : [
        "conv",
        "delta_sum",
        "ssm",
      ],
    );
    assertEquals(arrays.conv.slice(0, 2), ["float32", [2, 32, 3]]);
    assertEquals(arrays.ssm.slice(0, 2), ["float32", [2, 32, 5]]);
    assertEquals(arrays.delta_sum.slice(0, 2), ["float32", [2, 32]]);
    const files = { conv: "conv", ssm: "ssm", deltaSum: "delta_sum", logits: "logits" } as const;
    for (const [name, file] of Object.entries(files) as [keyof typeof files, string][]) {
      if (state[name] === undefined) continue;
      assertEquals(Float32Array.from(arrays[file][2]), state[name], `${e.id} ${name}`);
    }
    if (state.logits) assertEquals(arrays.logits.slice(0, 2), ["float32", [48]]);
    assertEquals(got[e.id].extra, meta.extra);
  });

  // Reopened, it lists and loads the same.
  const again = await SkillLibrary.open(dir, { config });
  assertEquals(again.list(), lib.list());
  assertEquals(again.list({ task: "antonym", k: 5 }).map((e) => e.id), [
    ids[0],
    ids[1],
    ids[0] + "-2",
  ]);
  assertEquals(again.list({ seed: 0 }).map((e) => e.id), [ids[0], ids[2], ids[0] + "-2"]);
  for (const [i, e] of entries.entries()) {
    const loaded = await again.load(e.id);
    assertEquals(loaded.conv, sources[i].state.conv);
    assertEquals(loaded.ssm, sources[i].state.ssm);
    assertEquals(loaded.deltaSum, sources[i].state.deltaSum);
    assertEquals(loaded.logits, sources[i].state.logits);
    assertEquals(loaded.meta, sources[i].meta);
  }
  const labeled = await again.loadAll({ k: 5 });
  assertEquals(labeled.map((s) => [s.id, s.label]), [
    [ids[0], "antonym"],
    [ids[1], "antonym"],
    [ids[0] + "-2", "antonym"],
  ]);
  assertEquals(labeled[1].state.ssm, added[1].state.ssm);
  assertEquals((await again.loadAll()).length, 5);
});

Deno.test("a skill library names a missing or malformed index.json and missing state files", async () => {
  const root = await Deno.makeTempDir();
  const dir = `${root}/lib`;
  await assertRejects(() => SkillLibrary.open(dir), NotFoundError, "no such folder");
  await Deno.mkdir(dir);
  await assertRejects(() => SkillLibrary.open(dir), NotFoundError, "it has no index.json");
  await Deno.writeTextFile(`${root}/file`, "");
  await assertRejects(() => SkillLibrary.open(`${root}/file`), SoupError, "not a folder");

  const lib = await SkillLibrary.open(dir, { create: true });
  const a = await skill(config, 1, { task: "antonym", k: 3, seed: 0 });
  await lib.add(a.state, a.meta, { id: "a" });
  await lib.add(a.state, a.meta, { id: "b" });
  const good = await Deno.readTextFile(`${dir}/index.json`);

  const broken = async (text: string, includes: string) => {
    await Deno.writeTextFile(`${dir}/index.json`, text);
    const err = await assertRejects(() => SkillLibrary.open(dir), FormatError, includes);
    assert(err.message.startsWith(`Cannot read "${dir}/index.json": `), err.message);
  };
  await broken("{", "malformed JSON");
  await broken("[]", "expected a JSON object");
  const json = JSON.parse(good);
  await broken(JSON.stringify({ ...json, entries: {} }), `"entries" must be an array`);
  await broken(JSON.stringify({ ...json, version: 2 }), `"version" 2 is not supported`);
  const edit = (i: number, change: Record<string, unknown>) =>
    JSON.stringify({
      ...json,
      entries: json.entries.map((e: object, j: number) => (i === j ? { ...e, ...change } : e)),
    });
  await broken(edit(1, { k: "3" }), `entry 1: "k" must be an integer >= 0, got "3"`);
  await broken(edit(1, { folder: "../../etc" }), `is not a path inside the library`);
  await broken(edit(1, { id: "A" }), `entry 1 repeats the id "A" of entry 0`);
  await broken(edit(1, { id: "a/b" }), `id "a/b" is not a safe skill id`);
  await broken(
    edit(1, { configHash: "0123" }),
    `entry 1 ("b") is of model "tiny-random" (config 0123`,
  );

  await Deno.writeTextFile(`${dir}/index.json`, good);
  const reopened = await SkillLibrary.open(dir);
  await assertRejects(() => reopened.load("c"), NotFoundError, `no such id (it holds "a", "b")`);
  await Deno.remove(`${dir}/states/b/ssm.npy`);
  await assertRejects(() => reopened.load("b"), NotFoundError, `${dir}/states/b/ssm.npy`);
  await Deno.remove(`${dir}/states/b`, { recursive: true });
  const err = await assertRejects(() => reopened.loadAll(), NotFoundError, `index.json lists`);
  assertEquals(
    err.message,
    `Cannot load "b" from skill library "${dir}": index.json lists its folder "states/b" but ` +
      `"${dir}/states/b" is missing`,
  );
  // A state folder whose meta.json contradicts the index.
  const meta = JSON.parse(await Deno.readTextFile(`${dir}/states/a/meta.json`));
  await Deno.writeTextFile(
    `${dir}/states/a/meta.json`,
    JSON.stringify({ ...meta, configHash: "ffff" }),
  );
  await assertRejects(() => reopened.load("a"), FormatError, "index.json says config");
});

Deno.test("a skill library refuses states of another model or shape, naming both", async () => {
  const dir = await Deno.makeTempDir();
  const lib = await SkillLibrary.open(dir, { create: true });
  const a = await skill(config, 1, { task: "antonym", k: 3, seed: 0 });
  await lib.add(a.state, a.meta);
  const hash = await configHash(config);

  const wider = tinyMambaConfig({ stateSize: 8, convKernel: 3, vocabSize: 48 });
  const b = await skill(wider, 2, { task: "antonym", k: 3, seed: 1 }, { model: "other" });
  const err = await assertRejects(() => lib.add(b.state, b.meta), SoupError, "Cannot add a state");
  assertEquals(
    err.message,
    `Cannot add a state to skill library "${dir}": it comes from model "other" (config ${b.meta.configHash}, ` +
      `shape (layers 2, d_in 32, K 3, n 8, vocab 48)), but the library holds states of model ` +
      `"tiny-random" (config ${hash}, shape (layers 2, d_in 32, K 3, n 5, vocab 48)), e.g. "antonym-k3-seed0"`,
  );
  // Same shape, another config (a different epsilon): refused by the config hash.
  const eps = tinyMambaConfig({
    stateSize: 5,
    convKernel: 3,
    vocabSize: 48,
    layerNormEpsilon: 1e-6,
  });
  const c = await skill(eps, 3, { task: "antonym", k: 3, seed: 2 });
  await assertRejects(() => lib.add(c.state, c.meta), SoupError, `config ${c.meta.configHash}`);
  // With a config given to open: an empty library refuses other states, a full one other configs.
  const fresh = await SkillLibrary.open(await Deno.makeTempDir(), { create: true, config: wider });
  await assertRejects(
    () => fresh.add(a.state, a.meta),
    SoupError,
    `the library was opened for config ${b.meta.configHash}`,
  );
  await assertRejects(
    () => SkillLibrary.open(dir, { config: wider }),
    SoupError,
    `Cannot open skill library "${dir}" for config ${b.meta.configHash}`,
  );
  // A state that does not match its meta.shape, and plain arrays.
  await assertRejects(
    () => lib.add(b.state, a.meta),
    SoupError,
    "it holds 512 ssm values, but shape (2, 32, 5) needs 320",
  );
  await assertRejects(
    () => lib.add({ ...a.state.arrays() } as unknown as State, a.meta),
    SoupError,
    "it is not a State",
  );
  assertEquals(lib.list().length, 1);
  assertEquals((await tree(dir)).filter((p) => p.split("/").length === 3), [
    "/states/antonym-k3-seed0",
  ]);
});

Deno.test("a skill library refuses duplicate and unsafe ids and skill metadata it cannot index", async () => {
  const dir = await Deno.makeTempDir();
  const lib = await SkillLibrary.open(dir, { create: true });
  const a = await skill(config, 1, { task: "antonym", k: 3, seed: 0 });
  await lib.add(a.state, a.meta, { id: "Antonym" });
  await assertRejects(
    () => lib.add(a.state, a.meta, { id: "Antonym" }),
    SoupError,
    `id "Antonym" is taken`,
  );
  await assertRejects(
    () => lib.add(a.state, a.meta, { id: "antonym" }),
    SoupError,
    `the id "antonym" is taken (by "Antonym")`,
  );
  for (const id of ["a/b", "..", ".hidden", "", "x".repeat(129), "ends."]) {
    await assertRejects(
      () => lib.add(a.state, a.meta, { id }),
      SoupError,
      "is not a safe folder name",
    );
  }
  await assertRejects(
    () => lib.add(a.state, a.meta, { id: "a/b" }),
    SoupError,
    `try "a_b"`,
  );
  const without = (extra: Record<string, unknown>) => ({ ...a.meta, extra });
  await assertRejects(() => lib.add(a.state, without({ k: 3 })), SoupError, "meta.extra.task");
  await assertRejects(
    () => lib.add(a.state, without({ task: "x", k: -1 })),
    SoupError,
    "meta.extra.k",
  );
  await assertRejects(
    () => lib.add(a.state, without({ task: "x", k: 1, seed: "0" })),
    SoupError,
    "meta.extra.seed",
  );
  const circular: Record<string, unknown> = { task: "x", k: 1 };
  circular.self = circular;
  await assertRejects(
    () => lib.add(a.state, without(circular)),
    SoupError,
    "cannot be written as JSON",
  );
  assertEquals(lib.list().map((e) => e.id), ["Antonym"]);
  assertEquals(await tree(dir), [
    "/.lock",
    "/index.json",
    "/states",
    "/states/Antonym",
    ...[
      "conv.npy",
      "delta_sum.npy",
      "logits.npy",
      "meta.json",
      "ssm.npy",
    ].map((f) => `/states/Antonym/${f}`),
  ]);
});

Deno.test("a failure in the middle of add leaves neither a state folder nor a changed index", async () => {
  const dir = await Deno.makeTempDir();
  const lib = await SkillLibrary.open(dir, { create: true });
  const a = await skill(config, 1, { task: "antonym", k: 3, seed: 0 });
  const b = await skill(config, 2, { task: "antonym", k: 3, seed: 1 });
  await lib.add(a.state, a.meta);
  const indexBefore = await Deno.readTextFile(`${dir}/index.json`);
  const treeBefore = await tree(dir);
  let seen: string[] = [];
  libraryHooks.afterStateWritten = async (folder) => {
    // The state folder is complete when the crash comes, and index.json does not list it yet.
    seen = [...Deno.readDirSync(folder)].map((e) => e.name).sort();
    assertEquals(await Deno.readTextFile(`${dir}/index.json`), indexBefore);
    throw new Error("simulated crash before index.json is rewritten");
  };
  try {
    await assertRejects(() => lib.add(b.state, b.meta), Error, "simulated crash");
  } finally {
    libraryHooks.afterStateWritten = undefined;
  }
  assertEquals(seen, ["conv.npy", "delta_sum.npy", "logits.npy", "meta.json", "ssm.npy"]);
  assertEquals(await Deno.readTextFile(`${dir}/index.json`), indexBefore);
  assertEquals(await tree(dir), treeBefore);
  assertEquals(lib.list().map((e) => e.id), ["antonym-k3-seed0"]);
  assertEquals((await SkillLibrary.open(dir)).list().length, 1);

  // A leftover folder of an add that died before the index was written is replaced.
  await saveState(`${dir}/states/antonym-k3-seed1`, a.state.withMeta(a.meta));
  const entry = await lib.add(b.state, b.meta);
  assertEquals(entry.id, "antonym-k3-seed1");
  assertEquals((await lib.load(entry.id)).ssm, b.state.ssm);
  assert(!(await tree(dir)).some((p) => p.includes(".tmp") || p.includes(".old-")));
});

Deno.test("concurrent adds through two library objects keep every entry", async () => {
  const dir = await Deno.makeTempDir();
  const one = await SkillLibrary.open(dir, { create: true });
  const two = await SkillLibrary.open(dir);
  const states = await Promise.all(
    [0, 1, 2, 3, 4, 5].map((i) =>
      skill(config, i, { task: i % 2 ? "odd" : "even", k: 1, seed: i })
    ),
  );
  await Promise.all(states.map((s, i) => (i % 2 ? one : two).add(s.state, s.meta)));
  const ids = (await SkillLibrary.open(dir)).list().map((e) => e.id).sort();
  assertEquals(ids, states.map((s) => `${s.meta.extra!.task}-k1-seed${s.meta.extra!.seed}`).sort());
});

Deno.test("a library is started only in a new or empty folder, never in a folder of the user's", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/notes.txt`, "mine");
  await Deno.mkdir(`${dir}/photos`);
  await assertRejects(
    () => SkillLibrary.open(dir, { create: true }),
    SoupError,
    "the folder holds notes.txt, photos but no index.json",
  );
  assertEquals([...Deno.readDirSync(dir)].map((e) => e.name).sort(), ["notes.txt", "photos"]);
  assertEquals(await Deno.readTextFile(`${dir}/notes.txt`), "mine");
  const empty = await Deno.makeTempDir();
  const lib = await SkillLibrary.open(empty, { create: true });
  assertEquals(lib.list().length, 0);
  assertEquals([...Deno.readDirSync(empty)].map((e) => e.name), ["index.json"]);
});
