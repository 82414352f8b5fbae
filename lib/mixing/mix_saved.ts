/**
 * Mixing saved states by a mode of the registry (`MIX_MODES`): `soup mix`'s work, as a library
 * function. Checks that the states are of one model, mixes them, and builds the mixed state's
 * meta.json (the model's identity; the inputs in `extra`).
 *
 * @module
 */
import { weightsFingerprint } from "../model/fingerprint.ts";
import { commonModel, type State, type StateMeta } from "../states/state.ts";
import { SoupError } from "../util/errors.ts";
import { MIX_MODES, type MixMode } from "./methods.ts";
import { mixADecay } from "./mix_a_decay.ts";
import { mixMean } from "./mix_mean.ts";
import { mixPicaso } from "./mix_picaso.ts";
import { mixWeighted } from "./mix_weighted.ts";
import { readALog } from "./read_a_log.ts";

/** Options of {@link mixSaved}. */
export interface MixSavedOptions {
  /** The weights of `weighted`, as the user wrote them ("0.5,0.5"). */
  weights?: string;
  /** The checkpoint folder whose A_log `adecay` and `picaso` read, resolved only when needed. */
  modelDir?: () => Promise<string>;
  /** How the checkpoint was named, for messages. */
  modelName?: string;
}

interface MixInput {
  states: (State & { readonly meta: StateMeta })[];
  names: string[];
  weights: string | undefined;
  options: MixSavedOptions;
  /** The weights fingerprint every state shares, when known. */
  fingerprint: string | undefined;
}

const IMPLEMENTATIONS: Record<MixMode["id"], (input: MixInput) => Promise<State>> = {
  mean: ({ states }) => Promise.resolve(mixMean(states)),
  weighted: ({ states, weights }) => {
    if (weights === undefined || weights === "") {
      throw new SoupError(`Missing --weights; "soup help" shows the usage`);
    }
    const w = weights.split(",").map(Number);
    if (w.length !== states.length || w.some((x) => !Number.isFinite(x))) {
      throw new SoupError(`--weights must give ${states.length} numbers, got "${weights}"`);
    }
    return Promise.resolve(mixWeighted(states, w));
  },
  adecay: async ({ states, names, options, fingerprint }) => {
    if (states.length !== 2) {
      throw new SoupError(`--mode adecay mixes two states (first, then second)`);
    }
    const second = states[1].meta;
    if (second.source !== null || second.tokenIds.length === 0) {
      throw new SoupError(
        `--mode adecay needs the second state read from zeros by "soup extract" (no --from, not ` +
          `a mix): "${names[1]}" ${
            second.source !== null ? `started from "${second.source}"` : "records no tokens"
          }`,
      );
    }
    return mixADecay(states[0], states[1], await aLogOf(options, fingerprint), {
      secondTokens: second.tokenIds.length,
    });
  },
  picaso: async ({ states, names, options, fingerprint }) => {
    // Each state's deltaSum must cover everything its ssm holds: a state read on from another
    // one sums delta over its own tokens only, so its decay of the others would fall short.
    const i = states.findIndex((s) => s.meta.source !== null);
    if (i >= 0) {
      throw new SoupError(
        `--mode picaso composes states read from zeros (no --from): "${names[i]}" started ` +
          `from "${states[i].meta.source}"`,
      );
    }
    return mixPicaso(states, await aLogOf(options, fingerprint));
  },
};

/** A_log of `--model`, after checking it is the checkpoint the states were made with. */
async function aLogOf(options: MixSavedOptions, fingerprint: string | undefined) {
  if (options.modelDir === undefined) throw new SoupError(`Missing --model`);
  const dir = await options.modelDir();
  if (fingerprint !== undefined && (await weightsFingerprint(dir)) !== fingerprint) {
    throw new SoupError(
      `Cannot mix with the A of --model "${options.modelName ?? dir}": the states were made ` +
        `with other weights (fingerprint ${fingerprint})`,
    );
  }
  return await readALog(dir);
}

/**
 * Mixes saved states (`names`: their folders, for messages) by `mode`, after checking they are of
 * one model (config hash, every known weights fingerprint, shape). Each state carries the meta
 * of its folder (as `loadState` returns it). Returns the mix with its meta.json (`state.meta`):
 * ready for `saveState`.
 *
 * @example
 * ```ts
 * import { mixSaved } from "./mix_saved.ts";
 * import { State } from "../states/state.ts";
 * import { stateShapeOf } from "../states/state_dir.ts";
 * import { configHash } from "../model/config.ts";
 * import { tinyMambaConfig } from "../model/random_checkpoint.ts";
 * const config = tinyMambaConfig();
 * const meta = {
 *   model: "tiny", configHash: await configHash(config), shape: stateShapeOf(config),
 *   tokenIds: [1], source: null, engine: "reference", created: "",
 * };
 * const a = State.zeros(config).withMeta(meta), b = State.zeros(config).withMeta(meta);
 * a.ssm[0] = 1;
 * const mixed = await mixSaved("mean", [a, b], ["a", "b"]);
 * if (mixed.ssm[0] !== 0.5 || mixed.meta?.engine !== "mix-mean") throw new Error();
 * ```
 */
export async function mixSaved(
  mode: string,
  states: readonly State[],
  names: string[],
  options: MixSavedOptions = {},
): Promise<State> {
  const spec = MIX_MODES.find((m) => m.id === mode);
  if (spec === undefined) {
    throw new SoupError(`--mode must be ${MIX_MODES.map((m) => m.id).join(", ")}, got "${mode}"`);
  }
  const fingerprint = commonModel(states, "mix states", { name: (i) => `"${names[i]}"` })
    .identity?.weights;
  const saved = states.map((s, i) => {
    if (!s.meta) {
      throw new SoupError(`Cannot mix "${names[i]}": it has no meta.json (load it with loadState)`);
    }
    return s as State & { readonly meta: StateMeta };
  });
  const state = await IMPLEMENTATIONS[spec.id]({
    states: saved,
    names,
    weights: options.weights,
    options,
    fingerprint,
  });
  const { model, configHash, shape } = saved[0].meta;
  return state.withLogits(undefined).withMeta({
    // The model's identity, not the first input's text or tokens: the inputs are in extra.
    model,
    configHash,
    ...(fingerprint !== undefined ? { weightsFingerprint: fingerprint } : {}),
    shape,
    tokenIds: [],
    source: null,
    engine: `mix-${mode}`,
    created: new Date().toISOString(),
    extra: { mode, states: names, weights: options.weights ?? null },
  });
}
