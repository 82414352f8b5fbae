import { assert, assertEquals, assertRejects, assertThrows } from "../../tests/_assert.ts";
import { inTempDir } from "../../tests/_temp.ts";
import { storedStates } from "../../tests/_store.ts";
import { ReferenceEngine } from "../engine/mod.ts";
import { tinyMambaConfig, weightsFingerprint, writeRandomCheckpoint } from "../model/mod.ts";
import { type BatchRunner, StateStore } from "../states/store.ts";
import { SoupError } from "../util/errors.ts";
import { SkillIndex } from "./skill_index.ts";

const config = tinyMambaConfig({ numHiddenLayers: 3, stateSize: 4 });

Deno.test("a skill index labels store states: shared, computed once, only the layers asked", async () => {
  await inTempDir("soup-index-", async (dir) => {
    await writeRandomCheckpoint(`${dir}/m`, config, { seed: 5 });
    const engine = await ReferenceEngine.load(`${dir}/m`);
    let computed = 0;
    const counting: BatchRunner = {
      runBatch(sequences, options) {
        computed += sequences.length;
        return engine.runBatch(sequences, options);
      },
    };
    const store = await StateStore.open(`${dir}/states`, {
      weights: await weightsFingerprint(`${dir}/m`),
      engine: engine.name,
      config,
    });
    const specs = [
      { task: "a", k: 2, demos: [0, 1], ids: [1, 2, 3] },
      { task: "a", k: 2, demos: [2, 3], ids: [4, 5] },
      { task: "b", k: 2, ids: [6, 7, 8, 9] },
    ];
    const index = await SkillIndex.build(store, counting, specs, { layers: [1] });
    assertEquals(computed, 3);
    assertEquals(index.list().map((s) => s.id), ["a#0", "a#1", "b#0"]);
    assertEquals(index.list({ task: "a" }).map((s) => s.demos), [[0, 1], [2, 3]]);
    assertEquals(index.list().map((s) => s.tokens), [3, 2, 4]);
    assertEquals(storedStates(store.root).size, 3);
    for (const [i, s] of index.list().entries()) {
      assertEquals(s.key, await store.key({ ids: specs[i].ids }));
    }
    // Another index of the same tokens (another figure, another run) computes nothing.
    const again = await SkillIndex.build(store, counting, specs, { layers: [1] });
    assertEquals(computed, 3);
    assertEquals(again.state("b#0").ssm, index.state("b#0").ssm);
    // The state held is the layer asked, equal to that layer of the engine's whole state.
    const whole = await engine.run([6, 7, 8, 9]);
    assertEquals(index.state("b#0").layerIds, [1]);
    assertEquals(index.state("b#0").layer(1).ssm, whole.state.layer(1).ssm);
    // Retrieval by that layer: each skill's own tokens retrieve it first, with similarity 1.
    const queries = await Promise.all(specs.map(async (s) => (await engine.run(s.ids)).state));
    const hits = await index.retrieve(queries, { layer: 1, k: 3 });
    assertEquals(hits.map((h) => h[0].skill.id), ["a#0", "a#1", "b#0"]);
    for (const h of hits) assert(Math.abs(h[0].score - 1) < 1e-6, String(h[0].score));
    await assertRejects(() => index.retrieve(queries, { layer: 0 }), SoupError, "holds layers 1");
    assertThrows(() => index.state("c#0"), SoupError, `no skill "c#0"`);
  });
});
