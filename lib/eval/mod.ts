/** Scoring in-context tasks. @module */
export * from "./first_token_accuracy.ts";
