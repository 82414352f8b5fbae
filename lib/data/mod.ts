/** Text data for the experiments. @module */
export * from "./news.ts";
