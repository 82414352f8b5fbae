import { assert, assertEquals } from "../../tests/_assert.ts";
import { ExperimentContext } from "./context.ts";
import { tinyMambaConfig, writeRandomCheckpoint } from "../model/mod.ts";

Deno.test("ExperimentContext keys its cache on the weights, not only the architecture", async () => {
  const dir = await Deno.makeTempDir();
  const config = tinyMambaConfig({ vocabSize: 50280, numHiddenLayers: 1 });
  const open = async () => {
    const ctx = await ExperimentContext.open("t", { a: 1 }, {
      model: `${dir}/m`,
      cacheDir: `${dir}/cache`,
      resultsDir: `${dir}/results`,
      device: "cpu",
      log: () => {},
    });
    await ctx.close();
    return ctx;
  };
  await writeRandomCheckpoint(`${dir}/m`, config, { seed: 1 });
  const first = await open();
  assertEquals((await open()).cacheDir, first.cacheDir); // same inputs, same cache
  assertEquals(first.engine.name, "onnx-cpu"); // the provider is known before any result
  await writeRandomCheckpoint(`${dir}/m`, config, { seed: 2 });
  const second = await open();
  assertEquals(second.configHash, first.configHash);
  assert(second.cacheDir !== first.cacheDir, "other weights, other cache");
});
