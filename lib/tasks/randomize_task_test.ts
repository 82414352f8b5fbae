/** The randomized control: same inputs, same multiset of outputs, pairs broken, seeded. */
import { assert, assertEquals, assertThrows } from "../../tests/_assert.ts";
import { ConfigError } from "../util/errors.ts";
import { loadTask, randomizeTask, type Task } from "./mod.ts";

const OPTIONS = { offline: true };

function sortedOutputs(task: Task): string[] {
  return task.items.map((x) => x.output).sort();
}

function keptPairs(a: Task, b: Task): number {
  return a.items.filter((x, i) => b.items[i].output === x.output).length;
}

Deno.test("randomizeTask() keeps the inputs and the multiset of outputs", async () => {
  for (const name of ["antonym", "country-capital", "sentiment"]) {
    const task = await loadTask(name, OPTIONS);
    const r = randomizeTask(task, 7);
    assertEquals(r.items.map((x) => x.input), task.items.map((x) => x.input), name);
    assertEquals(sortedOutputs(r), sortedOutputs(task), name);
    assertEquals(r.items.length, task.items.length);
  }
});

Deno.test("randomizeTask() changes the output of most pairs", async () => {
  for (const name of ["antonym", "country-capital", "english-french", "present-past"]) {
    const task = await loadTask(name, OPTIONS);
    const kept = keptPairs(task, randomizeTask(task, 0));
    // A random permutation keeps about one pair; repeated outputs add a few.
    assert(kept <= task.items.length * 0.02, `${name}: ${kept} of ${task.items.length} kept`);
  }
});

Deno.test("randomizeTask() is deterministic given the seed and differs between seeds", async () => {
  const task = await loadTask("antonym", OPTIONS);
  assertEquals(randomizeTask(task, 3), randomizeTask(task, 3));
  const a = randomizeTask(task, 3), b = randomizeTask(task, 4);
  assert(keptPairs(a, b) < task.items.length * 0.02, "seeds 3 and 4 agree too often");
});

Deno.test("randomizeTask() names the result, records the seed and leaves the task alone", async () => {
  const task = await loadTask("present-past", OPTIONS);
  const before = JSON.stringify(task);
  const r = randomizeTask(task, 12);
  assertEquals(JSON.stringify(task), before);
  assertEquals(r.name, "present-past_randomized");
  assertEquals(r.shuffleSeed, 12);
  assertEquals([r.kind, r.source, r.sha256], [task.kind, task.source, task.sha256]);
  assertEquals(randomizeTask(r, 5).name, "present-past_randomized");
});

Deno.test("randomizeTask() refuses a seed that is not an integer", () => {
  const task: Task = { name: "t", kind: "abstractive", items: [], source: "", sha256: "" };
  assertThrows(() => randomizeTask(task, 0.5), ConfigError, "seed 0.5 is not an integer");
  assertEquals(randomizeTask(task, 1).items, []);
});
