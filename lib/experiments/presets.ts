/**
 * Named sets of parameters for every figure (the five of the paper and the ICL curve): the paper's protocol, a quick look, and the
 * model organism's run. `deno task reproduce --preset NAME` and the notebooks take them.
 *
 * @module
 */

import { PAPER_ADECAY, QUICK_ADECAY } from "./adecay.ts";
import type { AdecayParams } from "./adecay.ts";
import { PAPER_CLUSTERING, QUICK_CLUSTERING } from "./clustering.ts";
import type { ClusteringParams } from "./clustering.ts";
import { PAPER_COMPOSITION, QUICK_COMPOSITION } from "./composition.ts";
import type { CompositionParams } from "./composition.ts";
import { PAPER_MODEL } from "./context.ts";
import { PAPER_ICL_VS_K, QUICK_ICL_VS_K } from "./icl_vs_k.ts";
import type { IclVsKParams } from "./icl_vs_k.ts";
import { PAPER_LAYERS, QUICK_LAYERS } from "./layers.ts";
import type { LayersParams } from "./layers.ts";
import { MIXING_METHODS, PAPER_MIXING_VS_K, QUICK_MIXING_VS_K } from "./mixing_vs_k.ts";
import type { MixingVsKParams } from "./mixing_vs_k.ts";
import { PAPER_RETRIEVAL_VS_K, QUICK_RETRIEVAL_VS_K } from "./retrieval_vs_k.ts";
import { PAPER_SCALE, QUICK_SCALE } from "./scale.ts";
import type { ScaleParams } from "./scale.ts";
import type { RetrievalVsKParams } from "./retrieval_vs_k.ts";
import { PAPER_TASK_ARITHMETIC, QUICK_TASK_ARITHMETIC } from "./task_arithmetic.ts";
import type { TaskArithmeticParams } from "./task_arithmetic.ts";

/** The name `--model` takes for the model organism shipped in `data/models/organism/`. */
export const ORGANISM_MODEL = "organism";

/**
 * How many documents at the head of the mirror's news (in `loadNewsDocuments` order) the
 * organism never saw in training (its `training.json` lists them).
 */
export const ORGANISM_HELD_OUT_DOCUMENTS = 50;

/** Parameters of every figure and the model they default to. */
export interface Preset {
  /** Model used when none is given. */
  model: string;
  icl: IclVsKParams;
  clustering: ClusteringParams;
  retrieval: RetrievalVsKParams;
  mixing: MixingVsKParams;
  adecay: AdecayParams;
  arithmetic: TaskArithmeticParams;
  layers: LayersParams;
  composition: CompositionParams;
  scale: ScaleParams;
}

/** The preset names. */
export const PRESET_NAMES = ["paper", "quick", "organism"] as const;

/** One of {@link PRESET_NAMES}. */
export type PresetName = typeof PRESET_NAMES[number];

/**
 * The organism's preset: the ICL curve on 200 test items per task; the paper's protocol for
 * clustering, retrieval, the task arithmetic anecdote and the layer sweep (the organism is small
 * enough for it); composition on the held-out news at T = 1, 2, 3, 4 and 32 (x3 of 32 tokens).
 * mixing with 200 test items per task (the paper: 500) and every way of composing the query
 * with its retrieved state (the paper: the mean); and Fig. 3 on the organism's held-out
 * news documents only (`pool`), at T = 32 and T = 100.
 *
 * @example
 * ```ts
 * import { ORGANISM_PRESET } from "./presets.ts";
 * if (ORGANISM_PRESET.model !== "organism" || ORGANISM_PRESET.adecay.pool !== 50) throw new Error();
 * ```
 */
export const ORGANISM_PRESET: Readonly<Preset> = Object.freeze({
  model: ORGANISM_MODEL,
  icl: { ...PAPER_ICL_VS_K },
  clustering: { ...PAPER_CLUSTERING },
  retrieval: { ...PAPER_RETRIEVAL_VS_K },
  mixing: { ...PAPER_MIXING_VS_K, testItems: 200, methods: [...MIXING_METHODS] },
  adecay: {
    chunkTokens: [32, 100],
    documents: ORGANISM_HELD_OUT_DOCUMENTS,
    source: "mirror",
    batchSize: 8,
    pool: ORGANISM_HELD_OUT_DOCUMENTS,
  },
  arithmetic: { ...PAPER_TASK_ARITHMETIC },
  layers: { ...PAPER_LAYERS },
  composition: {
    chunkTokens: [1, 2, 3, 4, 32],
    evalTokens: 32,
    documents: ORGANISM_HELD_OUT_DOCUMENTS,
    source: "mirror",
    batchSize: 8,
    pool: ORGANISM_HELD_OUT_DOCUMENTS,
  },
  scale: { ...PAPER_SCALE },
});

/**
 * Every preset by name: `paper` (the paper's protocol on mamba-2.8b), `quick` (a small run on
 * mamba-130m), `organism` ({@link ORGANISM_PRESET}).
 *
 * @example
 * ```ts
 * import { PRESETS } from "./presets.ts";
 * if (PRESETS.paper.model !== "state-spaces/mamba-2.8b-hf") throw new Error();
 * ```
 */
export const PRESETS: Readonly<Record<PresetName, Readonly<Preset>>> = Object.freeze({
  paper: {
    model: PAPER_MODEL,
    icl: PAPER_ICL_VS_K,
    clustering: PAPER_CLUSTERING,
    retrieval: PAPER_RETRIEVAL_VS_K,
    mixing: PAPER_MIXING_VS_K,
    adecay: PAPER_ADECAY,
    arithmetic: PAPER_TASK_ARITHMETIC,
    layers: PAPER_LAYERS,
    composition: PAPER_COMPOSITION,
    scale: PAPER_SCALE,
  },
  quick: {
    model: "state-spaces/mamba-130m-hf",
    icl: QUICK_ICL_VS_K,
    clustering: QUICK_CLUSTERING,
    retrieval: QUICK_RETRIEVAL_VS_K,
    mixing: QUICK_MIXING_VS_K,
    adecay: QUICK_ADECAY,
    arithmetic: QUICK_TASK_ARITHMETIC,
    layers: QUICK_LAYERS,
    composition: QUICK_COMPOSITION,
    scale: QUICK_SCALE,
  },
  organism: ORGANISM_PRESET,
});
