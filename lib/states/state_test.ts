import { assert, assertEquals, assertRejects, assertThrows } from "../../tests/_assert.ts";
import { inTempDir } from "../../tests/_temp.ts";
import { openEngine, ReferenceEngine } from "../engine/mod.ts";
import {
  configHash,
  tinyMambaConfig,
  weightsFingerprint,
  writeRandomCheckpoint,
} from "../model/mod.ts";
import { mixMean } from "../mixing/mod.ts";
import { retrieve, stateVector } from "../retrieval/mod.ts";
import { SoupError } from "../util/errors.ts";
import { State, stateShape } from "./state.ts";
import { loadState, saveState } from "./state_dir.ts";
import { StateStore } from "./store.ts";

const config = tinyMambaConfig({ numHiddenLayers: 3, stateSize: 5, convKernel: 3 });

Deno.test("engines return States that know their shape, checkpoint and layers, with views", async () => {
  await inTempDir("soup-state-", async (dir) => {
    await writeRandomCheckpoint(`${dir}/m`, config, { seed: 1 });
    const identity = {
      configHash: await configHash(config),
      weights: await weightsFingerprint(`${dir}/m`),
    };
    for (const device of ["cpu", "reference"] as const) {
      const engine = await openEngine(`${dir}/m`, { device });
      const { state } = await engine.run([1, 2, 3]);
      await engine.close();
      assert(state instanceof State, device);
      assertEquals(state.shape, stateShape(config));
      assertEquals(state.identity?.configHash, identity.configHash);
      assertEquals(state.identity?.weights, identity.weights);
      assertEquals(state.layerIds, [0, 1, 2]);
      assert(state.complete);
      // Layer 2's views are rows of the flat arrays (C order), sharing their memory.
      const { intermediateSize: d, stateSize: n, convKernel: k } = config;
      const v = state.layer(2);
      assertEquals(v.ssm, state.ssm.slice(2 * d * n, 3 * d * n));
      assertEquals(v.conv, state.conv.slice(2 * d * k, 3 * d * k));
      assertEquals(v.deltaSum, state.deltaSum.slice(2 * d, 3 * d));
      v.ssm[0] = 42;
      assertEquals(state.ssm[2 * d * n], 42, "a view, not a copy");
      const part = state.select([2, 0]);
      assertEquals(part.layerIds, [2, 0]);
      assertEquals(part.layer(0).ssm, state.layer(0).ssm);
      assert(!part.complete);
      assertThrows(() => part.layer(1), SoupError, "holds layers 2, 0 of 3, not layer 1");
    }
  });
});

Deno.test("a state of other weights of the same shape, or of some layers, cannot start a run", async () => {
  await inTempDir("soup-state-", async (dir) => {
    await writeRandomCheckpoint(`${dir}/a`, config, { seed: 1 });
    await writeRandomCheckpoint(`${dir}/b`, config, { seed: 2 });
    const a = await openEngine(`${dir}/a`, { device: "cpu" });
    const b = await ReferenceEngine.load(`${dir}/b`);
    const { state } = await a.run([1, 2]);
    await assertRejects(() => b.run([3], { state }), SoupError, "belongs to");
    const other = await openEngine(`${dir}/b`, { device: "cpu" });
    await assertRejects(() => other.run([3], { state }), SoupError, "belongs to");
    await assertRejects(() => a.run([3], { state: state.select([1]) }), SoupError, "every layer");
    // The same arrays without the identity run: the check is the State's.
    const anonymous = new State(state.shape, state.arrays());
    const plain = await other.run([3], { state: anonymous });
    assertEquals(plain.logits.length, config.vocabSize);
    await assertRejects(
      () => other.run([3], { state: state.arrays() as unknown as State }),
      SoupError,
      "not a State",
    );
    await Promise.all([a.close(), other.close()]);
    // Mixing states of two checkpoints is refused; of one, the mix is a State of it.
    const { state: s2 } = await b.run([1, 2]);
    assertThrows(() => mixMean([state, s2]), SoupError, "belongs to another model");
    const mixed = mixMean([state, state]);
    assert(mixed instanceof State);
    assertEquals(mixed.identity, state.identity);
  });
});

Deno.test("loadState and the store return States; retrieval reads the layer a state holds", async () => {
  await inTempDir("soup-state-", async (dir) => {
    await writeRandomCheckpoint(`${dir}/m`, config, { seed: 3 });
    const engine = await ReferenceEngine.load(`${dir}/m`);
    const weights = await weightsFingerprint(`${dir}/m`);
    const runs = await engine.runBatch([[1, 2, 3], [4, 5], [6]]);
    const meta = {
      model: `${dir}/m`,
      configHash: await configHash(config),
      weightsFingerprint: weights,
      shape: stateShape(config),
      tokenIds: [1, 2, 3],
      source: null,
      engine: engine.name,
      created: new Date().toISOString(),
    };
    await saveState(`${dir}/s`, runs[0].state.withMeta(meta));
    const loaded = await loadState(`${dir}/s`);
    assert(loaded instanceof State);
    assertEquals(loaded.identity?.weights, weights);
    assertEquals(loaded.layer(1).ssm, runs[0].state.layer(1).ssm);
    // A state of some layers never becomes a state folder (those hold every layer).
    await assertRejects(
      () => saveState(`${dir}/t`, runs[0].state.select([1]).withMeta(meta)),
      SoupError,
      "holds layers 1 of 3",
    );

    const store = await StateStore.open(`${dir}/store`, { weights, engine: "reference", config });
    const jobs = [{ ids: [1, 2, 3] }, { ids: [4, 5] }, { ids: [6] }];
    const one = await store.extract(engine, jobs, { layers: [1] });
    assertEquals(one[0].layerIds, [1]);
    assertEquals(one[0].identity?.weights, weights);
    assertEquals(one[0].layer(1).ssm, runs[0].state.layer(1).ssm);
    // Retrieval by model layer 1 on one-layer States gives what the full arrays give.
    const candidates = one.slice(1).map((state, i) => ({ state, label: `c${i}` }));
    const typed = retrieve([one[0]], candidates, { layer: 1, k: 2 });
    const plain = retrieve(
      [runs[0].state],
      runs.slice(1).map((r, i) => ({ state: r.state, label: `c${i}` })),
      { layer: 1, k: 2 },
    );
    assertEquals(typed, plain);
    assertEquals(stateVector(one[0], { layer: 1 }), runs[0].state.layer(1).ssm);
    assertThrows(() => stateVector(one[0], { layer: 0 }), SoupError, "not layer 0");
  });
});

Deno.test("States of one model: every known fingerprint agrees and the shapes match", () => {
  const shape = { layers: 1, dInner: 2, convKernel: 1, stateSize: 3, vocab: 4 };
  const make = (identity?: { configHash: string; weights?: string }, s = shape) =>
    new State(s, {
      conv: new Float32Array(s.dInner * s.convKernel).fill(1),
      ssm: Float32Array.from({ length: s.dInner * s.stateSize }, (_, i) => i + 1),
      deltaSum: new Float32Array(s.dInner),
    }, { identity });
  const x = make({ configHash: "h" }), y = make({ configHash: "h", weights: "w1" });
  const z = make({ configHash: "h", weights: "w2" });
  // y and z disagree, though each agrees with x, which knows no weights.
  assertThrows(() => mixMean([x, y, z]), SoupError, "state 2 belongs to another model");
  assertThrows(() => mixMean([y, z]), SoupError, "belongs to another model");
  assertEquals(mixMean([x, y]).identity, { configHash: "h", weights: "w1" });
  assertEquals(mixMean([make(), y]).identity, undefined, "one did not know its model");
  // A State of other dims is another model for retrieval too, known identity or not.
  const wide = make(undefined, { ...shape, dInner: 4 });
  assertThrows(
    () => retrieve([make()], [{ state: wide, label: "w" }], { layer: 0 }),
    SoupError,
    `query 0 is of shape (1, 2, 1, 3) (layers, d_in, K, n), candidate 0 ("w") of (1, 4, 1, 3)`,
  );
});
