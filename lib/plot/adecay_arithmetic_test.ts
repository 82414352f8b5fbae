import { assert } from "../../tests/_assert.ts";
import { assertSvgSnapshot } from "../../tests/_snapshot.ts";
import { readCsv } from "../results/csv.ts";
import { plotAdecay } from "./adecay.ts";
import { plotTaskArithmetic } from "./task_arithmetic.ts";

const FIXTURES = new URL("../../testdata/figures/", import.meta.url).pathname;

Deno.test("plotAdecay() renders the fixture losses as in its snapshot", async () => {
  const losses = await readCsv(`${FIXTURES}adecay.csv`);
  const summary = await readCsv(`${FIXTURES}adecay_summary.csv`);
  const svg = plotAdecay(losses, summary);
  for (const label of ["x1 then x2", "x2 only", "A-decay"]) {
    assert(svg.includes(label), `axis label ${label}`);
  }
  await assertSvgSnapshot(svg, "adecay");
});

Deno.test("plotTaskArithmetic() renders the fixture sweep as in its snapshot", async () => {
  const svg = plotTaskArithmetic(await readCsv(`${FIXTURES}arithmetic_targets.csv`));
  for (const target of ["fifteen", "quinze", "quatorze"]) assert(svg.includes(target), target);
  await assertSvgSnapshot(svg, "arithmetic");
});
