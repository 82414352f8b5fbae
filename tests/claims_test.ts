/**
 * README.md's claim table is what `tools/docs/claims.ts` computes from `docs/organism/*.csv`
 * (cell by cell: `deno fmt` may align the columns), so no number in it is typed by hand.
 */
import { assertEquals } from "./_assert.ts";
import { BEGIN, claimTable, END } from "../tools/docs/claims.ts";
import { claimsOf } from "../lib/experiments/claims.ts";

const cells = (table: string) =>
  table.split("\n").filter((l) => l.startsWith("|")).map((l) =>
    l.split("|").slice(1, -1).map((c) => c.trim().replace(/^-+$/, "---"))
  );

Deno.test("README's claim table is computed from the organism's results", async () => {
  const root = new URL("../", import.meta.url).pathname;
  const readme = await Deno.readTextFile(`${root}README.md`);
  const a = readme.indexOf(BEGIN), b = readme.indexOf(END);
  assertEquals(a >= 0 && b > a, true, "README.md has the claim table's markers");
  const want = await claimTable(`${root}docs/organism`);
  assertEquals(
    cells(readme.slice(a + BEGIN.length, b)),
    cells(want),
    "README.md's claim table is stale: run deno run -A tools/docs/claims.ts --write",
  );
});

Deno.test("claim rules: retrieval holds from the first k after which accuracy stays >= 0.9", () => {
  const rows = [1, 2, 4, 8].map((k, i) => ({
    task: "mean",
    k,
    accuracy: [0.5, 0.92, 0.85, 0.95][i],
  }));
  assertEquals(claimsOf("retrieval", rows)[0].holds, "only from k = 8 (>= 0.9)");
  rows[2].accuracy = 0.91;
  assertEquals(claimsOf("retrieval", rows)[0].holds, "yes");
});

Deno.test("claim rules: mixing is read against the largest prompt k of the run", () => {
  const rows = [];
  for (const [method, accs] of [["prompt", [0.5, 0.7, 0.8]], ["mix", [0.79, 0.8, 0.8]]] as const) {
    for (const [i, k] of [1, 4, 16].entries()) {
      rows.push({ task: "mean", method, k, accuracy: accs[i] });
    }
  }
  const [mix] = claimsOf("mixing", rows);
  assertEquals(mix.holds, "yes");
  assertEquals(mix.measured.includes("16-shot prompt 0.800"), true, mix.measured);
});

Deno.test("claim rules: a run without what a rule reads says it cannot tell", () => {
  const [c] = claimsOf("icl", [{ task: "antonym", k: 0, accuracy: 1 }]);
  assertEquals(c.holds, "cannot tell");
});
