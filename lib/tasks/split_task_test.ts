/** Seeded train/test splits: a partition of the items, sized as asked, reproducible. */
import { assert, assertEquals, assertThrows } from "../../tests/_assert.ts";
import { ConfigError } from "../util/errors.ts";
import { loadTask, splitTask } from "./mod.ts";

const items = (n: number) => ({
  items: Array.from({ length: n }, () => ({ input: "", output: "" })),
});

Deno.test("splitTask() partitions the items into ascending disjoint train and test lists", async () => {
  const task = await loadTask("country-capital", { offline: true });
  const { train, test } = splitTask(task, { seed: 1, testSize: 50 });
  assertEquals(test.length, 50);
  assertEquals(train.length, 147);
  assertEquals([...train, ...test].sort((a, b) => a - b), Array.from({ length: 197 }, (_, i) => i));
  assertEquals(train, [...train].sort((a, b) => a - b));
  assertEquals(test, [...test].sort((a, b) => a - b));
});

Deno.test("splitTask() rounds testFraction and defaults to Todd et al.'s 0.3", () => {
  assertEquals(splitTask(items(197), { seed: 0, testFraction: 0.3 }).test.length, 59);
  assertEquals(splitTask(items(197), { seed: 0 }).test.length, 59);
  assertEquals(splitTask(items(205), { seed: 0, testFraction: 0.5 }).test.length, 103);
  assertEquals(splitTask(items(10), { seed: 0, testFraction: 0 }).test, []);
  assertEquals(splitTask(items(10), { seed: 0, testFraction: 1 }).train, []);
  assertEquals(splitTask(items(0), { seed: 0 }), { train: [], test: [] });
});

Deno.test("splitTask() is deterministic given the seed and differs between seeds", () => {
  const a = splitTask(items(100), { seed: 42, testSize: 30 });
  assertEquals(splitTask(items(100), { seed: 42, testSize: 30 }), a);
  const b = splitTask(items(100), { seed: 43, testSize: 30 });
  assert(a.test.join() !== b.test.join(), "seeds 42 and 43 gave the same split");
});

Deno.test("splitTask() refuses sizes out of range, both sizes at once and a fractional seed", () => {
  assertThrows(() => splitTask(items(10), { seed: 0, testSize: 11 }), ConfigError, "testSize 11");
  assertThrows(() => splitTask(items(10), { seed: 0, testSize: -1 }), ConfigError, "testSize -1");
  assertThrows(() => splitTask(items(10), { seed: 0, testSize: 2.5 }), ConfigError, "testSize 2.5");
  assertThrows(() => splitTask(items(10), { seed: 0, testFraction: 1.5 }), ConfigError, "1.5");
  assertThrows(() => splitTask(items(10), { seed: 0, testFraction: NaN }), ConfigError, "NaN");
  assertThrows(
    () => splitTask(items(10), { seed: 0, testSize: 3, testFraction: 0.3 }),
    ConfigError,
    "not both",
  );
  assertThrows(() => splitTask(items(10), { seed: 0.5 }), ConfigError, "seed 0.5");
});
