/**
 * Beyond the paper: which layer holds the task. Per layer, retrieval accuracy at each k and the
 * cluster scores of the library states, one panel per measure, one line per state part.
 *
 * @module
 */

import { Plot, renderPlot } from "./render.ts";

/** One row of the layer sweep's `summary.csv` as the figure reads it. */
export interface LayersSummaryRow {
  /** Layer, from 0. */
  layer: number;
  /** State part: `ssm`, `conv` or `both`. */
  kind: string;
  /** `retrieval`, `knn` or `silhouette`. */
  measure: string;
  /** Shots of the queries (`retrieval` rows); null or empty otherwise. */
  k: number | null | string;
  /** The measure's value. */
  value: number;
}

const KIND_COLORS: Record<string, string> = { ssm: "#4e79a7", conv: "#f28e2b", both: "#59a14f" };

/** The panel of a row: `retrieval k=<k>`, `k-NN accuracy`, `silhouette`. */
function panelOf(r: LayersSummaryRow): string {
  if (r.measure === "retrieval") return `retrieval, k=${Number(r.k)}`;
  return r.measure === "knn" ? "k-NN accuracy" : r.measure;
}

/**
 * Draws the layer sweep: panels left to right for retrieval accuracy at each k (ascending), the
 * library states' nearest-neighbour accuracy and their silhouette, each against the layer, a
 * line and dots per state part (ssm blue, conv orange, both green). The y axis runs from 0 (or
 * the lowest silhouette below it) to 1. Points are drawn sorted, so the SVG depends only on the
 * rows.
 *
 * @example
 * ```ts
 * import { plotLayers } from "./layers.ts";
 * const rows = [0, 1, 2, 3].flatMap((layer) => ["ssm", "conv"].flatMap((kind) => [
 *   { layer, kind, measure: "retrieval", k: 1, value: 0.2 * layer },
 *   { layer, kind, measure: "knn", k: null, value: 0.25 * layer },
 *   { layer, kind, measure: "silhouette", k: null, value: 0.1 * layer - 0.1 },
 * ]));
 * const svg = plotLayers(rows);
 * if (!svg.startsWith("<svg") || !svg.includes("silhouette")) throw new Error(svg.slice(0, 80));
 * ```
 */
export function plotLayers(
  rows: readonly LayersSummaryRow[],
  options: { width?: number; height?: number } = {},
): string {
  const ks = [
    ...new Set(rows.filter((r) => r.measure === "retrieval").map((r) => Number(r.k))),
  ].sort((a, b) => a - b);
  const panels = [
    ...ks.map((k) => `retrieval, k=${k}`),
    ...["knn", "silhouette"].filter((m) => rows.some((r) => r.measure === m))
      .map((m) => panelOf({ layer: 0, kind: "", measure: m, k: null, value: 0 })),
  ];
  const kinds = [...new Set(rows.map((r) => r.kind))];
  const layers = [...new Set(rows.map((r) => Number(r.layer)))].sort((a, b) => a - b);
  const data = rows
    .map((r) => ({
      layer: Number(r.layer),
      kind: r.kind,
      value: Number(r.value),
      panel: panelOf(r),
    }))
    .sort((a, b) =>
      panels.indexOf(a.panel) - panels.indexOf(b.panel) ||
      kinds.indexOf(a.kind) - kinds.indexOf(b.kind) || a.layer - b.layer
    );
  const low = Math.min(0, ...data.map((d) => d.value));
  const legend = kinds.map((kind, rank) => ({ kind, rank, panel: panels[0] }));
  return renderPlot({
    width: options.width ?? Math.max(480, 150 * panels.length),
    height: options.height ?? 300,
    marginTop: 28,
    x: {
      ticks: layers.length <= 12 ? layers : undefined,
      tickFormat: "d",
      label: "layer",
      inset: 6,
    },
    y: { domain: [Math.floor(low * 10) / 10, 1], grid: true, label: "score" },
    fx: { domain: panels, label: null, padding: 0.1 },
    color: {
      domain: kinds,
      range: kinds.map((k) => KIND_COLORS[k] ?? "#999999"),
      legend: false,
    },
    marks: [
      Plot.frame({ stroke: "#dddddd" }),
      Plot.ruleY([0], { stroke: "#bbbbbb" }),
      Plot.line(data, { x: "layer", y: "value", stroke: "kind", z: "kind", fx: "panel" }),
      Plot.dot(data, { x: "layer", y: "value", fill: "kind", fx: "panel", r: 2.5 }),
      ...legend.map((entry) =>
        Plot.text([entry], {
          fx: "panel",
          text: "kind",
          fill: "kind",
          frameAnchor: "bottom-right",
          textAnchor: "end",
          dx: -6,
          dy: -6 - 14 * (kinds.length - 1 - entry.rank),
        })
      ),
    ],
  });
}
