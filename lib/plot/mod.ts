/** Figures: pure functions from result rows to SVG, and SVG to PNG. @module */
export * from "./render.ts";
export * from "./svg_to_png.ts";
export * from "./clustering.ts";
export * from "./clustering_appendix.ts";
export * from "./retrieval_vs_k.ts";
export * from "./mixing_vs_k.ts";
export * from "./adecay.ts";
export * from "./task_arithmetic.ts";
export * from "./icl_vs_k.ts";
export * from "./notebook.ts";
export * from "./methods.ts";
