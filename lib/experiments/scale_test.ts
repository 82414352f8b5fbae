import { assert, assertEquals, assertRejects } from "../../tests/_assert.ts";
import { ConfigError } from "../util/errors.ts";
import { buildIndex, PAPER_SCALE, prepareScale } from "./scale.ts";

Deno.test("prepareScale() refuses an unknown index, naming every index it knows", async () => {
  const err = await assertRejects(
    () => prepareScale({ indexes: ["usearch", "faiss"] }),
    ConfigError,
    'index "faiss" is not usearch, usearch-f16, usearch-i8, lancedb, lancedb-ivf',
  );
  assertEquals((err as ConfigError).field, "indexes");
});

Deno.test("buildIndex() builds LanceDB's flat table and its IVF_HNSW_SQ index by name", async () => {
  const dim = 16;
  const lib = Float32Array.from({ length: 40 * dim }, (_, i) => Math.sin(i * 0.83));
  for (const [name, label] of [["lancedb", "LanceDB flat"], ["lancedb-ivf", "LanceDB IVF"]]) {
    const index = await buildIndex(name, lib, dim, PAPER_SCALE);
    try {
      assert(index.name.startsWith(label), index.name);
      const hits = await index.search(lib.slice(5 * dim, 7 * dim), 1);
      assertEquals(hits.map(([h]) => h.index), [5, 6]);
      assert((index.diskBytes ?? 0) >= lib.byteLength, `${index.diskBytes}`);
    } finally {
      await index.close();
    }
  }
});
