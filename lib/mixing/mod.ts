/**
 * Mixing Mamba states: weighted sums (mean, interpolation, task arithmetic), A-decay mixing
 * of consecutive chunks and PICASO composition of chunks in no particular order.
 *
 * @module
 */
export * from "./mix_weighted.ts";
export * from "./mix_mean.ts";
export * from "./task_arithmetic.ts";
export * from "./mix_a_decay.ts";
export * from "./mix_picaso.ts";
export * from "./read_a_log.ts";
export * from "./methods.ts";
export * from "./mix_saved.ts";
