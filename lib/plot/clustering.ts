/**
 * Fig. 1 (left) of State Soup: a 2-D embedding of k-shot prompt states, coloured by task, the
 * randomized controls hollow.
 *
 * @module
 */

import { Plot, renderPlot } from "./render.ts";

/** One row of `points.csv` as the figures read it (as `readCsv` gives it back, too). */
export type ClusteringPointRow = {
  /** Task name, without `_randomized`. */
  task: string;
  /** True (or `"true"`, as read back from CSV) for the task's randomized control. */
  randomized: boolean | string;
  /** Demonstration set, from 0. */
  set: number;
  /** Layer, from 0. */
  layer: number;
  /** `"ssm"`, `"conv"` or `"both"`. */
  kind: string;
  /** `"tsne"` or `"pca"`. */
  method: string;
  /** Embedding coordinates. */
  x: number;
  y: number;
};

/** Whether a row is a randomized control (boolean, or the text read back from CSV). */
export function isRandomizedRow(row: Pick<ClusteringPointRow, "randomized">): boolean {
  return row.randomized === true || row.randomized === "true";
}

/** Axis names of each method. */
export const METHOD_AXES: Record<string, [string, string]> = {
  tsne: ["t-SNE 1", "t-SNE 2"],
  pca: ["PC 1", "PC 2"],
};

/** Options of {@link plotClustering}. */
export interface PlotClusteringOptions {
  /** Width in pixels. @default 640 */
  width?: number;
  /** Height in pixels. @default 520 */
  height?: number;
}

/**
 * Draws one embedding (rows of a single layer, kind and method): a dot per state, filled in
 * its task's colour, hollow for the randomized control, and each task's name just above the median
 * of its own (not randomized) points, so no legend is needed. Colours follow the order in which
 * tasks first appear in the rows.
 *
 * @param rows Points of one embedding.
 * @param options `width`, `height`.
 * @returns The SVG text.
 *
 * @example
 * ```ts
 * import { plotClustering } from "./clustering.ts";
 * const rows = ["antonym", "capitalize"].flatMap((task, t) =>
 *   [false, true].flatMap((randomized) =>
 *     [0, 1, 2].map((set) => ({
 *       task, randomized, set, layer: 1, kind: "ssm", method: "tsne",
 *       x: 10 * t + set + (randomized ? 5 : 0), y: set,
 *     }))
 *   )
 * );
 * const svg = plotClustering(rows);
 * if ((svg.match(/<circle/g) ?? []).length !== 12) throw new Error("one dot per state");
 * if (!svg.includes(">antonym<")) throw new Error("task label missing");
 * ```
 */
export function plotClustering(
  rows: readonly ClusteringPointRow[],
  options: PlotClusteringOptions = {},
): string {
  const tasks = [...new Set(rows.map((r) => r.task))];
  const plain = rows.filter((r) => !isRandomizedRow(r));
  const controls = rows.filter(isRandomizedRow);
  const method = METHOD_AXES[rows[0]?.method ?? "tsne"]?.[0].replace(/ 1$/, "") ?? "";
  const where = rows.length > 0
    ? `${method} of layer ${rows[0].layer}'s ${rows[0].kind} states`
    : "";
  return renderPlot({
    width: options.width ?? 640,
    height: options.height ?? 520,
    margin: 10,
    marginTop: 24,
    inset: 16,
    x: { axis: null },
    y: { axis: null },
    color: { type: "categorical", domain: tasks, scheme: "tableau10", legend: false },
    marks: [
      Plot.frame({ stroke: "#ccc" }),
      Plot.dot(controls, { x: "x", y: "y", stroke: "task", fill: "white", r: 3.5 }),
      Plot.dot(plain, { x: "x", y: "y", fill: "task", r: 3.5 }),
      Plot.text(
        plain,
        Plot.groupZ({ x: "median", y: "median", text: "first" }, {
          x: "x",
          y: "y",
          z: "task",
          text: "task",
          fill: "task",
          stroke: "white",
          strokeWidth: 3,
          paintOrder: "stroke",
          fontWeight: "bold",
          fontSize: 11,
          dy: -14,
        }),
      ),
      Plot.text([`${where}; filled: task, hollow: the task with shuffled outputs`], {
        frameAnchor: "top-left",
        dy: -14,
        fontSize: 11,
      }),
    ],
  });
}
