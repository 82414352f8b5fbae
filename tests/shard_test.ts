/**
 * Sharded runs: three shards of every figure (quick preset, a tiny random checkpoint) share one
 * cache, write no results, and split the units between them; the merge (a run without a shard)
 * computes nothing a shard finished (the engine reads only the one token each engine open reads)
 * and writes files byte-identical to an unsharded run's.
 */
import "./_cache.ts";
import { assert, assertEquals } from "./_assert.ts";
import { inTempDir } from "./_temp.ts";
import { FIGURE_REGISTRY, PRESETS } from "../lib/experiments/mod.ts";
import { tinyMambaConfig, writeRandomCheckpoint } from "../lib/model/random_checkpoint.ts";
import { readWorkCounters, resetWorkCounters } from "../lib/util/counters.ts";

async function files(dir: string): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>();
  for (const fig of Deno.readDirSync(dir)) {
    for (const f of Deno.readDirSync(`${dir}/${fig.name}`)) {
      if (f.name === "timing.json") continue;
      out.set(`${fig.name}/${f.name}`, await Deno.readFile(`${dir}/${fig.name}/${f.name}`));
    }
  }
  return out;
}

Deno.test("three shards and a merge write what one unsharded run writes, and the merge computes nothing", () =>
  inTempDir("soup-shard-", async (dir) => {
    await writeRandomCheckpoint(
      `${dir}/model`,
      tinyMambaConfig({ vocabSize: 50280, numHiddenLayers: 2 }),
    );
    const run = async (
      cache: string,
      results: string,
      shard?: { index: number; count: number },
    ) => {
      const lines: string[] = [];
      for (const fig of FIGURE_REGISTRY) {
        const written = await fig.run(PRESETS.quick, {
          model: `${dir}/model`,
          device: "cpu",
          cacheDir: cache,
          resultsDir: results,
          shard,
          log: (line) => lines.push(line),
        });
        if (shard !== undefined) assertEquals(written, [], `${fig.id}: a shard writes no results`);
      }
      return lines;
    };
    let computed = 0;
    for (let index = 0; index < 3; index++) {
      const lines = await run(`${dir}/shared`, `${dir}/shard-results`, { index, count: 3 });
      for (const line of lines.filter((l) => l.includes(`: shard ${index}/3:`))) {
        computed += Number(/(\d+) units computed/.exec(line)![1]);
      }
    }
    assert(computed > 10, `the shards computed ${computed} units`);
    // No shard wrote a results folder.
    assertEquals([...Deno.readDirSync(dir)].some((e) => e.name === "shard-results"), false);

    resetWorkCounters();
    await run(`${dir}/shared`, `${dir}/merged`);
    const merge = readWorkCounters();
    assertEquals(
      merge.tokens,
      FIGURE_REGISTRY.length,
      "the merge reads only the token each engine open reads",
    );

    await run(`${dir}/alone`, `${dir}/single`);
    const [a, b] = [await files(`${dir}/merged`), await files(`${dir}/single`)];
    assertEquals([...a.keys()].sort(), [...b.keys()].sort());
    for (const [name, bytes] of a) {
      assertEquals(bytes, b.get(name), `${name} differs between the merge and a single run`);
    }
  }));
