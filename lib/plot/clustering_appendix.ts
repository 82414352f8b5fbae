/**
 * The appendix views of the clustering figure (State Soup, Figs. 4-5): one panel per layer
 * (columns) and state kind and method (rows).
 *
 * @module
 */

import { type ClusteringPointRow, isRandomizedRow, METHOD_AXES } from "./clustering.ts";
import { Plot, renderPlot } from "./render.ts";

/** Options of {@link plotClusteringAppendix}. */
export interface PlotClusteringAppendixOptions {
  /** Width of one panel in pixels. @default 180 */
  panelSize?: number;
}

/**
 * Draws every embedding in `rows` as a grid of panels: columns are layers (ascending), rows are
 * `<kind> <method>` (kinds in order of appearance, t-SNE before PCA). Each panel's coordinates
 * are scaled to its own extent over all its points, controls included (t-SNE and PCA of conv and
 * SSM states live on very different scales), so the axes carry no ticks. Dots are filled in their task's colour, hollow for the
 * randomized control; task colours follow their first appearance in the rows.
 *
 * @param rows Points of any number of embeddings (`points.csv`).
 * @param options `panelSize`.
 * @returns The SVG text.
 *
 * @example
 * ```ts
 * import { plotClusteringAppendix } from "./clustering_appendix.ts";
 * const rows = [0, 1].flatMap((layer) =>
 *   ["tsne", "pca"].flatMap((method) =>
 *     ["antonym", "capitalize"].flatMap((task, t) =>
 *       [false, true].map((randomized) => ({
 *         task, randomized, set: 0, layer, kind: "ssm", method, x: t + layer, y: randomized ? 1 : 0,
 *       }))
 *     )
 *   )
 * );
 * const svg = plotClusteringAppendix(rows);
 * if ((svg.match(/<circle/g) ?? []).length !== 16) throw new Error("one dot per row");
 * if (!svg.includes("ssm t-SNE")) throw new Error("panel label missing");
 * ```
 */
export function plotClusteringAppendix(
  rows: readonly ClusteringPointRow[],
  options: PlotClusteringAppendixOptions = {},
): string {
  const size = options.panelSize ?? 180;
  const tasks = [...new Set(rows.map((r) => r.task))];
  const layers = [...new Set(rows.map((r) => r.layer))].sort((a, b) => a - b);
  const kinds = [...new Set(rows.map((r) => r.kind))];
  const methods = ["tsne", "pca", ...new Set(rows.map((r) => r.method))]
    .filter((m, i, all) => all.indexOf(m) === i && rows.some((r) => r.method === m));
  const panel = (r: ClusteringPointRow) =>
    `${r.kind} ${(METHOD_AXES[r.method]?.[0] ?? r.method).replace(/ 1$/, "")}`;
  const panels = kinds.flatMap((k) =>
    methods.map((m) => panel({ kind: k, method: m } as ClusteringPointRow))
  );
  // Each panel scaled to [0, 1] over all its points (controls included); a flat extent to 0.5.
  const extents = new Map<string, [number, number, number, number]>();
  const key = (r: ClusteringPointRow) => `${r.layer}\u0000${panel(r)}`;
  for (const r of rows) {
    const e = extents.get(key(r)) ?? [Infinity, -Infinity, Infinity, -Infinity];
    extents.set(key(r), [
      Math.min(e[0], r.x),
      Math.max(e[1], r.x),
      Math.min(e[2], r.y),
      Math.max(e[3], r.y),
    ]);
  }
  const unit = (v: number, lo: number, hi: number) => (hi > lo ? (v - lo) / (hi - lo) : 0.5);
  const scaled = rows.map((r) => {
    const [x0, x1, y0, y1] = extents.get(key(r))!;
    return { ...r, x: unit(r.x, x0, x1), y: unit(r.y, y0, y1) };
  });
  const dots = (hollow: boolean) => ({
    x: "x",
    y: "y",
    fx: "layer",
    fy: panel,
    r: 2.5,
    ...(hollow ? { stroke: "task", fill: "white", strokeWidth: 1 } : { fill: "task" }),
  });
  // The legend, in the right margin: one line per task, then the hollow-dot note.
  const legend = [...tasks, "hollow: shuffled outputs"].map((text, i) =>
    Plot.text([text], {
      facet: "super",
      frameAnchor: "top-right",
      textAnchor: "start",
      dx: 12,
      dy: 14 * i,
      fontSize: 10,
      // A channel, so the colour scale maps the task name to its colour.
      fill: i < tasks.length ? () => text : "currentColor",
    })
  );
  return renderPlot({
    width: 260 + size * layers.length,
    height: 50 + size * panels.length,
    marginLeft: 90,
    marginRight: 170,
    inset: 8,
    x: { axis: null, domain: [0, 1] },
    y: { axis: null, domain: [0, 1] },
    fx: { domain: layers, label: "layer", axis: "top" },
    fy: { domain: panels, label: null, axis: "left" },
    color: { type: "categorical", domain: tasks, scheme: "tableau10", legend: false },
    marks: [
      Plot.frame({ stroke: "#ccc" }),
      Plot.dot(scaled.filter(isRandomizedRow), dots(true)),
      Plot.dot(scaled.filter((r) => !isRandomizedRow(r)), dots(false)),
      ...legend,
    ],
  });
}
