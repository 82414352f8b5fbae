/**
 * A saved Mamba state on disk: a folder of NumPy files any tool can load.
 *
 * | file        | dtype   | shape                      | meaning                               |
 * | ----------- | ------- | -------------------------- | ------------------------------------- |
 * | conv.npy    | float32 | (L, d_in, K)               | last K pre-conv inputs per layer      |
 * | ssm.npy     | float32 | (L, d_in, n)               | SSM state per layer                   |
 * | delta_sum.npy | float32 | (L, d_in)                | sum of delta over the tokens read     |
 * | logits.npy  | float32 | (V)                        | logits after the last token           |
 * | meta.json   |         |                            | model id, config hash, token ids, ... |
 *
 * The folder is written under a temporary name and renamed into place, so a reader never sees
 * half of it. Replacing an existing folder takes two renames (old one aside, new one in): a
 * crash between them leaves the old state as `<dir>.old-<pid>-*` and no `<dir>`; the next save
 * to that path puts it back first and removes what a killed writer left (`sweepLeftovers`).
 *
 * @module
 */

import { countWork } from "../util/counters.ts";
import { readStateFiles, writeStateFiles } from "./_codec.ts";
import type { MambaConfig } from "../model/config.ts";
import { configHash } from "../model/config.ts";
import { CONFIG_LIMITS } from "../model/config.ts";
import { FormatError, NotFoundError, SoupError } from "../util/errors.ts";
import { oneLine, parseJsonText, showValue } from "../util/json.ts";
import {
  checkWritable,
  inspectOwnFolder,
  swapFolder,
  sweepLeftovers,
  tempSibling,
} from "../util/output.ts";
import type { GpuAdapterInfo } from "../onnx/adapter.ts";
import { checkStateArrays, State, type StateMeta, type StateShape, stateShape } from "./state.ts";

export type { StateMeta } from "./state.ts";

/** What {@link buildStateMeta} reads of the engine that computed a state (an `Engine`). */
export interface MetaSource {
  readonly config: MambaConfig;
  readonly name: string;
  readonly identity?: { readonly configHash?: string; readonly weights?: string };
  readonly adapter?: GpuAdapterInfo;
}

/** The fields of a state's meta.json that the engine does not give. */
export interface MetaFields {
  /** Model id or folder, as the user named it. */
  model: string;
  /** Token ids read to reach the state. */
  tokenIds: number[];
  /** Text those ids came from, when known. */
  text?: string;
  /** Folder of the state it started from. @default null (zeros) */
  source?: string | null;
  /** Anything else to keep (task, k, seed, demonstrations, ...). */
  extra?: Record<string, unknown>;
}

/**
 * The one builder of a state's meta.json for a state `engine` computed: model identity (config
 * hash, weights fingerprint, shape) and engine from the engine, the rest from `fields`.
 *
 * @example
 * ```ts
 * import { buildStateMeta } from "./state_dir.ts";
 * import { tinyMambaConfig } from "../model/random_checkpoint.ts";
 * const engine = { config: tinyMambaConfig(), name: "onnx-cpu", identity: { weights: "abc" } };
 * const meta = await buildStateMeta(engine, { model: "tiny", tokenIds: [1, 2] });
 * if (meta.weightsFingerprint !== "abc" || meta.source !== null || meta.shape.layers !== 2) {
 *   throw new Error(JSON.stringify(meta));
 * }
 * ```
 */
export async function buildStateMeta(engine: MetaSource, fields: MetaFields): Promise<StateMeta> {
  const weights = engine.identity?.weights;
  return {
    model: fields.model,
    configHash: engine.identity?.configHash ?? await configHash(engine.config),
    ...(weights !== undefined ? { weightsFingerprint: weights } : {}),
    shape: stateShape(engine.config),
    tokenIds: fields.tokenIds,
    ...(fields.text !== undefined ? { text: fields.text } : {}),
    source: fields.source ?? null,
    engine: engine.name,
    ...(engine.adapter ? { adapter: engine.adapter } : {}),
    created: new Date().toISOString(),
    ...(fields.extra !== undefined ? { extra: fields.extra } : {}),
  };
}

/** Dims of a config as recorded in {@link StateMeta.shape} (the same as `stateShape`). *
 * @example
 * ```ts
 * import { stateShapeOf } from "./state_dir.ts";
 * import { tinyMambaConfig } from "../model/random_checkpoint.ts";
 * const { layers, stateSize } = stateShapeOf(tinyMambaConfig());
 * if (layers !== 2 || stateSize !== 4) throw new Error(`${layers} ${stateSize}`);
 * ```
 */
export const stateShapeOf: (config: MambaConfig) => Required<StateShape> = stateShape;

/** The files a state folder holds; a folder with anything else was not written by this tool. */
export const STATE_FILES: readonly string[] = [
  "conv.npy",
  "ssm.npy",
  "delta_sum.npy",
  "decay.npy", // the name delta_sum.npy had before, still read
  "logits.npy",
  "meta.json",
];

/**
 * What is at `path`: nothing, a state folder this tool wrote (only {@link STATE_FILES}, and a
 * meta.json with a config hash and a shape), or something else, described for a message.
 */
export async function inspectStatePath(
  path: string,
): Promise<{ kind: "missing" | "state" | "other"; what?: string }> {
  const found = await inspectOwnFolder(path, {
    allowed: (name) => STATE_FILES.includes(name),
    isOurs: (meta) => typeof meta.configHash === "string" && typeof meta.shape === "object",
  });
  return found.kind === "ours" ? { kind: "state" } : found as { kind: "missing" | "other" };
}

async function isStateFolder(path: string): Promise<boolean> {
  return (await inspectStatePath(path)).kind === "state";
}

/** Options of {@link saveState} and {@link checkStateOutput}. */
export interface SaveStateOptions {
  /** Replace a state folder this tool wrote at that path (`--force`). @default false */
  replace?: boolean;
  /** How the path was given, for messages (e.g. "--out"). */
  flag?: string;
}

/**
 * Checks, before any work, that a state folder may be written at `dir`: nothing is there, or
 * a state folder this tool wrote and `replace` is set; and the nearest existing folder on the
 * way is writable. Anything else is refused with a one-line {@link SoupError}; a file or a
 * folder of other content is never replaced, with or without `replace`.
 */
export async function checkStateOutput(dir: string, options: SaveStateOptions = {}): Promise<void> {
  const clean = dir.replace(/\/+$/, "") || dir;
  const named = options.flag ? `${options.flag} "${clean}"` : `"${clean}"`;
  const found = await inspectStatePath(clean);
  if (found.kind === "other") {
    throw new SoupError(
      `Refusing to write a state to ${named}: it is ${found.what}, not a state folder this ` +
        `tool wrote (choose another path)`,
      { file: clean },
    );
  }
  if (found.kind === "state" && !options.replace) {
    throw new SoupError(
      `${named} already holds a state: pass --force to replace it, or choose another path`,
      { file: clean },
    );
  }
  await checkWritable(clean);
}

/**
 * Writes a state folder atomically: into `<dir>.tmp-<pid>-<random>`, then renamed to `dir`. An
 * existing state folder there is replaced only with `replace`; anything else there is refused
 * (see {@link checkStateOutput}).
 *
 * @example
 * ```ts
 * import { loadState, saveState, stateShapeOf } from "./state_dir.ts";
 * import { State } from "./state.ts";
 * import { configHash } from "../model/config.ts";
 * import { tinyMambaConfig } from "../model/random_checkpoint.ts";
 * const config = tinyMambaConfig();
 * const state = State.zeros(config);
 * state.ssm[0] = 0.5;
 * const meta = {
 *   model: "tiny", configHash: await configHash(config), shape: stateShapeOf(config), tokenIds: [],
 *   source: null, engine: "example", created: new Date().toISOString(),
 * };
 * const dir = `${await Deno.makeTempDir()}/state`;
 * await saveState(dir, state.withMeta(meta));
 * if ((await loadState(dir, { config })).ssm[0] !== 0.5) throw new Error();
 * ```
 */
export async function saveState(
  dir: string,
  state: State,
  options: SaveStateOptions = {},
): Promise<void> {
  if (!(state instanceof State) || !state.meta) {
    throw new SoupError(
      `Cannot save state "${dir}": it has no meta.json to write (give one with state.withMeta)`,
    );
  }
  const meta = state.meta;
  const nl = meta.shape.layers;
  if (!state.complete) {
    throw new SoupError(
      `Cannot save state "${dir}": it holds layers ${state.layerIds.join(", ")} of ${nl}, and a ` +
        `state folder holds every layer`,
    );
  }
  checkStateArrays(state, meta.shape, `save state "${dir}"`, { needDeltaSum: true });
  const clean = dir.replace(/\/+$/, "") || "/";
  await sweepLeftovers(clean, isStateFolder);
  await checkStateOutput(clean, options);
  const tmp = tempSibling(clean);
  await Deno.mkdir(tmp, { recursive: true });
  try {
    await writeStateFiles(tmp, state, nl, meta.shape);
    await Deno.writeTextFile(`${tmp}/meta.json`, JSON.stringify(meta, null, 2) + "\n");
    countWork({ stateRows: nl, logitsStored: state.logits ? 1 : 0 });
    await swapFolder(tmp, clean, isStateFolder);
  } catch (err) {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    throw err;
  }
}

/**
 * Reads a state folder and checks its files against each other and, when given, against the
 * model's config (a state of another model or shape is refused) and weights fingerprint (a
 * state of another checkpoint of the same shape is refused, when the folder records one).
 *
 * @example
 * ```ts ignore
 * const state = await loadState("states/antonym-0", { config });
 * ```
 */
export async function loadState(
  dir: string,
  options: { config?: MambaConfig; weights?: string } = {},
): Promise<State & { readonly meta: StateMeta }> {
  const clean = dir.replace(/\/+$/, "") || "/";
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(`${clean}/meta.json`);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound || err instanceof Deno.errors.NotADirectory) {
      const info = await Deno.stat(clean).catch(() => undefined);
      const what = info === undefined
        ? "no such folder"
        : info.isDirectory
        ? "it has no meta.json (not a state folder)"
        : "it is a file, not a state folder";
      throw new NotFoundError(`Cannot read state "${clean}": ${what}`, {
        file: `${clean}/meta.json`,
      });
    }
    throw FormatError.at(`${clean}/meta.json`, String(err), err);
  }
  const meta = parseStateMeta(bytes, `${clean}/meta.json`);
  const s = meta.shape;
  if (options.config !== undefined) {
    const want = stateShapeOf(options.config);
    const hash = await configHash(options.config);
    if (JSON.stringify(want) !== JSON.stringify(s) || hash !== meta.configHash) {
      throw new SoupError(
        `Cannot use state "${clean}": it belongs to model ${showValue(meta.model)} (config ${
          oneLine(meta.configHash, 80)
        }, ` +
          `shape ${JSON.stringify(s)}), not to this model (config ${hash}, shape ${
            JSON.stringify(want)
          })`,
        { file: clean },
      );
    }
  }
  if (
    options.weights !== undefined && meta.weightsFingerprint !== undefined &&
    meta.weightsFingerprint !== options.weights
  ) {
    throw new SoupError(
      `Cannot use state "${clean}": it was made with other weights (fingerprint ${
        oneLine(meta.weightsFingerprint, 80)
      }, model ${showValue(meta.model)}) than this model's (${options.weights}), though of the ` +
        `same shape`,
      { file: clean },
    );
  }
  const arrays = await readStateFiles(clean, s.layers, s, { logits: "optional" });
  return new State(s, arrays, { meta }) as
    & State
    & { readonly meta: StateMeta };
}

/**
 * Parses and checks the text (or UTF-8 bytes) of a state folder's meta.json read from `file`:
 * an object with a `shape` of positive sizes within a config's bounds (`CONFIG_LIMITS`), a
 * string `configHash`, and, where present, string `model`, `weightsFingerprint`, `engine`,
 * `created` and `text`, a string or null `source`, non-negative integer `tokenIds` and an
 * object `extra`. Every problem is a one-line {@link FormatError} naming `file`.
 *
 * @example
 * ```ts
 * import { parseStateMeta } from "./state_dir.ts";
 * try {
 *   parseStateMeta('{"configHash": "x", "shape": {"layers": -1}}', "s/meta.json");
 *   throw new Error("parsed");
 * } catch (e) {
 *   if (!(e as Error).message.startsWith('Cannot read "s/meta.json": "shape"')) throw e;
 * }
 * ```
 */
export function parseStateMeta(text: string | Uint8Array, file: string): StateMeta {
  const json = parseJsonText(text, file);
  const fail = (problem: string): never => {
    throw FormatError.at(file, problem);
  };
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    return fail("expected a JSON object (a state's meta.json)");
  }
  const meta = json as Record<string, unknown>;
  const shape = boundedShape(meta.shape) ??
    fail(
      `"shape" must give positive layers, dInner, convKernel, stateSize and vocab ${SHAPE_BOUNDS}`,
    );
  if (typeof meta.configHash !== "string") {
    fail(`"configHash" must be a string, got ${showValue(meta.configHash)}`);
  }
  for (const key of ["model", "weightsFingerprint", "engine", "created", "text"]) {
    if (meta[key] !== undefined && typeof meta[key] !== "string") {
      fail(`"${key}" must be a string, got ${showValue(meta[key])}`);
    }
  }
  if (meta.source !== undefined && meta.source !== null && typeof meta.source !== "string") {
    fail(`"source" must be a folder or null, got ${showValue(meta.source)}`);
  }
  const ids = meta.tokenIds;
  if (ids !== undefined) {
    if (!Array.isArray(ids)) fail(`"tokenIds" must be an array, got ${showValue(ids)}`);
    const bad = (ids as unknown[]).findIndex((id) =>
      !Number.isSafeInteger(id) || (id as number) < 0
    );
    if (bad >= 0) {
      fail(`"tokenIds" ${bad} is ${showValue((ids as unknown[])[bad])}, not a token id`);
    }
  }
  if (
    meta.extra !== undefined &&
    (typeof meta.extra !== "object" || meta.extra === null || Array.isArray(meta.extra))
  ) {
    fail(`"extra" must be an object, got ${showValue(meta.extra)}`);
  }
  return { ...meta, shape } as unknown as StateMeta;
}

/** A state's sizes, in the order meta.json and index.json give them. */
export const SHAPE_KEYS = ["layers", "dInner", "convKernel", "stateSize", "vocab"] as const;

/** What {@link boundedShape} allows, for messages. */
export const SHAPE_BOUNDS =
  `(at most ${CONFIG_LIMITS.layers} layers, other sizes at most ${CONFIG_LIMITS.dim})`;

/**
 * A state's `shape` read from a file: its five sizes, positive integers within a config's
 * bounds (`CONFIG_LIMITS`), rebuilt in {@link SHAPE_KEYS}' order (so shapes compare by their
 * JSON whatever the file's order of keys or any other key it holds); undefined otherwise.
 */
export function boundedShape(s: unknown): StateMeta["shape"] | undefined {
  if (typeof s !== "object" || s === null || Array.isArray(s)) return undefined;
  const r = s as Record<string, unknown>;
  const max = (k: string) => k === "layers" ? CONFIG_LIMITS.layers : CONFIG_LIMITS.dim;
  const ok = SHAPE_KEYS.every((k) =>
    Number.isInteger(r[k]) && (r[k] as number) > 0 && (r[k] as number) <= max(k)
  );
  return ok
    ? Object.fromEntries(SHAPE_KEYS.map((k) => [k, r[k]])) as StateMeta["shape"]
    : undefined;
}
