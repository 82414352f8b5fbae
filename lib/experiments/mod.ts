/** The paper's figures as experiments: compute, cache, write results. @module */
export * from "./context.ts";
export * from "./clustering.ts";
export * from "./retrieval_vs_k.ts";
export * from "./mixing_vs_k.ts";
export * from "./adecay.ts";
export * from "./task_arithmetic.ts";
export * from "./icl_vs_k.ts";
export * from "./layers.ts";
export * from "./composition.ts";
export * from "./scale.ts";
export * from "./presets.ts";
export * from "./figures.ts";
export * from "./claims.ts";
export * from "./plan.ts";
