/** Locating models, tokenizers and data: local folders, mirror, HF cache, hub. @module */
export * from "./sources.ts";
export * from "./resolve.ts";
