/**
 * Turns any text into a skill id that is safe as a folder name.
 *
 * @module
 */

/** Longest id {@link sanitizeSkillId} returns. */
const MAX_ID_LENGTH = 128;

/**
 * What a skill id must look like: 1 to 128 ASCII letters, digits, `.`, `_` or `-`, starting with
 * a letter or digit and not ending with a dot, so it is a valid folder name on Linux, macOS and
 * Windows and never `.`, `..` or hidden.
 *
 * @example
 * ```ts
 * import { SKILL_ID_PATTERN } from "./sanitize_skill_id.ts";
 * if (!SKILL_ID_PATTERN.test("antonym-k5-seed0") || SKILL_ID_PATTERN.test("../x")) throw new Error();
 * ```
 */
export const SKILL_ID_PATTERN: RegExp = /^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,126}[A-Za-z0-9_-])?$/;

/**
 * Returns a skill id for `text`: accents dropped, every run of other characters than ASCII
 * letters, digits, `.`, `_` and `-` replaced by one `_`, leading `.`, `_`, `-` and trailing dots
 * removed, cut to 128 characters; `"skill"` when nothing is left. The result always matches
 * {@link SKILL_ID_PATTERN}; an id that already does is returned unchanged.
 *
 * @param text Anything, e.g. a task name.
 * @example
 * ```ts
 * import { sanitizeSkillId, SKILL_ID_PATTERN } from "./sanitize_skill_id.ts";
 * const id = sanitizeSkillId("../Antonyms (français)/k=5");
 * if (id !== "Antonyms_francais_k_5") throw new Error(id);
 * if (!SKILL_ID_PATTERN.test(id) || sanitizeSkillId(id) !== id) throw new Error();
 * if (sanitizeSkillId("...") !== "skill") throw new Error();
 * ```
 */
export function sanitizeSkillId(text: string): string {
  const id = String(text)
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .replace(/[^A-Za-z0-9._-]+/g, "_")
    .replace(/^[._-]+/, "")
    .slice(0, MAX_ID_LENGTH)
    .replace(/\.+$/, "");
  return id === "" ? "skill" : id;
}
