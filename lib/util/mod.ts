/** Shared utilities: typed errors and atomic writes. @module */
export * from "./errors.ts";
export * from "./atomic_write.ts";
export * from "./random.ts";
export * from "./concat.ts";
export * from "./sha256.ts";
export * from "./softmax.ts";
