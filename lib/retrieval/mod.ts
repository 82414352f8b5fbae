/**
 * Retrieving states: one layer's state as a vector, cosine similarity, batched top-k.
 *
 * @module
 */
export * from "./state_vector.ts";
export * from "./cosine_similarity.ts";
export * from "./retrieve.ts";
