import { assert, assertEquals } from "../../tests/_assert.ts";
import { assertSvgSnapshot } from "../../tests/_snapshot.ts";
import { plotRetrievalVsK, type RetrievalAccuracyRow } from "./retrieval_vs_k.ts";

const KS = [1, 2, 4, 8, 16];
const TASKS = ["antonym", "capitalize", "country-capital", "english-french"];

function fixture(): RetrievalAccuracyRow[] {
  const rows: RetrievalAccuracyRow[] = [];
  for (const [t, task] of TASKS.entries()) {
    for (const [i, k] of KS.entries()) {
      rows.push({ task, k, accuracy: Math.min(1, 0.3 + 0.15 * i - 0.05 * t) });
    }
  }
  for (const k of KS) {
    const per = rows.filter((r) => r.k === k).map((r) => r.accuracy);
    rows.push({ task: "mean", k, accuracy: per.reduce((a, b) => a + b, 0) / per.length });
  }
  return rows;
}

const count = (svg: string, pattern: RegExp) => (svg.match(pattern) ?? []).length;

Deno.test("plotRetrievalVsK() draws a line per task, a thick mean and chance", async () => {
  const svg = plotRetrievalVsK(fixture());
  assertEquals(count(svg, /<circle/g), (TASKS.length + 1) * KS.length);
  for (const text of [...TASKS, "mean", "chance", "16", "shots in the query (k) →"]) {
    assert(svg.includes(`>${text}<`), `missing ${text}`);
  }
  assert(svg.includes('stroke-width="3.5"'), "thick mean line");
  await assertSvgSnapshot(svg, "retrieval_vs_k");
});

Deno.test("plotRetrievalVsK() depends on the order of tasks only, not of ks", () => {
  const rows = fixture();
  const byK = [...rows].sort((a, b) => b.k - a.k || rows.indexOf(a) - rows.indexOf(b));
  assertEquals(plotRetrievalVsK(byK), plotRetrievalVsK(rows));
});
