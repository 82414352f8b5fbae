/**
 * State Soup: Mamba states as reusable skills. The library under the notebooks.
 *
 * @module
 */
export * from "./util/mod.ts";
export * from "./npy/mod.ts";
export * from "./model/mod.ts";
export * from "./tokenizer/mod.ts";
export * from "./hub/mod.ts";
export * from "./onnx/mod.ts";
export * from "./scan/mod.ts";
export * from "./engine/mod.ts";
export * from "./states/mod.ts";
export * from "./tasks/mod.ts";
export * from "./eval/mod.ts";
export * from "./library/mod.ts";
export * from "./retrieval/mod.ts";
export * from "./mixing/mod.ts";
export * from "./data/mod.ts";
export * from "./results/mod.ts";
export * from "./plot/mod.ts";
export * from "./experiments/mod.ts";
