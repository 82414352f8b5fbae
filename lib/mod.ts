/**
 * State Soup: Mamba states as reusable skills. The library under the notebooks.
 *
 * @module
 */
export * from "./util/mod.ts";
