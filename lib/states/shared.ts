/**
 * The state store every figure, notebook and command shares, as a command opens it for one engine,
 * and reading states from zeros through it (or straight from the engine without one).
 *
 * @module
 */
import type { Engine } from "../engine/types.ts";
import type { State } from "./state.ts";
import { loadState } from "./state_dir.ts";
import { defaultStoreRoot, StateStore } from "./store.ts";

/**
 * The shared state store ($SOUP_CACHE/states, else data/cache/states) for the engine's checkpoint
 * on the engine (whose name, a part of the keys, tells the provider). A store that
 * cannot be used is a help missed, not an error: `onWarning` says why and undefined comes back.
 *
 * @example
 * ```ts
 * import { openSharedStore, statesFromZeros } from "./shared.ts";
 * import { openEngine } from "../engine/open_engine.ts";
 * import { tinyMambaConfig, writeRandomCheckpoint } from "../model/random_checkpoint.ts";
 * const dir = await Deno.makeTempDir();
 * await writeRandomCheckpoint(`${dir}/model`, tinyMambaConfig());
 * Deno.env.set("SOUP_CACHE", `${dir}/cache`);
 * const engine = await openEngine(`${dir}/model`, { device: "cpu" });
 * const store = await openSharedStore(engine);
 * let found = 0;
 * await statesFromZeros(engine, store, [[1, 2, 3]], () => {});
 * await statesFromZeros(engine, store, [[1, 2, 3]], (_, f) => found = f);
 * if (found !== 1) throw new Error("the second read finds the stored state");
 * await engine.close();
 * ```
 */
export async function openSharedStore(
  engine: Engine,
  onWarning: (message: string) => void = (m) => console.error(m),
): Promise<StateStore | undefined> {
  const root = defaultStoreRoot();
  const weights = engine.identity.weights;
  try {
    if (weights === undefined) throw new Error(`engine "${engine.model}" has no weights identity`);
    return await StateStore.open(root, { weights, engine: engine.name, config: engine.config });
  } catch (err) {
    onWarning(
      `warning: the state store "${root}" cannot be used (${(err as Error).message}); ` +
        `reading without it`,
    );
    return undefined;
  }
}

/**
 * The states (with logits) after each id list from zeros: through `store` when there is one, else
 * straight from the engine. `onDone` gets how many were computed and how many found stored.
 */
export async function statesFromZeros(
  engine: Engine,
  store: StateStore | undefined,
  idLists: readonly number[][],
  onDone: (computed: number, found: number) => void,
): Promise<State[]> {
  if (store) {
    return await store.extract(engine, idLists.map((ids) => ({ ids })), { logits: true, onDone });
  }
  const runs = await engine.runBatch(idLists);
  onDone(idLists.length, 0);
  return runs.map((r) => r.state.withLogits(r.logits));
}

/**
 * The state (with logits) after `ids`: from zeros through the shared store (`found` is 1 when it
 * was stored before), or read on from the state folder `from` (which must be of the engine's
 * model and weights).
 */
export async function extractState(
  engine: Engine,
  ids: number[],
  options: { from?: string } = {},
): Promise<{ state: State; found: number }> {
  if (options.from === undefined) {
    const store = await openSharedStore(engine);
    let found = 0;
    const [state] = await statesFromZeros(engine, store, [ids], (_, stored) => found = stored);
    return { state, found };
  }
  const weights = engine.identity.weights;
  const start = await loadState(options.from, { config: engine.config, weights });
  const run = await engine.run(ids, { state: start });
  return { state: run.state.withLogits(run.logits), found: 0 };
}
