/** Seeded k-shot demonstration sets: disjoint, away from excluded items, reproducible. */
import { assert, assertEquals, assertThrows } from "../../tests/_assert.ts";
import { ConfigError } from "../util/errors.ts";
import { loadTask, sampleDemoSets, splitTask } from "./mod.ts";

Deno.test("sampleDemoSets() draws disjoint sets from the train split, away from excluded items", async () => {
  const task = await loadTask("antonym", { offline: true });
  const { train, test } = splitTask(task, { seed: 0 });
  const library = sampleDemoSets(train, { count: 10, k: 10, seed: 1 }).flat();
  const sets = sampleDemoSets(train, { count: 50, k: 20, seed: 2, exclude: library });
  assertEquals(sets.length, 50);
  assert(sets.every((s) => s.length === 20), "every set holds k indices");
  const used = sets.flat();
  assertEquals(new Set(used).size, used.length);
  const trainSet = new Set(train), testSet = new Set(test), librarySet = new Set(library);
  assert(used.every((i) => trainSet.has(i) && !testSet.has(i) && !librarySet.has(i)));
});

Deno.test("sampleDemoSets() is deterministic given the seed and differs between seeds", () => {
  const a = sampleDemoSets(500, { count: 8, k: 5, seed: 9, exclude: [1, 2, 3] });
  assertEquals(sampleDemoSets(500, { count: 8, k: 5, seed: 9, exclude: [1, 2, 3] }), a);
  const b = sampleDemoSets(500, { count: 8, k: 5, seed: 10, exclude: [1, 2, 3] });
  assert(JSON.stringify(a) !== JSON.stringify(b), "seeds 9 and 10 gave the same sets");
});

Deno.test("sampleDemoSets() does not depend on the order of the pool or of the exclusions", () => {
  const pool = Array.from({ length: 60 }, (_, i) => 2 * i);
  const a = sampleDemoSets(pool, { count: 4, k: 6, seed: 3, exclude: new Set([0, 10, 20]) });
  const b = sampleDemoSets([...pool].reverse().concat(pool), {
    count: 4,
    k: 6,
    seed: 3,
    exclude: [20, 0, 10, 10],
  });
  assertEquals(a, b);
  assert(a.flat().every((i) => i % 2 === 0 && i !== 0 && i !== 10 && i !== 20));
});

Deno.test("sampleDemoSets() keeps its first sets when more are asked for", () => {
  const few = sampleDemoSets(300, { count: 3, k: 10, seed: 4 });
  const many = sampleDemoSets(300, { count: 20, k: 10, seed: 4 });
  assertEquals(many.slice(0, 3), few);
});

Deno.test("sampleDemoSets() uses the whole pool when it fits exactly and gives empty sets for k = 0", () => {
  const sets = sampleDemoSets(12, { count: 3, k: 4, seed: 0, exclude: [] });
  assertEquals(sets.flat().sort((a, b) => a - b), Array.from({ length: 12 }, (_, i) => i));
  assertEquals(sampleDemoSets(0, { count: 2, k: 0, seed: 0 }), [[], []]);
  assertEquals(sampleDemoSets(5, { count: 0, k: 3, seed: 0 }), []);
});

Deno.test("sampleDemoSets() says how many items are missing when the pool is too small", () => {
  assertThrows(
    () => sampleDemoSets(20, { count: 4, k: 5, seed: 0, exclude: [0, 1, 2, 99] }),
    ConfigError,
    "Cannot sample 4 disjoint sets of 5 demonstrations: the pool of 20 items leaves 17 after " +
      "excluding 3, need 20",
  );
});

Deno.test("sampleDemoSets() refuses counts that are not non-negative integers", () => {
  assertThrows(() => sampleDemoSets(10, { count: -1, k: 2, seed: 0 }), ConfigError, "count -1");
  assertThrows(() => sampleDemoSets(10, { count: 1, k: 1.5, seed: 0 }), ConfigError, "k 1.5");
  assertThrows(() => sampleDemoSets(10, { count: 1, k: 1, seed: NaN }), ConfigError, "seed NaN");
  assertThrows(() => sampleDemoSets(-3, { count: 1, k: 1, seed: 0 }), ConfigError, "pool size -3");
});
