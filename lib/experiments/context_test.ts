import { assert, assertEquals } from "../../tests/_assert.ts";
import { codeHash, ExperimentModel, PRESENTATION_DIRS, ResultCache } from "./context.ts";
import { tinyMambaConfig, writeRandomCheckpoint } from "../model/mod.ts";

Deno.test("the result cache is keyed on the weights, not only the architecture", async () => {
  const dir = await Deno.makeTempDir();
  const config = tinyMambaConfig({ vocabSize: 50280, numHiddenLayers: 1 });
  const open = async () => {
    const model = await ExperimentModel.open({
      model: `${dir}/m`,
      cacheDir: `${dir}/cache`,
      device: "cpu",
    });
    await model.close();
    const cache = await ResultCache.open("t", { a: 1 }, model, { cacheDir: `${dir}/cache` });
    return { model, cache };
  };
  await writeRandomCheckpoint(`${dir}/m`, config, { seed: 1 });
  const first = await open();
  assertEquals((await open()).cache.dir, first.cache.dir); // same inputs, same cache
  assertEquals(first.model.engine.name, "onnx-cpu"); // the provider is known before any result
  await writeRandomCheckpoint(`${dir}/m`, config, { seed: 2 });
  const second = await open();
  assertEquals(second.model.configHash, first.model.configHash);
  assert(second.cache.dir !== first.cache.dir, "other weights, other cache");
  assert(second.model.weights !== first.model.weights);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("the partial results' code hash leaves out the presentation code, nothing else", async () => {
  const root = await Deno.makeTempDir();
  try {
    for (const d of ["lib/plot", "lib/results", "lib/eval"]) {
      await Deno.mkdir(`${root}/${d}`, { recursive: true });
    }
    const write = (p: string, text: string) => Deno.writeTextFileSync(`${root}/${p}`, text);
    write("lib/plot/colours.ts", "export const c = 'red';");
    write("lib/results/csv.ts", "export const sep = ',';");
    write("lib/eval/acc.ts", "export const n = 1;");
    write("lib/eval/acc_test.ts", "Deno.test('t', () => {});");
    const compute = () => codeHash(PRESENTATION_DIRS, root);
    const all = () => codeHash([], root);
    const [c0, a0] = [await compute(), await all()];
    write("lib/plot/colours.ts", "export const c = 'blue';"); // a plot colour
    write("lib/results/csv.ts", "export const sep = ';';");
    write("lib/eval/acc_test.ts", "Deno.test('u', () => {});"); // a test
    assertEquals(await compute(), c0, "presentation and tests are not part of the key");
    assert((await all()) !== a0, "the recorded code hash sees every library file");
    write("lib/eval/acc.ts", "export const n = 2;"); // computing code
    assert((await compute()) !== c0, "computing code is part of the key");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
