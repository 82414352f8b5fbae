/**
 * One registry of the ways this project starts a query from states: the mixing modes of
 * `soup mix`, and the methods the figures compare (their ids in CSVs, their labels and colours
 * in plots). Experiments, plots and the command line read them from here.
 *
 * @module
 */

/** A method as the figures and tables show it. */
export interface MethodInfo {
  /** Id in CSV columns (`method`). */
  readonly id: string;
  /** Legend and axis label. */
  readonly label: string;
  /** What it is, in one line. */
  readonly describe: string;
  /** Colour in plots, when the plot colours methods. */
  readonly color?: string;
}

/** Ids of Fig. 2's methods, in table and drawing order. */
export const MIXING_METHOD_IDS = ["prompt", "mix", "query", "retrieve_mix"] as const;

/**
 * Fig. 2's methods, in the order of {@link MIXING_METHOD_IDS}.
 *
 * @example
 * ```ts
 * import { MIXING_FIGURE_METHODS } from "./methods.ts";
 * if (MIXING_FIGURE_METHODS.map((m) => m.id).join() !== "prompt,mix,query,retrieve_mix") throw new Error();
 * ```
 */
export const MIXING_FIGURE_METHODS: readonly (MethodInfo & {
  id: typeof MIXING_METHOD_IDS[number];
})[] = [
  {
    id: "prompt",
    label: "k-shot prompt",
    describe: "the query read after k demonstrations in one prompt",
    color: "#4c78a8",
  },
  {
    id: "mix",
    label: "mean of k-shot states",
    describe: "the query read from the mean of 32/k states, each from k demonstrations",
    color: "#e45756",
  },
  {
    id: "query",
    label: "k-shot query state",
    describe: "the query read from the state of its own k demonstrations",
    color: "#72b7b2",
  },
  {
    id: "retrieve_mix",
    label: "query + retrieved state (mean)",
    describe: "the query state averaged with the nearest library state",
    color: "#f58518",
  },
];

/** Ids of Fig. 3's start states, in table and drawing order. */
export const ADECAY_METHOD_IDS = ["sequential", "x2_only", "mean", "adecay"] as const;

/**
 * Fig. 3's start states for the third chunk, in the order of {@link ADECAY_METHOD_IDS}.
 *
 * @example
 * ```ts
 * import { ADECAY_FIGURE_METHODS } from "./methods.ts";
 * if (ADECAY_FIGURE_METHODS.find((m) => m.id === "adecay")?.label !== "A-decay") throw new Error();
 * ```
 */
export const ADECAY_FIGURE_METHODS: readonly (MethodInfo & {
  id: typeof ADECAY_METHOD_IDS[number];
})[] = [
  { id: "sequential", label: "x1 then x2", describe: "the state after reading x1 then x2" },
  { id: "x2_only", label: "x2 only", describe: "the state of x2 read from zeros" },
  { id: "mean", label: "mean", describe: "the mean of the states of x1 and of x2" },
  {
    id: "adecay",
    label: "A-decay",
    describe: "state(x2) + exp(A * delta_sum(x2)) * state(x1)",
  },
];

/** A mixing mode of `soup mix`. */
export interface MixMode {
  /** `--mode` value. */
  readonly id: "mean" | "weighted" | "adecay";
  /** What it computes, for the usage text. */
  readonly describe: string;
  /** States it mixes: any number from 1, or exactly 2. */
  readonly states: "any" | 2;
  /** Whether it needs `--weights`. */
  readonly weights: boolean;
  /** Whether it needs `--model` (for A_log). */
  readonly model: boolean;
}

/**
 * The modes of `soup mix`.
 *
 * @example
 * ```ts
 * import { MIX_MODES } from "./methods.ts";
 * if (MIX_MODES.map((m) => m.id).join("|") !== "mean|weighted|adecay") throw new Error();
 * ```
 */
export const MIX_MODES: readonly MixMode[] = [
  { id: "mean", describe: "the element-wise mean", states: "any", weights: false, model: false },
  {
    id: "weighted",
    describe: "sum of weight x state (task arithmetic, interpolation)",
    states: "any",
    weights: true,
    model: false,
  },
  {
    id: "adecay",
    describe: "two consecutive chunks, first then second: exact for one linear SSM layer",
    states: 2,
    weights: false,
    model: true,
  },
];
