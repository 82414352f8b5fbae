/**
 * How the figures show the methods they compare: labels, one-line descriptions and colours. The
 * ids and their order are the experiments' (`lib/mixing/methods.ts`); this is presentation, kept
 * in lib/plot so that it stays outside the partial-results cache key (recolouring a line keeps
 * every cached evaluation).
 *
 * @module
 */
import type {
  ADECAY_METHOD_IDS,
  COMPOSITION_METHOD_IDS,
  MIXING_METHOD_IDS,
} from "../mixing/methods.ts";

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

/**
 * Fig. 2's methods, in the order of {@link MIXING_METHOD_IDS}.
 *
 * @example
 * ```ts
 * import { MIXING_FIGURE_METHODS } from "./methods.ts";
 * if (MIXING_FIGURE_METHODS[3].id !== "retrieve_mix") throw new Error();
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
  {
    id: "retrieve_weighted",
    label: "query + retrieved, weighted by shots",
    describe: "(k q + S r) / (k + S): each state weighted by the demonstrations it read",
    color: "#54a24b",
  },
  {
    id: "retrieve_adecay",
    label: "retrieved then query (A-decay)",
    describe: "A-decay of the retrieved state r read first and the query state q after it",
    color: "#b279a2",
  },
  {
    id: "retrieve_picaso",
    label: "query + retrieved (PICASO)",
    describe: "A-decay of r and q averaged over both orders",
    color: "#9d755d",
  },
];

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

/**
 * The composition figure's start states, in the order of {@link COMPOSITION_METHOD_IDS}.
 *
 * @example
 * ```ts
 * import { COMPOSITION_FIGURE_METHODS } from "./methods.ts";
 * if (COMPOSITION_FIGURE_METHODS.find((m) => m.id === "picaso")?.label !== "PICASO") throw new Error();
 * ```
 */
export const COMPOSITION_FIGURE_METHODS: readonly (MethodInfo & {
  id: typeof COMPOSITION_METHOD_IDS[number];
})[] = [
  { id: "sequential", label: "x1 then x2", describe: "the state after reading x1 then x2" },
  { id: "x2_only", label: "x2 only", describe: "the state of x2 read from zeros" },
  { id: "mean", label: "mean", describe: "the mean of the states of x1 and of x2" },
  { id: "sum", label: "sum", describe: "state(x1) + state(x2): A-decay without the decay" },
  {
    id: "weighted",
    label: "weighted",
    describe: "A-decay with one decay w, the mean of its decays, for every element",
  },
  {
    id: "adecay",
    label: "A-decay",
    describe: "A-decay, the conv window sliding over x1 then x2 (x1's conv state carried)",
  },
  {
    id: "adecay_no_conv",
    label: "A-decay, x2's conv",
    describe: "A-decay with x2's own conv state (x1's dropped)",
  },
  {
    id: "picaso",
    label: "PICASO",
    describe: "A-decay averaged over both orders of x1 and x2",
  },
];
