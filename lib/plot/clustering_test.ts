import { assert, assertClose, assertEquals } from "../../tests/_assert.ts";
import { assertSvgSnapshot } from "../../tests/_snapshot.ts";
import { type ClusteringPointRow, isRandomizedRow, plotClustering } from "./clustering.ts";
import { plotClusteringAppendix } from "./clustering_appendix.ts";

const TASKS = ["antonym", "capitalize", "country-capital"];

/** Three tasks on a circle, controls shifted, 4 sets each, for 2 layers, 2 kinds, 2 methods. */
function fixture(): ClusteringPointRow[] {
  const rows: ClusteringPointRow[] = [];
  for (const layer of [0, 1]) {
    for (const kind of ["ssm", "conv"]) {
      for (const method of ["tsne", "pca"]) {
        const scale = method === "pca" ? 100 : 1;
        for (const [t, task] of TASKS.entries()) {
          for (const randomized of [false, true]) {
            for (let set = 0; set < 4; set++) {
              const angle = (2 * Math.PI * t) / TASKS.length + layer;
              rows.push({
                task,
                randomized,
                set,
                layer,
                kind,
                method,
                x: scale * (10 * Math.cos(angle) + set / 2 + (randomized ? 4 : 0)),
                y: scale * (10 * Math.sin(angle) - set / 3),
              });
            }
          }
        }
      }
    }
  }
  return rows;
}

const count = (svg: string, pattern: RegExp) => (svg.match(pattern) ?? []).length;

Deno.test("plotClustering() draws a dot per state and a label per task", async () => {
  const rows = fixture().filter((r) => r.layer === 1 && r.kind === "ssm" && r.method === "tsne");
  const svg = plotClustering(rows);
  assertEquals(count(svg, /<circle/g), TASKS.length * 2 * 4);
  // Controls are hollow (a coloured stroke in a white-filled group), the rest filled.
  assertEquals(count(svg, /<circle stroke="#/g), TASKS.length * 4);
  assertEquals(count(svg, /<circle fill="#/g), TASKS.length * 4);
  assert(/<g [^>]*fill="white" aria-label="dot"/.test(svg), "hollow dots are white inside");
  for (const task of TASKS) assertEquals(count(svg, new RegExp(`>${task}<`, "g")), 1, task);
  assert(
    svg.includes("t-SNE of layer 1&#39;s ssm states") ||
      svg.includes("t-SNE of layer 1's ssm states"),
  );
  await assertSvgSnapshot(svg, "clustering");
});

Deno.test("plotClustering() reads randomized back from CSV text", () => {
  const rows = fixture().filter((r) => r.layer === 0 && r.kind === "conv" && r.method === "pca");
  const asText = rows.map((r) => ({ ...r, randomized: String(r.randomized) }));
  assertEquals(asText.filter(isRandomizedRow).length, TASKS.length * 4);
  assertEquals(plotClustering(asText), plotClustering(rows));
});

Deno.test("plotClusteringAppendix() draws a panel per layer, kind and method", async () => {
  const rows = fixture();
  const svg = plotClusteringAppendix(rows);
  assertEquals(count(svg, /<circle/g), rows.length);
  for (const label of ["ssm t-SNE", "ssm PC", "conv t-SNE", "conv PC", "layer"]) {
    assert(svg.includes(`>${label}<`), `missing ${label}`);
  }
  // The legend names every task once, and the hollow dots.
  for (const task of TASKS) assertEquals(count(svg, new RegExp(`>${task}<`, "g")), 1, task);
  assert(svg.includes(">hollow: shuffled outputs<"));
  await assertSvgSnapshot(svg, "clustering_appendix");
});

Deno.test("plotClusteringAppendix() scales a panel's controls with its other points", () => {
  // One panel: two filled dots at x = 0 and 10, a control at x = 5, all at one y: the control
  // sits halfway between the others and every dot on the panel's middle line.
  const at = (x: number, randomized: boolean, set: number): ClusteringPointRow => ({
    task: "antonym",
    randomized,
    set,
    layer: 0,
    kind: "ssm",
    method: "tsne",
    x,
    y: 3,
  });
  const svg = plotClusteringAppendix([at(0, false, 0), at(10, false, 1), at(5, true, 0)]);
  const circles = [...svg.matchAll(/<circle[^>]*>/g)].map((m) => m[0]);
  const attr = (c: string, name: string) => Number(c.match(new RegExp(` ${name}="([^"]+)"`))![1]);
  assertEquals(circles.length, 3);
  const [control, a, b] = circles; // controls are drawn first
  assertClose([attr(control, "cx")], [(attr(a, "cx") + attr(b, "cx")) / 2], { atol: 1e-6 });
  assertEquals(new Set(circles.map((c) => attr(c, "cy"))).size, 1);
});
