/**
 * README.md's claim table is what `tools/docs/claims.ts` computes from `docs/organism/*.csv`
 * (cell by cell: `deno fmt` may align the columns), so no number in it is typed by hand.
 */
import { assertEquals } from "./_assert.ts";
import { BEGIN, claimTable, END } from "../tools/docs/claims.ts";

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
