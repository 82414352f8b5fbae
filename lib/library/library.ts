/**
 * The skill library, one concept with two backends: labelled skill states (a task, the number
 * of demonstrations) that a query state retrieves from by cosine similarity, and that refuse
 * states of other weights.
 *
 * - `SkillLibrary`: a self-contained folder (`index.json` and one state folder per skill)
 *   that a user builds, copies and shares (`soup library add`).
 * - `SkillIndex`: skills whose states live in the shared state store, built from
 *   demonstration token ids (what the figures use: nothing is written twice).
 *
 * Both list their skills by the same filter, load one skill's state, retrieve the nearest
 * skills of query states, and check a weights fingerprint against theirs.
 *
 * @module
 */

import type { RetrieveOptions } from "../retrieval/retrieve.ts";
import type { State } from "../states/state.ts";

/** What every skill of either backend is. */
export interface Skill {
  /** Unique in its library. */
  readonly id: string;
  /** The task its demonstrations came from: the label retrieval returns. */
  readonly task: string;
  /** Number of demonstrations. */
  readonly k: number;
}

/** Which skills {@link Library.list} (and retrieval) take. */
export interface SkillFilter {
  /** Only this task. @default every task */
  task?: string;
  /** Only this number of demonstrations. @default every k */
  k?: number;
  /** Only this seed (skills of a folder library; index skills have none). @default every seed */
  seed?: number;
}

/** One retrieved skill. */
export interface SkillHit<S extends Skill = Skill> {
  /** The skill. */
  skill: S;
  /** Its state. */
  state: State;
  /** Cosine similarity to the query, in [-1, 1]. */
  score: number;
}

/** Options of {@link Library.retrieve}: the compared layer and kind, how many, which skills. */
export interface LibraryRetrieveOptions extends RetrieveOptions {
  /** Retrieve among these skills only. @default every skill */
  filter?: SkillFilter;
}

/** A skill library, whichever backend holds it (see the module documentation). */
export interface Library<S extends Skill = Skill> {
  /** The skills `filter` takes, in library order. */
  list(filter?: SkillFilter): S[];
  /** The state of skill `id`. */
  load(id: string): Promise<State>;
  /**
   * For each query state, the `k` most similar skills, best first (see `retrieve`); queries of
   * other weights than the library's are refused.
   */
  retrieve(queries: readonly State[], options: LibraryRetrieveOptions): Promise<SkillHit<S>[][]>;
  /**
   * Refuses (a one-line `SoupError` naming both) when the library holds states of weights other
   * than `weights`; `what` names where `weights` came from.
   */
  checkWeights(weights: string, what: string): Promise<void>;
}

/**
 * Whether `skill` passes `filter` (a `seed` filter passes only skills that have that seed).
 *
 * @example
 * ```ts
 * import { matchesFilter } from "./library.ts";
 * const skill = { id: "a", task: "antonym", k: 4, seed: 1 };
 * if (!matchesFilter(skill, { task: "antonym", k: 4 }) || matchesFilter(skill, { seed: 2 })) {
 *   throw new Error();
 * }
 * ```
 */
export function matchesFilter(
  skill: Skill & { seed?: number | null },
  filter: SkillFilter,
): boolean {
  return (filter.task === undefined || skill.task === filter.task) &&
    (filter.k === undefined || skill.k === filter.k) &&
    (filter.seed === undefined || skill.seed === filter.seed);
}
