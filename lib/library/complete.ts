/**
 * Completing a skill library: `soup library add`'s work, as a library function.
 *
 * @module
 */
import type { Engine } from "../engine/types.ts";
import { buildStateMeta } from "../states/state_dir.ts";
import { openSharedStore, statesFromZeros } from "../states/shared.ts";
import type { State } from "../states/state.ts";
import { encodeDemos } from "../tasks/encode_demos.ts";
import { sampleDemoSets } from "../tasks/sample_demo_sets.ts";
import { splitTask } from "../tasks/split_task.ts";
import type { Task, TokenEncoder } from "../tasks/types.ts";
import type { SkillLibrary } from "./skill_library.ts";

/** Options of {@link completeLibrary}. */
export interface CompleteLibraryOptions {
  /** Model id or folder recorded in each state's meta.json. */
  model: string;
  /** Demonstrations per state. */
  k: number;
  /** States of the task, k and seed the library holds afterwards (at most). */
  count: number;
  /** Seed of the split and of the demonstration sets. */
  seed: number;
  /** Progress and outcome lines. @default console.log */
  log?: (line: string) => void;
  /** Warnings (the shared store cannot be used; waiting for another writer). @default console.error */
  warn?: (line: string) => void;
}

/** States {@link completeLibrary} reads (and adds) at a time: a stopped run keeps what it added. */
export const ADD_CHUNK = 8;

/**
 * Completes `lib` to `count` states of `task` with `k` shots and `seed`, each from a disjoint
 * demonstration set of the task's training split (the experiments' 70/30 split), read through the
 * shared state store in chunks and added as soon as read. Safe to rerun and to run beside other
 * writers (they take turns through the library's lock). States never share demonstrations: the
 * sets of one task, k and seed are one seeded sequence drawn without the items of the task's other
 * states, so a library completed in several runs (or after Ctrl-C) holds the sets one run would.
 * Refuses a library of other weights. Returns how many states were added.
 */
export async function completeLibrary(
  lib: SkillLibrary,
  engine: Engine,
  tokenizer: TokenEncoder,
  task: Task,
  options: CompleteLibraryOptions,
): Promise<number> {
  const { model, k, count, seed } = options;
  const log = options.log ?? console.log, warn = options.warn ?? console.error;
  const split = splitTask(task, { seed, testFraction: 0.3 });
  const weights = engine.identity.weights;
  if (weights === undefined) throw new Error(`engine "${engine.model}" has no weights identity`);
  // One writer at a time: which demonstrations are free and how many states are missing is
  // decided and acted on while no other process can add.
  return await lib.withLock(async () => {
    const metas = await lib.metas();
    await lib.checkWeights(weights, `model "${model}"`, metas);
    const present = lib.list({ task: task.name, k, seed }).length;
    if (present >= count) {
      log(`${present} states of ${task.name}, k=${k}, seed=${seed} present: none to add`);
      return 0;
    }
    // When the states present are the sequence's first sets, the missing ones are the next; when
    // they are not (the task's other states changed in between), they are drawn from the items
    // still free.
    const mine: number[][] = [], others = new Set<number>();
    for (const entry of lib.list({ task: task.name })) {
      const indices = (metas.get(entry.id)?.extra?.demoIndices ?? []) as number[];
      if (entry.k === k && entry.seed === seed) mine.push(indices);
      else for (const index of indices) others.add(index);
    }
    const draw = (exclude: Set<number>, most: number) => {
      const free = split.train.filter((i) => !exclude.has(i)).length;
      return sampleDemoSets(split.train, {
        count: Math.min(most, Math.floor(free / k)),
        k,
        seed,
        exclude,
      });
    };
    const sequence = draw(others, count);
    const continues = mine.every((set, i) => set.join() === sequence[i]?.join());
    const sets = continues
      ? sequence.slice(present, count)
      : draw(new Set([...others, ...mine.flat()]), count - present);
    if (present > 0) log(`${present} of ${count} states present; adding ${sets.length}`);
    const store = await openSharedStore(engine, warn);
    const idLists = sets.map((set) => encodeDemos(tokenizer, set.map((j) => task.items[j])));
    let computed = 0, found = 0;
    let states: State[] = [];
    for (const [i, set] of sets.entries()) {
      if (i % ADD_CHUNK === 0) {
        states = await statesFromZeros(engine, store, idLists.slice(i, i + ADD_CHUNK), (c, f) => {
          computed += c;
          found += f;
        });
      }
      const tokenIds = idLists[i];
      const meta = await buildStateMeta(engine, {
        model,
        tokenIds,
        extra: {
          task: task.name,
          k,
          seed,
          demoIndices: set,
          testIndices: "disjoint from the 30% test split",
        },
      });
      const entry = await lib.add(states[i % ADD_CHUNK], meta);
      log(`[${present + i + 1}/${count}] added ${entry.id} (${tokenIds.length} tokens)`);
    }
    log(
      store
        ? `${computed} states extracted, ${found} found in ${store.root}`
        : `${computed} states extracted (without the state store)`,
    );
    if (present + sets.length < count) {
      log(`only ${sets.length} disjoint ${k}-shot sets were left in ${task.name}'s training split`);
    }
    return sets.length;
  }, { onWait: (owner) => warn(`waiting for ${owner} to finish adding to ${lib.dir}`) });
}
