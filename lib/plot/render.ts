/**
 * Observable Plot rendered headless: a virtual `document` from linkedom, the figure's
 * `outerHTML` as SVG. Plot functions stay pure (rows in, SVG out) and run in tests, tasks and
 * notebooks alike.
 *
 * @module
 */

import * as Plot from "npm:@observablehq/plot@0.6.17";
import { parseHTML } from "npm:linkedom@0.18.15";

export { Plot };

/**
 * Renders `Plot.plot(options)` to an SVG string (with the xmlns attributes a standalone file
 * needs). A legend, when asked for, makes Plot return a `<figure>`; use `svgOnly` options.
 *
 * @example
 * ```ts
 * import { Plot, renderPlot } from "./render.ts";
 * const svg = renderPlot({ marks: [Plot.dot([{ x: 1, y: 2 }], { x: "x", y: "y" })] });
 * if (!svg.startsWith("<svg") || !svg.includes("<circle")) throw new Error(svg.slice(0, 80));
 * ```
 */
export function renderPlot(options: Plot.PlotOptions): string {
  const { document } = parseHTML("<!DOCTYPE html><html><body></body></html>") as unknown as {
    document: unknown;
  };
  const fig = Plot.plot({ ...options, document } as Plot.PlotOptions) as unknown as {
    outerHTML: string;
    tagName: string;
  };
  let svg = fig.outerHTML;
  if (fig.tagName.toLowerCase() !== "svg") {
    throw new Error(
      "renderPlot() renders single SVG plots; drop the legend option or use color: { legend: false }",
    );
  }
  if (!svg.includes('xmlns="http://www.w3.org/2000/svg"')) {
    svg = svg.replace("<svg", '<svg xmlns="http://www.w3.org/2000/svg"');
  }
  return svg;
}
