/**
 * Test helper for experiments: a tiny random checkpoint with the real vocabulary in a fresh
 * folder, and the options that put results and cache beside it and collect progress lines.
 *
 * @module
 */

import { type TinyConfigFields, tinyMambaConfig, writeRandomCheckpoint } from "../lib/model/mod.ts";

/** Writes `<dir>/model` and returns options for `run<Figure>(params, options)`. */
export async function experimentSetup(prefix: string, fields: TinyConfigFields = {}) {
  const dir = await Deno.makeTempDir({ prefix });
  await writeRandomCheckpoint(`${dir}/model`, tinyMambaConfig({ vocabSize: 50280, ...fields }));
  const lines: string[] = [];
  const options = {
    model: `${dir}/model`,
    device: "cpu" as const,
    resultsDir: `${dir}/results`,
    cacheDir: `${dir}/cache`,
    log: (line: string) => lines.push(line),
  };
  /** The cache folder the latest run logged. */
  const cacheOf = () => lines.filter((l) => l.includes(", cache ")).at(-1)!.split(", cache ")[1];
  return { dir, options, lines, cacheOf };
}

/** Mean cross-entropy of ids[from..] under the logits of one pass over ids from zeros. */
export function meanLoss(logits: Float32Array, ids: number[], from: number, vocab: number): number {
  let sum = 0;
  for (let i = from; i < ids.length; i++) {
    const row = logits.subarray((i - 1) * vocab, i * vocab);
    let max = -Infinity;
    for (const x of row) max = Math.max(max, x);
    let z = 0;
    for (const x of row) z += Math.exp(x - max);
    sum += Math.log(z) + max - row[ids[i]];
  }
  return sum / (ids.length - from);
}
