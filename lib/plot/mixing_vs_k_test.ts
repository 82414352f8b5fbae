import { assert, assertEquals } from "../../tests/_assert.ts";
import { assertSvgSnapshot, SNAPSHOT_DIR } from "../../tests/_snapshot.ts";
import { readCsv } from "../results/csv.ts";
import { type MixingAccuracyRow, plotMixingVsK } from "./mixing_vs_k.ts";

const KS = [1, 2, 4, 8, 16, 32];
const METHODS = ["prompt", "mix", "query", "retrieve_mix"];
const TASKS = ["antonym", "capitalize", "country-capital", "english-french"];

function fixture(): MixingAccuracyRow[] {
  const rows: MixingAccuracyRow[] = [];
  for (const task of [...TASKS, "mean"]) {
    for (const [m, method] of METHODS.entries()) {
      for (const [i, k] of KS.entries()) {
        rows.push({ task, method, k, accuracy: (i + 1) / 8 + m / 40 });
      }
    }
  }
  return rows;
}

const count = (svg: string, pattern: RegExp) => (svg.match(pattern) ?? []).length;

Deno.test("plotMixingVsK() draws the mean over tasks in two panels, one dot per row", () => {
  const rows = fixture();
  const svg = plotMixingVsK(rows);
  assert(svg.startsWith("<svg") && svg.includes('xmlns="http://www.w3.org/2000/svg"'));
  assertEquals(count(svg, /<circle/g), KS.length * METHODS.length);
  for (const text of ["Mixing", "Retrieval + mixing", "k-shot prompt", "shots k →", "32"]) {
    assert(svg.includes(`>${text}<`), `missing ${text}`);
  }
  // Task rows do not enter the mean figure.
  assertEquals(plotMixingVsK(rows.filter((r) => r.task === "mean")), svg);
});

Deno.test("plotMixingVsK() with the compositions beyond the mean adds a third panel of them", () => {
  const extra = ["retrieve_weighted", "retrieve_adecay", "retrieve_picaso"];
  const rows = [
    ...fixture(),
    ...extra.flatMap((method, m) =>
      KS.map((k, i) => ({ task: "mean", method, k, accuracy: (i + 1) / 9 + m / 50 }))
    ),
  ];
  const svg = plotMixingVsK(rows);
  // The third panel repeats query and retrieve_mix beside the three others.
  assertEquals(count(svg, /<circle/g), KS.length * (METHODS.length + 2 + extra.length));
  for (
    const text of [
      "Retrieval + composition",
      "query + retrieved, weighted by shots",
      "retrieved then query (A-decay)",
      "query + retrieved (PICASO)",
    ]
  ) {
    assert(svg.includes(`>${text}<`), `missing ${text}`);
  }
  assert(svg.includes('width="1040"'), "three panels are wider");
  assert(!plotMixingVsK(fixture()).includes("Retrieval + composition"));
});

Deno.test("plotMixingVsK() with perTask draws one titled panel per task and no mean", () => {
  const svg = plotMixingVsK(fixture(), { perTask: true });
  assertEquals(count(svg, /<circle/g), TASKS.length * KS.length * METHODS.length);
  for (const task of TASKS) assert(svg.includes(`>${task}<`), `missing title ${task}`);
  assert(!svg.includes(">mean<"));
  // The legend lists the methods once.
  assertEquals(count(svg, />query \+ retrieved state \(mean\)</g), 1);
});

Deno.test("plotMixingVsK() depends only on the rows, not on their order", () => {
  const rows = fixture();
  const shuffled = [...rows].reverse();
  assertEquals(plotMixingVsK(shuffled), plotMixingVsK(rows));
  assertEquals(plotMixingVsK(shuffled, { perTask: true }), plotMixingVsK(rows, { perTask: true }));
});

Deno.test("plotMixingVsK() matches its snapshots from the fixture accuracy.csv", async () => {
  const rows = (await readCsv(`${SNAPSHOT_DIR}/mixing_vs_k.csv`)) as unknown as MixingAccuracyRow[];
  await assertSvgSnapshot(plotMixingVsK(rows), "mixing_vs_k");
  await assertSvgSnapshot(plotMixingVsK(rows, { perTask: true }), "mixing_vs_k_tasks");
});
