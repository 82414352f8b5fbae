/**
 * The A-decay figure (State Soup Fig. 3): loss on the third chunk from each start state.
 *
 * @module
 */

import type { Row } from "../results/csv.ts";
import { Plot, renderPlot } from "./render.ts";
import { ADECAY_FIGURE_METHODS } from "./methods.ts";

const METHODS = ADECAY_FIGURE_METHODS.map((m) => m.id);
const LABELS: Record<string, string> = Object.fromEntries(
  ADECAY_FIGURE_METHODS.map((m) => [m.id, m.label]),
);

/**
 * Renders the A-decay figure: for each method (x axis) the per-document `loss` as small grey
 * dots joined per document by faint lines, and the mean as a large coloured dot with a bar of
 * plus or minus one standard deviation; one panel per chunk length T.
 *
 * @param losses Rows of `adecay.csv` (`T`, `doc`, `method`, `loss`).
 * @param summary Rows of `summary.csv` (`T`, `method`, `measure`, `mean`, `std`); only those
 * with `measure` "loss" are drawn.
 * @returns The SVG text.
 * @example
 * ```ts
 * import { plotAdecay } from "./adecay.ts";
 * const losses = [{ T: 8, doc: "a", method: "mean", loss: 3 }, { T: 8, doc: "a", method: "adecay", loss: 2 }];
 * const summary = [{ T: 8, method: "mean", measure: "loss", mean: 3, std: 0.5, n: 1 }];
 * const svg = plotAdecay(losses, summary);
 * if (!svg.startsWith("<svg") || !svg.includes("A-decay")) throw new Error(svg.slice(0, 80));
 * ```
 */
export function plotAdecay(losses: readonly Row[], summary: readonly Row[]): string {
  const means = summary.filter((r) => r.measure === "loss");
  const bars = means.filter((r) => typeof r.std === "number");
  return renderPlot({
    width: 640,
    height: 360,
    marginLeft: 56,
    marginBottom: 40,
    fx: { label: "chunk length T (tokens)" },
    x: {
      type: "point",
      domain: METHODS,
      tickFormat: (m: string) => LABELS[m] ?? m,
      label: null,
      inset: 24,
    },
    y: { label: "loss on x3 (nats per token)", grid: true, zero: false },
    color: { domain: METHODS, legend: false },
    marks: [
      Plot.line(losses, {
        fx: "T",
        x: "method",
        y: "loss",
        z: "doc",
        stroke: "#ccc",
        strokeWidth: 0.75,
      }),
      Plot.dot(losses, { fx: "T", x: "method", y: "loss", r: 1.5, fill: "#999" }),
      Plot.ruleX(bars, {
        fx: "T",
        x: "method",
        y1: (d: Row) => Number(d.mean) - Number(d.std),
        y2: (d: Row) => Number(d.mean) + Number(d.std),
        stroke: "method",
        strokeWidth: 2,
      }),
      Plot.dot(means, { fx: "T", x: "method", y: "mean", fill: "method", r: 4.5 }),
    ],
  });
}
