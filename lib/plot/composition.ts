/**
 * The composition figure: how far each way of starting x3 from the states of x1 and x2 is from
 * reading x1 then x2, per chunk length T.
 *
 * @module
 */

import type { Row } from "../results/csv.ts";
import { COMPOSITION_FIGURE_METHODS } from "./methods.ts";
import { Plot, renderPlot } from "./render.ts";

const METHODS = COMPOSITION_FIGURE_METHODS.map((m) => m.id).filter((m) => m !== "sequential");
const LABELS: Record<string, string> = Object.fromEntries(
  COMPOSITION_FIGURE_METHODS.map((m) => [m.id, m.label]),
);

/**
 * Renders the composition figure from its summary: for each method but `sequential` (x axis),
 * the mean over documents of its loss on x3 minus the loss after reading x1 then x2 (0 is
 * exact, above 0 worse), with the 95% interval of that paired difference as a bar; one panel
 * per chunk length T.
 *
 * @param summary Rows of `summary.csv` (`T`, `method`, `measure`, `minus_sequential`,
 * `ci95_low`, `ci95_high`); only those with `measure` "loss" are drawn.
 * @returns The SVG text.
 * @example
 * ```ts
 * import { plotComposition } from "./composition.ts";
 * const summary = ["mean", "adecay", "picaso"].map((method, i) => ({
 *   T: 2, method, measure: "loss", minus_sequential: 0.1 / (i + 1), ci95_low: 0, ci95_high: 0.2,
 * }));
 * const svg = plotComposition(summary);
 * if (!svg.startsWith("<svg") || !svg.includes("PICASO")) throw new Error(svg.slice(0, 80));
 * ```
 */
export function plotComposition(summary: readonly Row[]): string {
  const rows = summary.filter((r) =>
    r.measure === "loss" && r.method !== "sequential" && typeof r.minus_sequential === "number"
  );
  const bars = rows.filter((r) => typeof r.ci95_low === "number");
  const present = METHODS.filter((m) => rows.some((r) => r.method === m));
  return renderPlot({
    width: Math.max(560, 170 * new Set(rows.map((r) => r.T)).size),
    height: 380,
    marginLeft: 64,
    marginBottom: 96,
    fx: { label: "chunk length T of x1 and x2 (tokens)" },
    x: {
      type: "point",
      domain: present,
      tickFormat: (m: string) => LABELS[m] ?? m,
      tickRotate: -40,
      label: null,
      inset: 14,
    },
    y: { label: "loss on x3 minus after x1 then x2 (nats/token)", grid: true },
    color: { domain: present, scheme: "tableau10", legend: false },
    marks: [
      Plot.ruleY([0], { stroke: "#888" }),
      Plot.ruleX(bars, {
        fx: "T",
        x: "method",
        y1: "ci95_low",
        y2: "ci95_high",
        stroke: "method",
        strokeWidth: 2,
      }),
      Plot.dot(rows, { fx: "T", x: "method", y: "minus_sequential", fill: "method", r: 4.5 }),
    ],
  });
}
