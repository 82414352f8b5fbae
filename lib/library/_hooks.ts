/**
 * Private test seams of the skill library: called at the points where a crash would do the
 * most harm, so that tests can simulate one. Never set outside tests.
 *
 * @module
 */

/** Functions {@link SkillLibrary.add} calls when they are set. */
export const libraryHooks: {
  /** After the state folder is in place, before index.json is rewritten. */
  afterStateWritten?: (folder: string) => void | Promise<void>;
} = {};
