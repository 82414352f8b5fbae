/**
 * Fig. 1 (right) of State Soup: how often the nearest library state of a k-shot query state is
 * of the query's task, against k.
 *
 * @module
 */

import { Plot, renderPlot } from "./render.ts";
import { taskLinesAndMean, tasksAndKs } from "./_task_lines.ts";

/** One row of `accuracy.csv` as the figure reads it. */
export interface RetrievalAccuracyRow {
  /** Task name, or `"mean"` for the mean over tasks. */
  task: string;
  /** Shots of the query. */
  k: number;
  /** Retrieval accuracy in [0, 1]. */
  accuracy: number;
}

/** Options of {@link plotRetrievalVsK}. */
export interface PlotRetrievalVsKOptions {
  /** Width in pixels. @default 640 */
  width?: number;
  /** Height in pixels. @default 420 */
  height?: number;
}

/**
 * Draws retrieval accuracy against k on a log2 axis (a tick per k in the rows): a thin
 * coloured line per task, the mean over tasks as a thick black line (named in the right margin),
 * and chance (one over the number of tasks) as a dashed rule. Task colours follow their first
 * appearance in the rows; points are drawn in order of k, so the SVG depends only on the rows.
 *
 * @param rows Accuracy rows (`accuracy.csv`), with or without `"mean"` rows.
 * @param options `width`, `height`.
 * @returns The SVG text.
 *
 * @example
 * ```ts
 * import { plotRetrievalVsK } from "./retrieval_vs_k.ts";
 * const rows = ["antonym", "capitalize", "mean"].flatMap((task, t) =>
 *   [1, 2, 4].map((k) => ({ task, k, accuracy: Math.min(1, 0.2 * k + 0.1 * t) }))
 * );
 * const svg = plotRetrievalVsK(rows);
 * if (!svg.startsWith("<svg") || !svg.includes(">mean<")) throw new Error(svg.slice(0, 80));
 * ```
 */
export function plotRetrievalVsK(
  rows: readonly RetrievalAccuracyRow[],
  options: PlotRetrievalVsKOptions = {},
): string {
  const { tasks, ks } = tasksAndKs(rows);
  return renderPlot({
    width: options.width ?? 640,
    height: options.height ?? 420,
    marginRight: 150,
    x: { type: "log", base: 2, ticks: ks, tickFormat: "d", label: "shots in the query (k)" },
    y: { domain: [0, 1], grid: true, label: "retrieval accuracy", percent: false },
    color: { type: "categorical", domain: tasks, scheme: "tableau10", legend: false },
    marks: [
      Plot.ruleY([tasks.length > 0 ? 1 / tasks.length : 0], {
        strokeDasharray: "4,3",
        stroke: "#888",
      }),
      ...taskLinesAndMean(rows, tasks),
      Plot.text(["chance"], {
        frameAnchor: "right",
        y: tasks.length > 0 ? 1 / tasks.length : 0,
        textAnchor: "start",
        dx: 8,
        fontSize: 10,
        fill: "#888",
      }),
    ],
  });
}
