/**
 * Skill libraries: labelled states of k-shot task demonstrations, retrieved by cosine similarity;
 * two backends, a folder (`SkillLibrary`) and the shared state store (`SkillIndex`).
 *
 * @module
 */
export * from "./library.ts";
export * from "./skill_library.ts";
export * from "./sanitize_skill_id.ts";
export * from "./skill_index.ts";
export * from "./complete.ts";
