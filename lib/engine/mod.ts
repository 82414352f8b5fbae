/** Running Mamba: the engine interface and its implementations. @module */
export * from "./types.ts";
export * from "./reference_engine.ts";
export * from "./onnx_engine.ts";
export * from "./open_engine.ts";
export * from "./generate.ts";
