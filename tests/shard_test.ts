/**
 * Sharded runs: three shards of every figure (quick preset, a tiny random checkpoint) share one
 * cache, write no results, and split the units between them; the merge (a run without a shard)
 * computes nothing a shard finished (the engine reads only the one token each engine open reads)
 * and writes files byte-identical to an unsharded run's, saying that every shard finished. A merge
 * after a shard that never ran and one that did not finish names them and computes the missing
 * units itself, with the same files.
 */
import "./_cache.ts";
import { assert, assertEquals } from "./_assert.ts";
import { inTempDir } from "./_temp.ts";
import { FIGURE_REGISTRY, PRESETS } from "../lib/experiments/mod.ts";
import { tinyMambaConfig, writeRandomCheckpoint } from "../lib/model/random_checkpoint.ts";
import { readWorkCounters, resetWorkCounters } from "../lib/util/counters.ts";
import { checkStoreEntries } from "./_store.ts";

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
      figures = FIGURE_REGISTRY,
    ) => {
      const lines: string[] = [];
      for (const fig of figures) {
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
      for (
        const line of lines.filter((l) =>
          l.includes(`: shard ${index}/3:`) && l.includes("no results written")
        )
      ) {
        computed += Number(/(\d+) units computed/.exec(line)![1]);
        // Every figure splits its work: the first shard (the others find its units cached)
        // leaves some of it to the others.
        if (index === 0) assert(Number(/(\d+) left to other shards/.exec(line)![1]) > 0, line);
      }
    }
    assert(computed > 10, `the shards computed ${computed} units`);
    // The shards shared one store: every entry in it is whole.
    assert((await checkStoreEntries(`${dir}/shared/_states`)) > 10, "the shards stored states");
    // No shard wrote a results folder.
    assertEquals([...Deno.readDirSync(dir)].some((e) => e.name === "shard-results"), false);

    resetWorkCounters();
    const said = await run(`${dir}/shared`, `${dir}/merged`);
    const merge = readWorkCounters();
    assertEquals(
      merge.tokens,
      FIGURE_REGISTRY.length,
      "the merge reads only the token each engine open reads",
    );
    // Each figure's merge says that every shard finished and nothing was left to it.
    const reports = said.filter((l) => l.includes("merge: "));
    assertEquals(reports.length, FIGURE_REGISTRY.length, said.join("\n"));
    for (const line of reports) {
      assert(line.includes("3 of 3 shards finished (0, 1, 2)"), line);
      assert(line.includes("none computed here"), line);
    }

    // Shard 1 never runs and shard 2 is stopped before it ends (its record still says running):
    // the merge names both and computes their units, and still writes what a single run writes.
    const partial = FIGURE_REGISTRY.filter((f) => f.id === "retrieval" || f.id === "icl");
    await run(`${dir}/partial`, `${dir}/unused`, { index: 0, count: 3 }, partial);
    await run(`${dir}/partial`, `${dir}/unused`, { index: 2, count: 3 }, partial);
    for (const f of partial) {
      for (const key of Deno.readDirSync(`${dir}/partial/${f.id}`)) {
        const record = `${dir}/partial/${f.id}/${key.name}/shards/2-of-3.json`;
        const r = JSON.parse(Deno.readTextFileSync(record));
        Deno.writeTextFileSync(record, JSON.stringify({ ...r, state: "running" }));
      }
    }
    const partialSaid = await run(`${dir}/partial`, `${dir}/merged-partial`, undefined, partial);
    const partialReports = partialSaid.filter((l) => l.includes("merge: "));
    assertEquals(partialReports.length, 2, partialSaid.join("\n"));
    for (const line of partialReports) {
      assert(line.includes("1 of 3 shards finished (0)"), line);
      assert(line.includes("shard 2/3 did not finish;"), line); // all its units were cached
      assert(/shard 1\/3 never ran \((\d+) of its units computed here\)/.test(line), line);
      const n = Number(/(\d+) units computed here/.exec(line)![1]);
      assertEquals(n, Number(/never ran \((\d+) of/.exec(line)![1]), line);
    }

    await run(`${dir}/alone`, `${dir}/single`);
    const [a, b] = [await files(`${dir}/merged`), await files(`${dir}/single`)];
    assertEquals([...a.keys()].sort(), [...b.keys()].sort());
    for (const [name, bytes] of a) {
      assertEquals(bytes, b.get(name), `${name} differs between the merge and a single run`);
    }
    for (const [name, bytes] of await files(`${dir}/merged-partial`)) {
      assertEquals(
        bytes,
        b.get(name),
        `${name} differs between the partial merge and a single run`,
      );
    }
  }));
