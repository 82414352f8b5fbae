/** The paper's figures as experiments: compute, cache, write results. @module */
export * from "./context.ts";
