/** Result tables. @module */
export * from "./csv.ts";
