/**
 * One registry of the ways this project starts a query from states: the mixing modes of
 * `soup mix`, and the ids of the methods the figures compare (in CSVs, in table and drawing
 * order). Experiments, plots and the command line read them from here; how plots show them
 * (labels, colours) is `lib/plot/methods.ts`.
 *
 * @module
 */

/**
 * Ids of Fig. 2's methods, in table and drawing order: the paper's four (`PAPER_MIXING_METHOD_IDS`),
 * then the other ways of composing the query state with the state it retrieves
 * (`RETRIEVE_METHOD_IDS`).
 */
export const MIXING_METHOD_IDS = [
  "prompt",
  "mix",
  "query",
  "retrieve_mix",
  "retrieve_weighted",
  "retrieve_adecay",
  "retrieve_picaso",
] as const;

/** The methods Fig. 2 of the paper draws. */
export const PAPER_MIXING_METHOD_IDS = ["prompt", "mix", "query", "retrieve_mix"] as const;

/**
 * Fig. 2's retrieval + mixing methods: each starts the test query from the k-shot query state q
 * composed with the library state r it retrieves (`retrieve_mix`, the paper's, is their mean).
 */
export const RETRIEVE_METHOD_IDS = [
  "retrieve_mix",
  "retrieve_weighted",
  "retrieve_adecay",
  "retrieve_picaso",
] as const;

/** Ids of Fig. 3's start states, in table and drawing order. */
export const ADECAY_METHOD_IDS = ["sequential", "x2_only", "mean", "adecay"] as const;

/** Ids of the composition figure's start states, in table and drawing order. */
export const COMPOSITION_METHOD_IDS = [
  "sequential",
  "x2_only",
  "mean",
  "sum",
  "weighted",
  "adecay",
  "adecay_no_conv",
  "picaso",
] as const;

/** A mixing mode of `soup mix`. */
export interface MixMode {
  /** `--mode` value. */
  readonly id: "mean" | "weighted" | "adecay" | "picaso";
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
 * if (MIX_MODES.map((m) => m.id).join("|") !== "mean|weighted|adecay|picaso") throw new Error();
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
  {
    id: "picaso",
    describe: "chunks read from zeros, A-decay composed and averaged over every order (PICASO)",
    states: "any",
    weights: false,
    model: true,
  },
];
