/** Mamba states in memory, on disk, and in the content-addressed store. @module */
export * from "./state.ts";
export * from "./state_dir.ts";
export * from "./store.ts";
export * from "./shared.ts";
