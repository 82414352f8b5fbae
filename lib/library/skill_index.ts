/**
 * A skill library as a labelled index over the state store: each skill is a label (the task),
 * its k, seed and demonstrations, and the store key of its state. The states themselves live
 * once in the content-addressed store (`lib/states/store.ts`), shared with every figure and
 * command that reads the same tokens with the same model; the index holds only what names them,
 * and only the layers a use asks for are stored and held.
 *
 * The experiments build their libraries with it (the retrieval figure and retrieve_mix in the
 * mixing figure), and `soup library add` extracts through the same store before it writes the
 * library's state folders.
 *
 * @module
 */

import { retrieve, type RetrieveOptions } from "../retrieval/retrieve.ts";
import { type Library, type LibraryRetrieveOptions, matchesFilter } from "./library.ts";
import type { Skill, SkillFilter, SkillHit } from "./library.ts";
import type { State } from "../states/state.ts";
import type { BatchRunner, StateStore } from "../states/store.ts";
import { SoupError } from "../util/errors.ts";

/** A skill to index: its label and the tokens that produce its state. */
export interface SkillSpec {
  /** The task (the label retrieval returns). */
  task: string;
  /** Demonstrations it was made of. */
  k: number;
  /** Which of the task's sets it is (position among the task's specs when not given). */
  index?: number;
  /** The demonstrations' item indices in the task, when known. */
  demos?: readonly number[];
  /** Token ids read from the zero state. */
  ids: readonly number[];
}

/** One indexed skill. */
export interface IndexedSkill extends Skill {
  /** `<task>#<index>`: unique in the index. */
  readonly id: string;
  /** Its position among its task's skills. */
  readonly index: number;
  readonly demos?: readonly number[];
  /** Its state's key in the store. */
  readonly key: string;
  /** How many tokens produced it. */
  readonly tokens: number;
}

/** Options of {@link SkillIndex.build}. */
export interface BuildIndexOptions {
  /** Layers to store and hold (all a use needs: one layer to retrieve, all to mix). @default all */
  layers?: readonly number[];
  /** Sequences per engine call. @default 8 */
  batchSize?: number;
  /** Progress of the extraction: states done (computed or found) and all. */
  onProgress?: (done: number, total: number) => void;
  /** Called at the end with how many distinct states were computed and found stored. */
  onDone?: (computed: number, found: number) => void;
}

/**
 * A skill library over the shared state store (the other backend of the skill library concept
 * of `library.ts`, beside the folder backend `SkillLibrary`): labelled skills whose states are
 * in a {@link StateStore}. Build one with {@link SkillIndex.build}; the states it holds are
 * those of the layers asked for.
 *
 * @example
 * ```ts
 * import { SkillIndex } from "./skill_index.ts";
 * import { StateStore } from "../states/store.ts";
 * import { ReferenceEngine } from "../engine/mod.ts";
 * import { tinyMambaConfig, weightsFingerprint, writeRandomCheckpoint } from "../model/mod.ts";
 * const dir = await Deno.makeTempDir();
 * await writeRandomCheckpoint(`${dir}/m`, tinyMambaConfig({ numHiddenLayers: 2 }));
 * const engine = await ReferenceEngine.load(`${dir}/m`);
 * const store = await StateStore.open(`${dir}/states`, {
 *   weights: await weightsFingerprint(`${dir}/m`), engine: engine.name, config: engine.config,
 * });
 * const index = await SkillIndex.build(store, engine, [
 *   { task: "a", k: 1, ids: [1, 2] }, { task: "b", k: 1, ids: [3, 4] },
 * ], { layers: [1] });
 * const { state: query } = await engine.run([1, 2]);
 * const [[hit]] = await index.retrieve([query.select([1])], { layer: 1 });
 * if (hit.skill.task !== "a" || Math.abs(hit.score - 1) > 1e-6) throw new Error("itself first");
 * ```
 */
export class SkillIndex implements Library<IndexedSkill> {
  /** The store the states are in. */
  readonly store: StateStore;
  /** The layers each held state holds. */
  readonly layers: readonly number[];
  readonly #skills: readonly IndexedSkill[];
  readonly #states: readonly State[];

  private constructor(
    store: StateStore,
    layers: readonly number[],
    skills: IndexedSkill[],
    states: State[],
  ) {
    this.store = store;
    this.layers = layers;
    this.#skills = skills;
    this.#states = states;
  }

  /**
   * Indexes `specs`: their states (of `layers`) come from `store`, computed with `engine` in
   * batches by length where the store lacks them.
   */
  static async build(
    store: StateStore,
    engine: BatchRunner,
    specs: readonly SkillSpec[],
    options: BuildIndexOptions = {},
  ): Promise<SkillIndex> {
    const layers = options.layers ??
      Array.from({ length: store.identity.config.numHiddenLayers }, (_, i) => i);
    const seen = new Map<string, number>();
    const skills: IndexedSkill[] = [];
    for (const spec of specs) {
      if (typeof spec.task !== "string" || spec.task === "") {
        throw new SoupError(`Cannot index a skill: its task must be a non-empty string`);
      }
      const index = spec.index ?? seen.get(spec.task) ?? 0;
      seen.set(spec.task, index + 1);
      const id = `${spec.task}#${index}`;
      if (skills.some((s) => s.id === id)) {
        throw new SoupError(`Cannot index two skills as "${id}"`);
      }
      skills.push({
        id,
        task: spec.task,
        k: spec.k,
        index,
        ...(spec.demos ? { demos: [...spec.demos] } : {}),
        key: await store.key({ ids: spec.ids }),
        tokens: spec.ids.length,
      });
    }
    const states = await store.extract(engine, specs.map((s) => ({ ids: s.ids })), {
      layers,
      batchSize: options.batchSize,
      onProgress: options.onProgress,
      onDone: options.onDone,
    });
    return new SkillIndex(store, [...layers], skills, states.map((s) => s.withLogits(undefined)));
  }

  /** The skills `filter` takes, in the order of the specs. */
  list(filter: SkillFilter = {}): IndexedSkill[] {
    return this.#skills.filter((s) => matchesFilter(s, filter));
  }

  /** The state of skill `id` (the layers the index holds). */
  state(id: string): State {
    const i = this.#skills.findIndex((s) => s.id === id);
    if (i < 0) throw new SoupError(`The skill index has no skill "${id}"`);
    return this.#states[i];
  }

  /** The state of skill `id`, as {@link Library.load} gives it. */
  // deno-lint-ignore require-await
  async load(id: string): Promise<State> {
    return this.state(id);
  }

  /**
   * Refuses when `weights` are not the store's (every state of the index is the store's).
   *
   * @example
   * ```ts ignore
   * await index.checkWeights(engine.identity.weights!, "the engine");
   * ```
   */
  // deno-lint-ignore require-await
  async checkWeights(weights: string, what: string): Promise<void> {
    const own = this.store.identity.weights;
    if (own !== undefined && own !== weights) {
      throw new SoupError(
        `The skill index over store "${this.store.root}" holds states of other weights ` +
          `(fingerprint ${own}) than ${what} (${weights}), though of the same shape`,
      );
    }
  }

  /**
   * For each query state, the `k` most similar skills, best first, by the cosine similarity of
   * one layer (`layer`, a model layer the index and the queries hold; `kind` ssm, conv or both),
   * among the skills `filter` takes.
   */
  // deno-lint-ignore require-await
  async retrieve(
    queries: readonly State[],
    options: LibraryRetrieveOptions,
  ): Promise<SkillHit<IndexedSkill>[][]> {
    if (!this.layers.includes(options.layer)) {
      throw new SoupError(
        `Cannot retrieve by layer ${options.layer}: the skill index holds layers ${
          this.layers.join(", ")
        }`,
      );
    }
    const { filter = {}, ...rest } = options;
    const rows = this.#skills.flatMap((s, i) => (matchesFilter(s, filter) ? [i] : []));
    if (rows.length === 0) {
      throw new SoupError(
        `Cannot retrieve: no skill of the index passes ${JSON.stringify(filter)}`,
      );
    }
    const candidates = rows.map((i) => ({ state: this.#states[i], label: this.#skills[i].task }));
    return retrieve(queries, candidates, rest as RetrieveOptions).map((hits) =>
      hits.map((h) => ({
        skill: this.#skills[rows[h.index]],
        state: this.#states[rows[h.index]],
        score: h.score,
      }))
    );
  }
}
