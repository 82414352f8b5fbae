/**
 * The scale figure: retrieval accuracy against the library's size, and each index's recall@1
 * against its query time.
 *
 * @module
 */

import type { Row } from "../results/csv.ts";
import { Plot, renderPlot } from "./render.ts";

/**
 * Exact search's retrieval accuracy (mean over queried tasks) against library size on a log
 * axis, a line per query shot count k; the paper's library (10 states of each queried task) as
 * open circles.
 *
 * @param accuracy Rows of `accuracy.csv` (`library`, `size`, `index`, `k`, `accuracy`).
 * @example
 * ```ts
 * import { plotScale } from "./scale.ts";
 * const rows = [[80, "paper"], [159, "level 1"], [636, "level 4"]].flatMap(([size, library]) =>
 *   [1, 8].map((k) => ({ library, size, index: "exact", k, accuracy: 0.5 + k / 20 }))
 * );
 * if (!plotScale(rows).startsWith("<svg")) throw new Error();
 * ```
 */
export function plotScale(accuracy: readonly Row[]): string {
  const exact = accuracy.filter((r) => r.index === "exact")
    .map((r) => ({
      library: String(r.library),
      k: `k = ${r.k}`,
      size: Number(r.size),
      accuracy: Number(r.accuracy),
    }))
    .sort((a, b) => a.size - b.size);
  const grown = exact.filter((r) => r.library !== "paper");
  const paper = exact.filter((r) => r.library === "paper");
  const ks = [...new Set(accuracy.map((r) => Number(r.k)))].sort((a, b) => a - b).map((k) =>
    `k = ${k}`
  );
  return renderPlot({
    width: 640,
    height: 400,
    marginRight: 70,
    x: { type: "log", label: "library size (states)", grid: true },
    y: { domain: [0, 1], grid: true, label: "retrieval accuracy (exact cosine)" },
    color: { domain: ks, scheme: "viridis", legend: false },
    marks: [
      Plot.line(grown, { x: "size", y: "accuracy", stroke: "k", z: "k", strokeWidth: 2 }),
      Plot.dot(grown, { x: "size", y: "accuracy", fill: "k", r: 3 }),
      Plot.dot(paper, { x: "size", y: "accuracy", stroke: "k", r: 5, strokeWidth: 1.5 }),
      Plot.text(grown.filter((r, _i, all) => all.findLast((s) => s.k === r.k) === r), {
        x: "size",
        y: "accuracy",
        text: "k",
        fill: "k",
        textAnchor: "start",
        dx: 8,
      }),
      Plot.text(paper.slice(0, 1), {
        x: "size",
        y: 0.04,
        text: () => "paper's library",
        textAnchor: "start",
        fill: "#666",
      }),
    ],
  });
}

/**
 * At the largest library: each index's recall@1 (first hit equal to exact search's, mean over
 * k) as a dot on its row, labelled with the memory it holds and, where it keeps files on disk,
 * their size (LanceDB's table, which its search reads).
 *
 * @param accuracy Rows of `accuracy.csv` (`size`, `index`, `recall_at_1`).
 * @param indexes Rows of `indexes.csv` (`size`, `index`, `memory_mb`, and `disk_mb` where
 *   written: tables of earlier runs have none).
 * @example
 * ```ts
 * import { plotScaleIndexes } from "./scale.ts";
 * const accuracy = ["exact", "usearch"].map((index) => ({ size: 100, index, k: 1, recall_at_1: 1 }));
 * const indexes = ["exact", "usearch"].map((index) => ({ size: 100, index, memory_mb: 3 }));
 * if (!plotScaleIndexes(accuracy, indexes).includes("usearch")) throw new Error();
 * ```
 */
export function plotScaleIndexes(accuracy: readonly Row[], indexes: readonly Row[]): string {
  const largest = Math.max(...indexes.map((r) => Number(r.size)));
  const names = [
    ...new Set(indexes.filter((r) => Number(r.size) === largest).map((r) => String(r.index))),
  ];
  const points = names.map((index) => {
    const recalls = accuracy.filter((r) => Number(r.size) === largest && r.index === index)
      .map((r) => Number(r.recall_at_1));
    const s = indexes.find((r) => Number(r.size) === largest && r.index === index)!;
    const recall = recalls.reduce((a, b) => a + b, 0) / recalls.length;
    const disk = Number(s.disk_mb ?? 0) > 0 ? `, ${Number(s.disk_mb).toFixed(0)} MB of files` : "";
    return {
      index,
      recall,
      label: `${recall.toFixed(3)}, ${Number(s.memory_mb).toFixed(0)} MB in memory${disk}`,
    };
  });
  // Room for the longest name (about 8 px a character), the plot keeping its width.
  const marginLeft = Math.max(230, 8 * Math.max(...names.map((n) => n.length)));
  return renderPlot({
    width: 490 + marginLeft,
    height: 60 + 34 * names.length,
    marginLeft,
    marginRight: 250,
    x: { domain: [0, 1], grid: true, label: `recall@1 against exact search, ${largest} states` },
    y: { domain: names, label: null },
    marks: [
      Plot.dot(points, { x: "recall", y: "index", fill: "#4e79a7", r: 5 }),
      Plot.text(points, {
        x: 1,
        y: "index",
        text: "label",
        textAnchor: "start",
        dx: 12,
      }),
    ],
  });
}
