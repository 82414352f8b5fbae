/**
 * `deno task bench big [DIR]`: a mamba-2.8b-shaped random checkpoint (64 layers, d 2560,
 * fp32, 11 GB in 2 GB shards, written to DIR once) loads into the ONNX engine with its weights
 * read in place, and reads a prompt. Prints load time, tokens/s and memory. Needs about 12 GB of
 * memory and 12 GB of disk.
 *
 * @module
 */

import { parseMambaConfig, writeRandomCheckpoint } from "../lib/model/mod.ts";
import { OnnxEngine } from "../lib/engine/mod.ts";

export async function benchBigModel(dir = "/tmp/soup-mamba-2.8b-random"): Promise<void> {
  const config = parseMambaConfig(
    JSON.parse(
      await Deno.readTextFile(new URL("../testdata/configs/mamba-2.8b-hf.json", import.meta.url)),
    ),
  );
  const gb = (x: number) => (x / 2 ** 30).toFixed(1);
  try {
    await Deno.stat(`${dir}/model.safetensors.index.json`);
    console.log(`using the random mamba-2.8b-shaped checkpoint in ${dir}`);
  } catch {
    console.log(`writing a random mamba-2.8b-shaped checkpoint to ${dir} (11 GB) ...`);
    const t0 = performance.now();
    await writeRandomCheckpoint(dir, config, { seed: 0, maxShardBytes: 2 * 2 ** 30 });
    console.log(`  written in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  }
  let bytes = 0;
  for (const e of Deno.readDirSync(dir)) {
    if (e.name.endsWith(".safetensors")) bytes += Deno.statSync(`${dir}/${e.name}`).size;
  }
  const t0 = performance.now();
  const engine = await OnnxEngine.load(dir, { provider: "cpu" });
  const ids = Array.from({ length: 32 }, (_, i) => (i * 7919) % 50277);
  await engine.run(ids.slice(0, 1)); // opens the session: reads the weights
  const load = (performance.now() - t0) / 1000;
  const t1 = performance.now();
  const { logits } = await engine.run(ids);
  const run = (performance.now() - t1) / 1000;
  const segments = engine.segmentBytes(false).reduce((sum, seg) => sum + seg.length, 0);
  console.log(
    `mamba-2.8b shape: ${gb(bytes)} GB of fp32 weights loaded in ${load.toFixed(0)} s; ` +
      `model bytes: one graph ${engine.modelBytes(false).length}, ` +
      `${config.numHiddenLayers + 1} CPU segments ${segments} in all; ${ids.length} tokens in ${
        run.toFixed(1)
      } s ` +
      `(${(ids.length / run).toFixed(1)} tokens/s); process memory ${
        gb(Deno.memoryUsage().rss)
      } GB; ` +
      `logits finite: ${logits.every(Number.isFinite)}`,
  );
  await engine.close();
}

if (import.meta.main) await benchBigModel(Deno.args[0]);
