/**
 * `deno task bench`: speed of the pieces, as ratios measured in one run on this machine.
 * Never asserted in tests.
 *
 * @module
 */

import { referenceForward, tinyMambaConfig, writeRandomCheckpoint } from "../lib/model/mod.ts";
import { loadMambaWeights, SafetensorsCheckpoint } from "../lib/model/mod.ts";
import { readNpy, writeNpy } from "../lib/npy/mod.ts";
import { time } from "./_time.ts";

const dir = await Deno.makeTempDir();
try {
  // I/O: our readers against a plain read of the same bytes.
  const mb = 64;
  const data = Float32Array.from({ length: (mb << 20) / 4 }, (_, i) => i % 1000);
  await writeNpy(`${dir}/x.npy`, { data, shape: [data.length] });
  const raw = await time(() => Deno.readFile(`${dir}/x.npy`));
  const npy = await time(() => readNpy(`${dir}/x.npy`));
  const rawWrite = await time(() => Deno.writeFile(`${dir}/raw.bin`, new Uint8Array(data.buffer)));
  const npyWrite = await time(() => writeNpy(`${dir}/y.npy`, { data, shape: [data.length] }));
  console.log(
    `npy read  ${mb} MB: ${(mb / npy).toFixed(0)} MB/s = ${
      (raw / npy).toFixed(2)
    } x a plain Deno.readFile`,
  );
  console.log(
    `npy write ${mb} MB: ${(mb / npyWrite).toFixed(0)} MB/s = ${
      (rawWrite / npyWrite).toFixed(2)
    } x a plain Deno.writeFile (ours also fsyncs and renames)`,
  );

  // Safetensors: a mamba-130m-shaped embedding plus 2 layers.
  const config = tinyMambaConfig({
    hiddenSize: 768,
    intermediateSize: 1536,
    stateSize: 16,
    timeStepRank: 48,
    numHiddenLayers: 2,
    vocabSize: 50280,
  });
  await writeRandomCheckpoint(`${dir}/m`, config);
  const fileMb = (await Deno.stat(`${dir}/m/model.safetensors`)).size / 2 ** 20;
  const rawCkpt = await time(() => Deno.readFile(`${dir}/m/model.safetensors`), 3);
  const load = await time(async () => {
    using ckpt = await SafetensorsCheckpoint.open(`${dir}/m`);
    await loadMambaWeights(ckpt, config);
  }, 3);
  console.log(
    `safetensors load ${fileMb.toFixed(0)} MB: ${(fileMb / load).toFixed(0)} MB/s = ${
      (rawCkpt / load).toFixed(2)
    } x a plain read`,
  );

  // Reference forward: tokens/s, and its arithmetic rate against a plain JS dot product.
  using ckpt = await SafetensorsCheckpoint.open(`${dir}/m`);
  const w = await loadMambaWeights(ckpt, config);
  const ids = Array.from({ length: 16 }, (_, i) => (i * 7919) % 50277);
  const fwd = await time(() => referenceForward(w, ids, { allLogits: false }), 3);
  const flopsPerToken = 2 * config.numHiddenLayers *
      (768 * 2 * 1536 + 1536 * (48 + 32) + 48 * 1536 + 1536 * 768) + 2 * 768 * 50280 / ids.length;
  const a = new Float32Array(1 << 22).fill(1), b = new Float64Array(1 << 22).fill(0.5);
  const dot = await time(() => {
    let s = 0;
    for (let i = 0; i < a.length; i++) s += a[i] * b[i];
    return s;
  });
  const dotRate = (2 * a.length) / dot;
  const fwdRate = (flopsPerToken * ids.length) / fwd;
  console.log(
    `reference forward (2 layers of mamba-130m width): ${(ids.length / fwd).toFixed(1)} tokens/s, ${
      (fwdRate / 1e9).toFixed(2)
    } GFLOP/s = ${(fwdRate / dotRate).toFixed(2)} x a plain JS float dot product`,
  );
} finally {
  await Deno.remove(dir, { recursive: true });
}
