/** Mamba states on disk and in memory. @module */
export * from "./state_dir.ts";
export * from "./store.ts";
