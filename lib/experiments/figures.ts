/**
 * The one list of the figures (the paper's, then those beyond it): for each, its id (`deno task reproduce <id>`, `results/<id>/`),
 * the notebook that reproduces it cell by cell, and how a preset runs it. `reproduce`, the
 * notebook tests and `deno task figures` (through `lib/plot/redraw.ts`, keyed by the same ids)
 * read it.
 *
 * @module
 */
import { runAdecay } from "./adecay.ts";
import { runClustering } from "./clustering.ts";
import { runComposition } from "./composition.ts";
import type { ExperimentOptions } from "./context.ts";
import { runIclVsK } from "./icl_vs_k.ts";
import { runLayers } from "./layers.ts";
import { runMixingVsK } from "./mixing_vs_k.ts";
import type { Preset } from "./presets.ts";
import { runRetrievalVsK } from "./retrieval_vs_k.ts";
import { runScale } from "./scale.ts";
import { runTaskArithmetic } from "./task_arithmetic.ts";

/** A figure of the project. */
export interface FigureEntry {
  /** Id: the `reproduce` argument and the results folder's name. */
  readonly id:
    | "icl"
    | "clustering"
    | "retrieval"
    | "mixing"
    | "adecay"
    | "arithmetic"
    | "layers"
    | "composition"
    | "scale";
  /** The notebook in `notebooks/` that reproduces it. */
  readonly notebook: string;
  /** What it shows, in one line. */
  readonly title: string;
  /** Runs it with a preset's parameters; returns the paths written. */
  readonly run: (preset: Preset, options: ExperimentOptions) => Promise<string[]>;
}

/**
 * Every figure, in the order `reproduce all` runs them.
 *
 * @example
 * ```ts
 * import { FIGURE_REGISTRY } from "./figures.ts";
 * const ids = "icl,clustering,retrieval,mixing,adecay,arithmetic,layers,composition,scale";
 * if (FIGURE_REGISTRY.map((f) => f.id).join() !== ids) {
 *   throw new Error();
 * }
 * ```
 */
export const FIGURE_REGISTRY: readonly FigureEntry[] = [
  {
    id: "icl",
    notebook: "06_icl_vs_k.ipynb",
    title: "In-context learning vs k (what the paper presumes)",
    run: (p, o) => runIclVsK(p.icl, o),
  },
  {
    id: "clustering",
    notebook: "01_clustering.ipynb",
    title: "Fig. 1 left: t-SNE/PCA of skill states",
    run: (p, o) => runClustering(p.clustering, o),
  },
  {
    id: "retrieval",
    notebook: "02_retrieval_vs_k.ipynb",
    title: "Fig. 1 right: retrieval accuracy vs k",
    run: (p, o) => runRetrievalVsK(p.retrieval, o),
  },
  {
    id: "mixing",
    notebook: "03_mixing_vs_k.ipynb",
    title: "Fig. 2: mixing and retrieval + mixing vs k",
    run: (p, o) => runMixingVsK(p.mixing, o),
  },
  {
    id: "adecay",
    notebook: "04_realnewslike_adecay.ipynb",
    title: "Fig. 3: A-decay loss on news text",
    run: (p, o) => runAdecay(p.adecay, o),
  },
  {
    id: "arithmetic",
    notebook: "05_task_arithmetic.ipynb",
    title: "Task arithmetic: the anecdote, and every composable pair of tasks",
    run: (p, o) => runTaskArithmetic(p.arithmetic, o),
  },
  {
    id: "layers",
    notebook: "07_layers.ipynb",
    title: "Beyond the paper: which layer holds the task",
    run: (p, o) => runLayers(p.layers, o),
  },
  {
    id: "composition",
    notebook: "08_composition.ipynb",
    title: "Beyond the paper: composing states beyond the mean (PICASO, A-decay's conv state)",
    run: (p, o) => runComposition(p.composition, o),
  },
  {
    id: "scale",
    notebook: "09_scale.ipynb",
    title: "Beyond the paper: retrieval from a library of 10,000 states, exact and approximate",
    run: (p, o) => runScale(p.scale, o),
  },
];
