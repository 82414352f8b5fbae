/**
 * `deno task bench store`: what the content-addressed state store costs and saves, as ratios
 * measured in one run: extracting through it cold (compute and write) and warm (read) against
 * the engine alone, and one stored layer against all layers (disk and read time).
 *
 * @module
 */

import { openEngine } from "../lib/engine/mod.ts";
import { tinyMambaConfig, weightsFingerprint, writeRandomCheckpoint } from "../lib/model/mod.ts";
import { StateStore } from "../lib/states/store.ts";
import { time } from "./_time.ts";

/** Bytes of every file under `dir`. */
function bytesUnder(dir: string): number {
  let n = 0;
  for (const e of Deno.readDirSync(dir)) {
    const p = `${dir}/${e.name}`;
    n += e.isDirectory ? bytesUnder(p) : Deno.statSync(p).size;
  }
  return n;
}

export async function benchStore(): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "soup-bench-store-" });
  try {
    // mamba-130m's width and vocabulary, 12 of its 24 layers; 32 demonstration-like sequences.
    const config = tinyMambaConfig({
      hiddenSize: 768,
      intermediateSize: 1536,
      stateSize: 16,
      timeStepRank: 48,
      numHiddenLayers: 12,
      vocabSize: 50280,
    });
    await writeRandomCheckpoint(`${dir}/m`, config, { seed: 1 });
    const engine = await openEngine(`${dir}/m`, { device: "cpu" });
    const jobs = Array.from({ length: 32 }, (_, j) => ({
      ids: Array.from({ length: 48 + (j % 5) * 8 }, (_, i) => (j * 131 + i * 7919) % 50277),
    }));
    const identity = {
      weights: await weightsFingerprint(`${dir}/m`),
      engine: engine.name,
      config,
    };
    const batchSize = 8;
    // The engine alone, batched by length as the store batches (the same padding).
    const byLength = [...jobs].sort((a, b) => b.ids.length - a.ids.length);
    const direct = await time(async () => {
      for (let s = 0; s < byLength.length; s += batchSize) {
        await engine.runBatch(byLength.slice(s, s + batchSize).map((j) => j.ids));
      }
    }, 3);
    // Cold: a fresh store each time (compute, then write every state).
    let round = 0;
    const cold = await time(async () => {
      const store = await StateStore.open(`${dir}/cold-${round++}`, identity);
      await store.extract(engine, jobs, { batchSize });
    }, 3);
    const full = await StateStore.open(`${dir}/full`, identity);
    await full.extract(engine, jobs, { batchSize });
    const warm = await time(() => full.extract(engine, jobs, { batchSize }), 3);
    const middle = Math.floor(config.numHiddenLayers / 2);
    const one = await StateStore.open(`${dir}/one`, identity);
    await one.extract(engine, jobs, { batchSize, layers: [middle] });
    const warmOne = await time(() => one.extract(engine, jobs, { batchSize, layers: [middle] }), 3);
    const [fullBytes, oneBytes] = [bytesUnder(`${dir}/full`), bytesUnder(`${dir}/one`)];
    await engine.close();
    const mb = (b: number) => (b / 2 ** 20).toFixed(1);
    console.log(
      `state store, ${jobs.length} states of ${config.numHiddenLayers} layers ` +
        `(d_in ${config.intermediateSize}, n ${config.stateSize}), 48-80 tokens, onnx-cpu, ` +
        `batches of ${batchSize} by length:`,
    );
    console.log(
      `  engine alone ${direct.toFixed(3)} s; through the store, cold ${cold.toFixed(3)} s ` +
        `(= ${(cold / direct).toFixed(2)} x the engine: compute and write), warm ` +
        `${warm.toFixed(3)} s (${(direct / warm).toFixed(1)} x faster than computing)`,
    );
    console.log(
      `  one layer stored: ${mb(oneBytes)} MB against ${mb(fullBytes)} MB for every layer ` +
        `(${(fullBytes / oneBytes).toFixed(1)} x less); read warm in ${warmOne.toFixed(3)} s ` +
        `(${(warm / warmOne).toFixed(1)} x faster than every layer)`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
