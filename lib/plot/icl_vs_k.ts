/**
 * The in-context learning curve: first-token accuracy of k-shot prompts against k, one line per
 * task and a bold line for the mean over tasks.
 *
 * @module
 */

import { renderPlot } from "./render.ts";
import { taskLinesAndMean, tasksAndKs } from "./_task_lines.ts";

/** One row of `results/icl/accuracy.csv` as the figure reads it. */
export interface IclAccuracyRow {
  /** Task name, or `"mean"` for the mean over tasks. */
  task: string;
  /** Demonstrations in the prompt. */
  k: number;
  /** First-token accuracy in [0, 1]. */
  accuracy: number;
}

/**
 * An SVG of accuracy against k (k = 0 included: the axis is a point scale of the ks measured).
 *
 * @example
 * ```ts
 * import { plotIclVsK } from "./icl_vs_k.ts";
 * const svg = plotIclVsK([
 *   { task: "antonym", k: 0, accuracy: 0.1 }, { task: "antonym", k: 4, accuracy: 0.8 },
 *   { task: "mean", k: 0, accuracy: 0.1 }, { task: "mean", k: 4, accuracy: 0.8 },
 * ]);
 * if (!svg.startsWith("<svg")) throw new Error(svg.slice(0, 40));
 * ```
 */
export function plotIclVsK(
  rows: readonly IclAccuracyRow[],
  options: { width?: number; height?: number } = {},
): string {
  const { tasks, ks } = tasksAndKs(rows);
  return renderPlot({
    width: options.width ?? 640,
    height: options.height ?? 420,
    marginRight: 150,
    x: { type: "point", domain: ks, label: "demonstrations in the prompt (k)" },
    y: { domain: [0, 1], grid: true, label: "first-token accuracy" },
    color: { type: "categorical", domain: tasks, scheme: "tableau10", legend: false },
    marks: [
      ...taskLinesAndMean(rows, tasks),
    ],
  });
}
