/**
 * Skill libraries: states of k-shot task demonstrations on disk, indexed by task, k and seed.
 *
 * @module
 */
export * from "./skill_library.ts";
export * from "./sanitize_skill_id.ts";
export * from "./skill_index.ts";
export * from "./complete.ts";
