/**
 * Fig. 2 of State Soup (and appendix Figs. 6-7): first-token accuracy against the number of
 * shots k, for k-shot prompting, the mean of totalShots / k states of k shots, a k-shot query
 * state alone, and that query state mixed with the state it retrieves from a skill library.
 *
 * @module
 */

import { MIXING_FIGURE_METHODS } from "./methods.ts";
import { Plot, renderPlot } from "./render.ts";

/**
 * One row of `accuracy.csv` as the figure reads it.
 *
 * @example
 * ```ts
 * import type { MixingAccuracyRow } from "./mixing_vs_k.ts";
 * const row: MixingAccuracyRow = { task: "mean", method: "mix", k: 4, accuracy: 0.5 };
 * if (row.k !== 4) throw new Error();
 * ```
 */
export interface MixingAccuracyRow {
  /** Task name, or `"mean"` for the mean over tasks. */
  task: string;
  /** A method of `MIXING_METHOD_IDS` (`"prompt"`, `"mix"`, `"query"`, `"retrieve_mix"`, ...). */
  method: string;
  /** Number of shots. */
  k: number;
  /** First-token accuracy in [0, 1]. */
  accuracy: number;
}

/**
 * Options of {@link plotMixingVsK}.
 *
 * @example
 * ```ts
 * import type { PlotMixingVsKOptions } from "./mixing_vs_k.ts";
 * const options: PlotMixingVsKOptions = { perTask: true, width: 600 };
 * if (!options.perTask) throw new Error();
 * ```
 */
export interface PlotMixingVsKOptions {
  /**
   * `false`: the mean over tasks (rows with task `"mean"`), prompting and mixing on the left,
   * retrieval + mixing on the right (Fig. 2), and when the rows hold the compositions beyond the
   * mean, a third panel of them beside the query state alone and the mean. `true`: one panel per task, all methods (the
   * appendix figures). @default false
   */
  perTask?: boolean;
  /** Width in pixels. @default 720 (mean; 1040 with the third panel), 900 (per task) */
  width?: number;
}

/** Methods in drawing order, with their colours and legend labels. */
const METHODS = MIXING_FIGURE_METHODS.map((m) => ({
  method: m.id,
  color: m.color!,
  label: m.label,
}));

/**
 * Fig. 2's two panels, and a third for the compositions beyond the paper's mean: which methods
 * each shows, and which of them make it drawn (the first two always are).
 */
const PANELS: readonly { panel: string; methods: readonly string[]; needs?: readonly string[] }[] =
  [
    { panel: "Mixing", methods: ["prompt", "mix"] },
    { panel: "Retrieval + mixing", methods: ["query", "retrieve_mix"] },
    {
      panel: "Retrieval + composition",
      methods: ["query", "retrieve_mix", "retrieve_weighted", "retrieve_adecay", "retrieve_picaso"],
      needs: ["retrieve_weighted", "retrieve_adecay", "retrieve_picaso"],
    },
  ];

const COLUMNS = 3;

/**
 * Draws accuracy against k (log2 axis, one tick per k in the rows) with one line per method.
 * Rows are sorted (task, method, k) first and the task panels go in alphabetical order, so the
 * SVG depends only on the set of rows. Methods not in the rows are left out of the legend;
 * unknown methods are drawn in grey.
 *
 * @param rows Accuracy rows (`accuracy.csv`).
 * @param options `perTask`, `width`.
 * @returns The SVG text.
 *
 * @example
 * ```ts
 * import { plotMixingVsK } from "./mixing_vs_k.ts";
 * const rows = [1, 2, 4].flatMap((k) => [
 *   { task: "mean", method: "prompt", k, accuracy: 0.2 * k },
 *   { task: "mean", method: "mix", k, accuracy: 0.1 * k },
 * ]);
 * const svg = plotMixingVsK(rows);
 * if (!svg.startsWith("<svg") || !svg.includes("k-shot prompt")) throw new Error(svg.slice(0, 80));
 * ```
 */
export function plotMixingVsK(
  rows: readonly MixingAccuracyRow[],
  options: PlotMixingVsKOptions = {},
): string {
  const perTask = options.perTask ?? false;
  const present = new Set(rows.map((r) => r.method));
  const methods = METHODS.filter((m) => present.has(m.method));
  const ks = [...new Set(rows.map((r) => r.k))].sort((a, b) => a - b);
  const rank = (m: string) => {
    const i = METHODS.findIndex((x) => x.method === m);
    return i < 0 ? METHODS.length : i;
  };
  const byK = (a: MixingAccuracyRow, b: MixingAccuracyRow) =>
    (a.task < b.task ? -1 : a.task > b.task ? 1 : 0) || rank(a.method) - rank(b.method) ||
    (a.method < b.method ? -1 : a.method > b.method ? 1 : 0) || a.k - b.k;
  const color = {
    domain: METHODS.map((m) => m.method),
    range: METHODS.map((m) => m.color),
    unknown: "#999999",
    legend: false,
  };
  const x = {
    type: "log" as const,
    base: 2,
    ticks: ks,
    tickFormat: (k: number) => String(k),
    label: "shots k",
    domain: ks.length ? [ks[0], ks[ks.length - 1]] : undefined,
    inset: 8,
  };
  const y = { domain: [0, 1], grid: true, label: "first-token accuracy" };

  if (!perTask) {
    const panels = PANELS.filter((p) =>
      p.needs === undefined || p.needs.some((m) => present.has(m))
    );
    const data = panels
      .flatMap((p) =>
        rows
          .filter((r) => r.task === "mean" && panelOf(r.method, p))
          .map((r) => ({ ...r, panel: p.panel }))
      )
      .sort(byK);
    // Each panel's legend in its bottom-right corner (accuracy rises with k, so that corner is
    // the emptiest), the first method on top: `rank` counts lines up from the bottom.
    const legend = panels.flatMap((p) => {
      const shown = p.methods.filter((m) => present.has(m));
      return shown.map((method, i) => ({
        panel: p.panel,
        method,
        rank: shown.length - 1 - i,
        label: METHODS.find((m) => m.method === method)!.label,
      }));
    });
    return renderPlot({
      width: options.width ?? (panels.length > 2 ? 1040 : 720),
      height: 320,
      marginTop: 28,
      x,
      y,
      fx: { domain: panels.map((p) => p.panel), label: null, padding: 0.12 },
      color,
      marks: [
        Plot.frame({ stroke: "#dddddd" }),
        Plot.line(data, { x: "k", y: "accuracy", stroke: "method", fx: "panel", z: "method" }),
        Plot.dot(data, { x: "k", y: "accuracy", fill: "method", fx: "panel", r: 3 }),
        ...[...new Set(legend.map((e) => e.rank))].map((rank) =>
          Plot.text(legend.filter((e) => e.rank === rank), {
            fx: "panel",
            text: "label",
            fill: "method",
            frameAnchor: "bottom-right",
            textAnchor: "end",
            dx: -8,
            dy: -10 - 14 * rank,
          })
        ),
      ],
    });
  }

  const tasks = [...new Set(rows.map((r) => r.task).filter((t) => t !== "mean"))].sort();
  const cell = (task: string) => {
    const i = tasks.indexOf(task);
    return { col: i % COLUMNS, row: Math.floor(i / COLUMNS) };
  };
  const data = rows.filter((r) => r.task !== "mean").map((r) => ({ ...r, ...cell(r.task) })).sort(
    byK,
  );
  const titles = tasks.map((task) => ({ task, ...cell(task) }));
  const legend = methods.map((m, rank) => ({ ...m, rank, col: 0, row: 0 }));
  const nRows = Math.max(1, Math.ceil(tasks.length / COLUMNS));
  return renderPlot({
    width: options.width ?? 900,
    height: 60 + 220 * nRows,
    x,
    y,
    fx: { axis: null, domain: [...Array(Math.min(COLUMNS, Math.max(1, tasks.length))).keys()] },
    fy: { axis: null, domain: [...Array(nRows).keys()] },
    color,
    marks: [
      Plot.frame({ stroke: "#dddddd" }),
      Plot.line(data, {
        x: "k",
        y: "accuracy",
        stroke: "method",
        fx: "col",
        fy: "row",
        z: "method",
      }),
      Plot.dot(data, { x: "k", y: "accuracy", fill: "method", fx: "col", fy: "row", r: 2.5 }),
      Plot.text(titles, {
        fx: "col",
        fy: "row",
        text: "task",
        frameAnchor: "top",
        dy: 8,
        fontWeight: "bold",
      }),
      ...legend.map((entry) =>
        Plot.text([entry], {
          fx: "col",
          fy: "row",
          text: "label",
          fill: "method",
          frameAnchor: "bottom-right",
          textAnchor: "end",
          dx: -6,
          dy: -8 - 13 * (legend.length - 1 - entry.rank),
        })
      ),
    ],
  });
}

/** Whether `panel` draws `method`; a method no panel lists is drawn in the first. */
function panelOf(method: string, panel: (typeof PANELS)[number]): boolean {
  return panel.methods.includes(method) ||
    (panel === PANELS[0] && !PANELS.some((p) => p.methods.includes(method)));
}
