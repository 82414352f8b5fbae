/** Scoring in-context tasks. @module */
export * from "./first_token_accuracy.ts";
export * from "./evaluate_task.ts";
