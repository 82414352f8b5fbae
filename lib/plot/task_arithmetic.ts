/**
 * The task arithmetic figure: probability of each target answer after the query against the
 * weight of the translation state in the mix.
 *
 * @module
 */

import type { Row } from "../results/csv.ts";
import { Plot, renderPlot } from "./render.ts";
import { taskLinesAndMean, tasksAndKs } from "./_task_lines.ts";

/**
 * Options of {@link plotTaskArithmetic}.
 *
 * @example
 * ```ts
 * import type { PlotTaskArithmeticOptions } from "./task_arithmetic.ts";
 * const options: PlotTaskArithmeticOptions = { mode: "add" };
 * if (options.mode !== "add") throw new Error();
 * ```
 */
export interface PlotTaskArithmeticOptions {
  /** How the states were mixed, for the x axis label. @default "interpolate" */
  mode?: "interpolate" | "add";
}

/**
 * Renders target probability (y) against the weight w of the translation state (x), one line
 * per target, named in a legend drawn with marks in the right margin.
 *
 * @param targets Rows of `targets.csv` (`weight`, `target`, `probability`).
 * @param options `mode`.
 * @returns The SVG text.
 * @example
 * ```ts
 * import { plotTaskArithmetic } from "./task_arithmetic.ts";
 * const rows = [0, 1].flatMap((weight) => [
 *   { weight, target: "fifteen", probability: 0.6 - 0.5 * weight },
 *   { weight, target: "quinze", probability: 0.1 + 0.5 * weight },
 * ]);
 * const svg = plotTaskArithmetic(rows);
 * if (!svg.startsWith("<svg") || !svg.includes("quinze")) throw new Error(svg.slice(0, 80));
 * ```
 */
export function plotTaskArithmetic(
  targets: readonly Row[],
  options: PlotTaskArithmeticOptions = {},
): string {
  const x = options.mode === "add"
    ? "weight w of the translation state (count + w · translation)"
    : "weight w of the translation state ((1 − w) · count + w · translation)";
  const names = [...new Set(targets.map((r) => String(r.target)))];
  return renderPlot({
    width: 640,
    height: 360,
    marginRight: 110,
    x: { label: x },
    y: { label: "probability of the answer's first token", grid: true, zero: true },
    color: { domain: names, legend: false },
    marks: [
      Plot.line(targets, { x: "weight", y: "probability", z: "target", stroke: "target" }),
      Plot.dot(targets, { x: "weight", y: "probability", fill: "target", r: 3 }),
      // A legend drawn with marks in the right margin: one coloured name per target.
      ...names.map((name, i) =>
        Plot.text([name], {
          frameAnchor: "right",
          dx: 14,
          dy: (i - (names.length - 1) / 2) * 16,
          text: (d: string) => `\u25cf ${d}`,
          fill: (d: string) => d,
          textAnchor: "start",
        })
      ),
    ],
  });
}

/**
 * The quantified task arithmetic: for each pair of tasks (a thin coloured line, "f -> g") and
 * their mean over pairs (thick black), the share of queries whose most probable next token is
 * the composed answer's g(f(x)), against the weight w of g's state in (1 - w) f + w g (w = 0 is
 * f alone, w = 1 g alone).
 *
 * @param rates Rows of `rates.csv` (`first`, `second`, `weight`, `composed`).
 * @returns The SVG text.
 * @example
 * ```ts
 * import { plotArithmeticPairs } from "./task_arithmetic.ts";
 * const rates = [0, 0.5, 1].flatMap((weight) => [
 *   { first: "antonym", second: "capitalize", weight, composed: weight / 2 },
 *   { first: "mean", second: "mean", weight, composed: weight / 2 },
 * ]);
 * const svg = plotArithmeticPairs(rates);
 * if (!svg.startsWith("<svg") || !svg.includes("antonym -&gt; capitalize")) throw new Error(svg.slice(0, 80));
 * ```
 */
export function plotArithmeticPairs(rates: readonly Row[]): string {
  const rows = rates.map((r) => ({
    task: r.first === "mean" ? "mean" : `${r.first} -> ${r.second}`,
    k: Number(r.weight),
    accuracy: Number(r.composed),
  }));
  const { tasks, ks } = tasksAndKs(rows);
  return renderPlot({
    width: 720,
    height: 420,
    marginRight: 230,
    x: {
      ticks: ks,
      tickFormat: (w: number) => String(w),
      label: "weight w of the second task's state: (1 - w) first + w second",
    },
    y: { domain: [0, 1], grid: true, label: "share of queries answered g(f(x))" },
    color: { type: "categorical", domain: tasks, scheme: "tableau10", legend: false },
    marks: taskLinesAndMean(rows, tasks),
  });
}
