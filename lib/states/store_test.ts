import { assert, assertEquals, assertRejects } from "../../tests/_assert.ts";
import { inTempDir } from "../../tests/_temp.ts";
import { runNumpy } from "../../tests/_python.ts";
import { ReferenceEngine } from "../engine/mod.ts";
import { tinyMambaConfig, weightsFingerprint, writeRandomCheckpoint } from "../model/mod.ts";
import { SoupError } from "../util/errors.ts";
import { type BatchRunner, ENGINE_NUMERICS, ENGINE_SOURCES, StateStore } from "./store.ts";
import { sha256Hex } from "../util/sha256.ts";
import { WRITER_TAG } from "../util/output.ts";

const config = tinyMambaConfig({ numHiddenLayers: 3, stateSize: 5, convKernel: 3 });

/** The reference engine, counting what it is asked to compute. */
async function setup(dir: string) {
  await writeRandomCheckpoint(`${dir}/m`, config, { seed: 3 });
  const engine = await ReferenceEngine.load(`${dir}/m`);
  const batches: number[][] = [];
  const counting: BatchRunner = {
    runBatch(sequences, options) {
      batches.push(sequences.map((s) => s.length));
      return engine.runBatch(sequences, options);
    },
  };
  const identity = { weights: await weightsFingerprint(`${dir}/m`), engine: "reference", config };
  const store = await StateStore.open(`${dir}/store`, identity);
  return { engine, counting, batches, store, identity };
}

/** Layer `l` of a full state's arrays. */
function layerOf(a: Float32Array, l: number, size: number): Float32Array {
  return a.subarray(l * size, (l + 1) * size);
}

Deno.test("the store keys states by weights, engine, ids and start state", async () => {
  await inTempDir("soup-store-", async (dir) => {
    const { store, identity } = await setup(dir);
    const k = await store.key({ ids: [1, 2, 3] });
    assertEquals(k, await store.key({ ids: [1, 2, 3] }));
    assert(/^[0-9a-f]{32}$/.test(k), k);
    const others = [
      await store.key({ ids: [1, 2] }),
      await store.key({ ids: [1, 2, 3], from: k }),
      await (await StateStore.open(store.root, { ...identity, weights: "other" })).key({
        ids: [1, 2, 3],
      }),
      await (await StateStore.open(store.root, { ...identity, engine: "onnx-cpu" })).key({
        ids: [1, 2, 3],
      }),
    ];
    assertEquals(new Set([k, ...others]).size, 5);
  });
});

Deno.test("extract computes only what is missing, by length, and stores only the layers asked", async () => {
  await inTempDir("soup-store-", async (dir) => {
    const { engine, counting, batches, store } = await setup(dir);
    const { intermediateSize: dIn, stateSize: n, convKernel: k } = config;
    const jobs = [[5, 6], [1, 2, 3, 4, 5], [7], [8, 9, 10], [5, 6]].map((ids) => ({ ids }));
    const got = await store.extract(counting, jobs, { layers: [2, 0], batchSize: 2, logits: true });
    // Four distinct jobs, longest first, two per call; the repeated job is computed once.
    assertEquals(batches, [[5, 3], [2, 1]]);
    for (const [i, job] of jobs.entries()) {
      const full = await engine.run(job.ids);
      for (const [j, l] of [2, 0].entries()) {
        assertEquals(layerOf(got[i].ssm, j, dIn * n), layerOf(full.state.ssm, l, dIn * n));
        assertEquals(layerOf(got[i].conv, j, dIn * k), layerOf(full.state.conv, l, dIn * k));
        assertEquals(layerOf(got[i].deltaSum, j, dIn), layerOf(full.state.deltaSum, l, dIn));
      }
      assertEquals(got[i].logits, full.logits);
    }
    // Only the layers asked for are stored: layer 1 was never written.
    const key = await store.key(jobs[1]);
    const folder = `${store.root}/${key.slice(0, 2)}/${key}`;
    const files = [...Deno.readDirSync(folder)].map((e) => e.name).sort();
    assertEquals(files, ["conv.npy", "delta_sum.npy", "logits.npy", "meta.json", "ssm.npy"]);
    assertEquals(JSON.parse(await Deno.readTextFile(`${folder}/meta.json`)).layers, [0, 2]);
    assertEquals(await store.has(key, [0, 2]), true);
    assertEquals(await store.has(key), false);
    await assertRejects(() => store.get(key, [1]), SoupError, "no layer 1");
    // Asked again: nothing computed. Asked for every layer: computed once more, then complete.
    batches.length = 0;
    await store.extract(counting, jobs, { layers: [0] });
    assertEquals(batches, []);
    const all = await store.extract(counting, jobs.slice(1, 2));
    assertEquals(batches, [[5]]);
    assertEquals(all[0].ssm, (await engine.run(jobs[1].ids)).state.ssm);
    assertEquals(await store.has(key), true);
    // NumPy reads a stored layer as it is.
    const out = await runNumpy(
      "import sys, json, numpy as np; a = np.load(sys.argv[1]); " +
        "print(json.dumps([str(a.dtype), list(a.shape), float(a[1].astype(np.float64).sum())]))",
      [`${folder}/ssm.npy`],
    );
    const [dtype, shape, total] = JSON.parse(out);
    const layer1 = layerOf((await engine.run(jobs[1].ids)).state.ssm, 1, dIn * n);
    assertEquals([dtype, shape], ["float32", [3, dIn, n]]);
    assert(Math.abs(total - layer1.reduce((a, b) => a + b, 0)) < 1e-4, String(total));
  });
});

Deno.test("a job read from a stored state equals reading both chunks in one pass", async () => {
  await inTempDir("soup-store-", async (dir) => {
    const { engine, store } = await setup(dir);
    const x1 = { ids: [3, 1, 4, 1, 5] }, x2 = [9, 2, 6];
    await store.extract(engine, [x1]);
    const [both] = await store.extract(engine, [{ ids: x2, from: await store.key(x1) }], {
      logits: true,
    });
    const one = await engine.run([...x1.ids, ...x2]);
    const close = (a: Float32Array, b: Float32Array) =>
      a.every((x, i) => Math.abs(x - b[i]) <= 1e-6 * (1 + Math.abs(b[i])));
    assert(close(both.ssm, one.state.ssm), "ssm");
    assert(close(both.conv, one.state.conv), "conv");
    assert(close(both.logits!, one.logits), "logits");
  });
});

Deno.test("a change to the code that computes states is a decision about ENGINE_NUMERICS", async () => {
  const root = new URL("../", import.meta.url).pathname;
  const files: string[] = [];
  for (const dir of ["engine", "onnx", "scan", "model"]) {
    for (const e of Deno.readDirSync(`${root}${dir}`)) {
      if (e.isFile && e.name.endsWith(".ts") && !e.name.endsWith("_test.ts")) {
        files.push(`${dir}/${e.name}`);
      }
    }
  }
  files.sort();
  const text = files.map((f) => `${f}\n${Deno.readTextFileSync(`${root}${f}`)}`).join("\n");
  const hash = (await sha256Hex(new TextEncoder().encode(text))).slice(0, 16);
  assert(
    hash === ENGINE_SOURCES,
    `lib/engine, lib/onnx, lib/scan or lib/model changed (sources ${hash}). If the states they ` +
      `compute change, bump ENGINE_NUMERICS (now ${ENGINE_NUMERICS}) in lib/states/store.ts so ` +
      `that stored states are recomputed; then set ENGINE_SOURCES there to "${hash}"`,
  );
});

Deno.test("opening the store cleans what a writer killed during a put left", async () => {
  await inTempDir("soup-store-", async (dir) => {
    const { engine, store, identity } = await setup(dir);
    const [a] = await store.extract(engine, [{ ids: [1, 2] }]);
    const key = await store.key({ ids: [1, 2] });
    const shard = `${store.root}/${key.slice(0, 2)}`;
    // A process that ended between writing and swapping, and one that ended between a swap's
    // two renames of another key (its entry moved aside, the new one not yet in).
    const child = new Deno.Command("true").spawn();
    await child.status;
    Deno.mkdirSync(`${shard}/${key}.tmp-${child.pid}-${WRITER_TAG}-0a0b0c0d`);
    const other = await store.key({ ids: [3] });
    await store.extract(engine, [{ ids: [3] }]);
    const otherDir = `${store.root}/${other.slice(0, 2)}/${other}`;
    Deno.renameSync(otherDir, `${otherDir}.old-${child.pid}-${WRITER_TAG}-0a0b0c0d`);
    const reopened = await StateStore.open(store.root, identity);
    assertEquals(
      [...Deno.readDirSync(shard)].map((e) => e.name).filter((n) => n.includes(".")),
      [],
    );
    assert(await reopened.has(other), "the entry moved aside is back");
    assertEquals((await reopened.get(key)).ssm, a.ssm);
  });
});

Deno.test("what extract returns for a state it computed is what the store reads back", async () => {
  await inTempDir("soup-store-", async (dir) => {
    const { engine, store } = await setup(dir);
    const jobs = [{ ids: [1, 2, 3] }, { ids: [4] }];
    for (const options of [{ layers: [2, 0] }, { logits: true }]) {
      const fresh = await store.extract(engine, jobs.map((j) => ({ ids: [...j.ids, 9] })), options);
      for (const [i, job] of jobs.entries()) {
        const back = await store.get(await store.key({ ids: [...job.ids, 9] }), options.layers);
        assertEquals(fresh[i].layerIds, back.layerIds);
        assertEquals(fresh[i].identity, back.identity);
        for (const f of ["conv", "ssm", "deltaSum", "logits"] as const) {
          assertEquals(fresh[i][f], back[f], f);
        }
      }
      await Deno.remove(store.root, { recursive: true }); // the next options compute afresh
    }
  });
});

Deno.test("every entry carries the sha256 of its arrays, as NumPy and hashlib read them", async () => {
  await inTempDir("soup-store-", async (dir) => {
    const { engine, store } = await setup(dir);
    await store.extract(engine, [{ ids: [1, 2, 3] }], { layers: [2, 0], logits: true });
    const key = await store.key({ ids: [1, 2, 3] });
    const folder = `${store.root}/${key.slice(0, 2)}/${key}`;
    const out = await runNumpy(
      `import hashlib, json, numpy as np, sys
d = sys.argv[1]
sums = {f: hashlib.sha256(np.ascontiguousarray(np.load(d + "/" + f), dtype="<f4").tobytes()).hexdigest()
        for f in ["conv.npy", "ssm.npy", "delta_sum.npy", "logits.npy"]}
print(json.dumps(sums == json.load(open(d + "/meta.json"))["sha256"]))`,
      [folder],
    );
    assertEquals(out.trim(), "true");
  });
});

Deno.test("a corrupt entry is never used: a read refuses it, extract computes it again and says so", async () => {
  await inTempDir("soup-store-", async (dir) => {
    const { engine, counting, batches, store } = await setup(dir);
    const job = { ids: [4, 5, 6] };
    const [good] = await store.extract(engine, [job]);
    const key = await store.key(job);
    const folder = `${store.root}/${key.slice(0, 2)}/${key}`;
    const breakIt: Record<string, () => void> = {
      "a flipped byte": () => {
        const bytes = Deno.readFileSync(`${folder}/ssm.npy`);
        bytes[bytes.length - 3] ^= 0x40;
        Deno.writeFileSync(`${folder}/ssm.npy`, bytes);
      },
      "a file cut short": () => {
        const bytes = Deno.readFileSync(`${folder}/conv.npy`);
        Deno.writeFileSync(`${folder}/conv.npy`, bytes.subarray(0, bytes.length - 8));
      },
      "no sums (an older version's entry)": () => {
        const meta = JSON.parse(Deno.readTextFileSync(`${folder}/meta.json`));
        delete meta.sha256;
        Deno.writeTextFileSync(`${folder}/meta.json`, JSON.stringify(meta));
      },
      "a meta.json that is not JSON": () => Deno.writeTextFileSync(`${folder}/meta.json`, "{"),
    };
    for (const [what, damage] of Object.entries(breakIt)) {
      damage();
      if (what !== "a meta.json that is not JSON") {
        await assertRejects(() => store.get(key), SoupError, "is corrupt");
      }
      const lines: string[] = [];
      batches.length = 0;
      const [again] = await store.extract(counting, [job], { log: (l) => lines.push(l) });
      assertEquals(batches, [[3]], `${what}: computed once more`);
      assertEquals(lines.length, 1, `${what}: one line (${lines.join(" | ")})`);
      assert(lines[0].includes(folder) && lines[0].includes("again"), lines[0]);
      assertEquals(again.ssm, good.ssm, what);
      assertEquals((await store.get(key)).conv, good.conv, `${what}: the entry is whole again`);
    }
  });
});

Deno.test("two processes writing the same entries at once leave every entry whole", async () => {
  await inTempDir("soup-store-", async (dir) => {
    const { engine, store, identity } = await setup(dir);
    // Each process extracts the same 24 states into one store, asking for other layers (so each
    // write of a key replaces the other's with the union), in another order.
    const child = `${dir}/child.ts`;
    const engineModule = new URL("../engine/mod.ts", import.meta.url).href;
    const storeModule = new URL("./store.ts", import.meta.url).href;
    await Deno.writeTextFile(
      child,
      `import { ReferenceEngine } from ${JSON.stringify(engineModule)};
import { StateStore } from ${JSON.stringify(storeModule)};
const [dir, which] = Deno.args;
const identity = JSON.parse(Deno.readTextFileSync(dir + "/identity.json"));
const engine = await ReferenceEngine.load(dir + "/m");
const store = await StateStore.open(dir + "/store", identity);
const jobs = Array.from({ length: 24 }, (_, i) => ({ ids: [i + 1, (i * 7) % 11 + 1, 3] }));
for (let round = 0; round < 3; round++) {
  const layers = which === "a" ? [round % 3] : [2, (round + 1) % 3];
  await store.extract(engine, which === "a" ? jobs : [...jobs].reverse(), { layers, batchSize: 1 });
}
`,
    );
    await Deno.writeTextFile(`${dir}/identity.json`, JSON.stringify(identity));
    const run = (which: string) =>
      new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", child, dir, which],
        stdout: "piped",
        stderr: "piped",
      }).output();
    const outs = await Promise.all([run("a"), run("b")]);
    for (const out of outs) assert(out.success, new TextDecoder().decode(out.stderr));
    let entries = 0;
    for (let i = 0; i < 24; i++) {
      const ids = [i + 1, (i * 7) % 11 + 1, 3];
      const key = await store.key({ ids });
      const full = await engine.run(ids);
      const stored = await store.get(key, [0, 1, 2]); // every layer, its sums checked
      assertEquals(stored.ssm, full.state.ssm, `entry ${i}`);
      entries++;
    }
    assertEquals(entries, 24);
    const leftovers = [...Deno.readDirSync(store.root)].flatMap((s) =>
      [...Deno.readDirSync(`${store.root}/${s.name}`)].map((e) => e.name)
    ).filter((n) => n.includes("."));
    assertEquals(leftovers, [], "no temporary or moved-aside folder is left");
  });
});
