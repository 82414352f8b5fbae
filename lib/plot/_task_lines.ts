/**
 * Marks shared by the accuracy-against-k figures: one thin line per task, a legend in the right
 * margin (the mean, then the tasks in row order), and a bold line for the mean over tasks.
 *
 * @module
 */

import { Plot } from "./render.ts";

/** A row of a per-task accuracy table (`task` is `"mean"` for the mean over tasks). */
export interface TaskAccuracyRow {
  task: string;
  k: number;
  accuracy: number;
}

/** The tasks (in row order, without the mean) and the ks (ascending) of `rows`. */
export function tasksAndKs(rows: readonly TaskAccuracyRow[]): { tasks: string[]; ks: number[] } {
  return {
    tasks: [...new Set(rows.map((r) => r.task))].filter((t) => t !== "mean"),
    ks: [...new Set(rows.map((r) => r.k))].sort((a, b) => a - b),
  };
}

/** The marks for `rows` (sorted by k inside); `tasks` gives the legend's order. */
export function taskLinesAndMean(
  rows: readonly TaskAccuracyRow[],
  tasks: readonly string[],
): Plot.Markish[] {
  const byK = [...rows].sort((a, b) => a.k - b.k);
  const perTask = byK.filter((r) => r.task !== "mean");
  const mean = byK.filter((r) => r.task === "mean");
  return [
    Plot.line(perTask, { x: "k", y: "accuracy", z: "task", stroke: "task", strokeWidth: 1.2 }),
    Plot.dot(perTask, { x: "k", y: "accuracy", fill: "task", r: 2 }),
    // The legend, in the right margin: the mean, then one line per task in row order.
    ...["mean", ...tasks].map((task, i) =>
      Plot.text([task], {
        frameAnchor: "top-right",
        textAnchor: "start",
        dx: 12,
        dy: 14 * i,
        fontSize: 10,
        // A channel, so the colour scale gives the task's colour.
        ...(i === 0 ? { fill: "black", fontWeight: "bold" } : { fill: () => task }),
      })
    ),
    Plot.line(mean, { x: "k", y: "accuracy", stroke: "black", strokeWidth: 3.5 }),
    Plot.dot(mean, { x: "k", y: "accuracy", fill: "black", r: 3.5 }),
  ];
}
