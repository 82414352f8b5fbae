/** Mamba checkpoints: config, safetensors, weights, random checkpoints, reference forward. @module */
export * from "./config.ts";
export * from "./safetensors.ts";
export * from "./write_safetensors.ts";
export * from "./weights.ts";
export * from "./random_checkpoint.ts";
export * from "./reference_forward.ts";
export * from "./fingerprint.ts";
export * from "./describe.ts";
