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
