/**
 * The Mamba state in memory: its arrays, the shape they are laid out in, the model it belongs
 * to, and per-layer views. One spelling of the shape ({@link StateShape}) and one check of arrays
 * against it ({@link checkStateArrays}) serve the engines, the state folders, the store, the
 * library, retrieval and mixing.
 *
 * ```
 * conv      (m, d_in, K)   the last K pre-conv inputs of each layer held
 * ssm       (m, d_in, n)   the SSM state of each layer held
 * deltaSum  (m, d_in)      the sum of the step sizes (delta) over the tokens read; the decay of
 *                          the SSM state over them is exp(A * deltaSum)
 * logits    (V)            after the last token, when known
 * ```
 *
 * A state holds every layer of its model (m = L, layer i in row i) or, taken from the store or
 * by {@link State.select}, some of them (`layerIds` names the model layer of each row).
 *
 * @module
 */

import type { MambaConfig } from "../model/config.ts";
import type { GpuAdapterInfo } from "../onnx/adapter.ts";
import { SoupError } from "../util/errors.ts";

/**
 * The dims of a model's state: layers, d_in, K, n and the vocabulary (absent where only the
 * arrays' layout matters, e.g. to compare states).
 */
export interface StateShape {
  /** L, the model's layer count. */
  layers: number;
  /** d_in, channels per layer (the config's intermediate size). */
  dInner: number;
  /** K, the conv kernel's width. */
  convKernel: number;
  /** n, the SSM state size per channel. */
  stateSize: number;
  /** V, the logits' length. */
  vocab?: number;
}

/** The {@link StateShape} of a config. */
export function stateShape(config: MambaConfig): Required<StateShape> {
  return {
    layers: config.numHiddenLayers,
    dInner: config.intermediateSize,
    convKernel: config.convKernel,
    stateSize: config.stateSize,
    vocab: config.vocabSize,
  };
}

/** The model a state belongs to. */
export interface StateIdentity {
  /** `configHash` of its config. */
  configHash: string;
  /** `weightsFingerprint` of its checkpoint, when known. */
  weights?: string;
  /** The model id or folder, for messages. */
  model?: string;
}

/**
 * Whether two identities may be the same checkpoint: false only when both are known and their
 * config hashes differ, or both weights fingerprints are known and differ.
 */
export function sameModel(a: StateIdentity | undefined, b: StateIdentity | undefined): boolean {
  if (!a || !b) return true;
  if (a.configHash !== b.configHash) return false;
  return a.weights === undefined || b.weights === undefined || a.weights === b.weights;
}

/** An identity for messages: `"model", config <hash>, weights <fingerprint>`. */
export function describeIdentity(id: StateIdentity | undefined): string {
  if (!id) return "an unknown model";
  return `${id.model ? `"${id.model}", ` : ""}config ${id.configHash}, weights ${
    id.weights ?? "unknown"
  }`;
}

/**
 * The arrays a {@link State} is made of, float32, flat C order (see the module's table). Not a
 * state by itself: engines, folders, the store, libraries, mixing and retrieval take and return
 * {@link State}s; these are what `new State(shape, arrays)` wraps and `State.arrays()` gives.
 */
export interface StateArrays {
  /** (m, d_in, K). */
  conv: Float32Array;
  /** (m, d_in, n). */
  ssm: Float32Array;
  /** (m, d_in): sum of delta over the tokens that produced this state. */
  deltaSum: Float32Array;
  /** (V) logits after the last token, when known. */
  logits?: Float32Array;
}

/** What `meta.json` of a state folder records: where a state came from. */
export interface StateMeta {
  /** Model id or folder the state came from. */
  model: string;
  /** `configHash` of the model's config. */
  configHash: string;
  /**
   * `weightsFingerprint` of the checkpoint the state came from, so that a state of another
   * checkpoint of the same shape is refused. Absent in folders written before it was recorded.
   */
  weightsFingerprint?: string;
  /** Architecture: layers, d_in, K, n, vocab. */
  shape: Required<StateShape>;
  /** Token ids read to reach this state (after any source state). */
  tokenIds: number[];
  /** Text those ids came from, when known. */
  text?: string;
  /** Folder of the state this one started from, or null for the zero state. */
  source: string | null;
  /** Which implementation computed it ("reference", "onnx-cpu", ...). */
  engine: string;
  /** The WebGPU adapter it ran on, when the engine was onnx-webgpu. */
  adapter?: GpuAdapterInfo;
  /** ISO time of creation. */
  created: string;
  /** Anything else the caller wants to keep (task, k, seed, demo indices, ...). */
  extra?: Record<string, unknown>;
}

/** Throws unless `meta` records `shape` (layers, d_in, K, n). */
function checkMetaShape(meta: StateMeta, shape: StateShape): void {
  const dims = (s: StateShape) => [s.layers, s.dInner, s.convKernel, s.stateSize].join(", ");
  if (!meta?.shape || dims(meta.shape) !== dims(shape)) {
    throw new SoupError(
      `Cannot describe a state of shape (${dims(shape)}) by a meta.json of shape (${
        meta?.shape ? dims(meta.shape) : "none"
      })`,
    );
  }
}

/** The identity a state's meta.json gives. */
export function identityOfMeta(meta: StateMeta): StateIdentity {
  return {
    configHash: meta.configHash,
    ...(meta.weightsFingerprint !== undefined ? { weights: meta.weightsFingerprint } : {}),
    model: meta.model,
  };
}

/** One layer of a state: views into its arrays, not copies. */
export interface LayerView {
  /** (d_in, K). */
  conv: Float32Array;
  /** (d_in, n). */
  ssm: Float32Array;
  /** (d_in). */
  deltaSum: Float32Array;
}

/**
 * Throws a one-line {@link SoupError} unless `arrays` are Float32Arrays laid out in `shape`
 * for `rows` layers (default: all of them): conv (rows, d_in, K), ssm (rows, d_in, n), deltaSum
 * (rows, d_in) when present or `needDeltaSum`, logits (V) when present.
 */
export function checkStateArrays(
  arrays: Partial<StateArrays> | undefined,
  shape: StateShape,
  action: string,
  options: { what?: string; rows?: number; needDeltaSum?: boolean } = {},
): void {
  const { layers, dInner: d, convKernel: k, stateSize: n } = shape ?? {};
  if (![layers, d, k, n].every((x) => Number.isInteger(x) && x > 0)) {
    throw new SoupError(
      `Cannot ${action}: shape ${JSON.stringify(shape)} must give positive layers, dInner, ` +
        `convKernel and stateSize`,
    );
  }
  const what = options.what ?? "the state";
  const m = options.rows ?? layers;
  const fields: [keyof StateArrays, number[], boolean][] = [
    ["ssm", [m, d, n], true],
    ["conv", [m, d, k], true],
    ["deltaSum", [m, d], options.needDeltaSum ?? false],
    ["logits", [shape.vocab ?? 0], false],
  ];
  for (const [name, dims, needed] of fields) {
    const a = arrays?.[name];
    if (a === undefined && !needed) continue;
    if (name === "logits" && shape.vocab === undefined) continue;
    const want = dims.reduce((x, y) => x * y, 1);
    if (!(a instanceof Float32Array) || a.length !== want) {
      throw new SoupError(
        `Cannot ${action}: ${what} holds ${
          a instanceof Float32Array ? `${a.length} ${name} values` : `no Float32Array ${name}`
        }, but shape (${dims.join(", ")}) needs ${want}`,
      );
    }
  }
}

/**
 * The one state type: arrays that know their shape, the model they belong to (when known),
 * which of the model's layers they hold, and (when read from or written to a folder) the
 * meta.json that says where they came from, with per-layer views. Engines, state folders, the
 * store, libraries, mixing and retrieval take and return States.
 *
 * @example
 * ```ts
 * import { State } from "./state.ts";
 * const shape = { layers: 2, dInner: 1, convKernel: 2, stateSize: 3, vocab: 4 };
 * const s = new State(shape, {
 *   conv: Float32Array.of(1, 2, 3, 4), ssm: Float32Array.of(5, 6, 7, 8, 9, 10),
 *   deltaSum: Float32Array.of(0.5, 0.25),
 * }, { identity: { configHash: "abc", weights: "w1" } });
 * if (s.layer(1).ssm.join() !== "8,9,10") throw new Error("layer view");
 * const one = s.select([1]);
 * if (one.layerIds.join() !== "1" || one.layer(1).conv.join() !== "3,4") throw new Error("select");
 * ```
 */
export class State implements StateArrays {
  /** The model's shape (`layers` is the model's L, also when fewer layers are held). */
  readonly shape: StateShape;
  /** The model layer each row holds, in order (every layer: 0 .. L-1). */
  readonly layerIds: readonly number[];
  /** The model it belongs to, when known. */
  readonly identity?: StateIdentity;
  /** Where it came from (its folder's meta.json), when it was read from or is bound for one. */
  readonly meta?: StateMeta;
  readonly conv: Float32Array;
  readonly ssm: Float32Array;
  readonly deltaSum: Float32Array;
  readonly logits?: Float32Array;

  /**
   * Wraps arrays (not copied), checked against `shape` for `layers` (default every layer).
   * Throws a {@link SoupError} when they do not match.
   */
  constructor(
    shape: StateShape,
    arrays: StateArrays,
    options: { identity?: StateIdentity; layers?: readonly number[]; meta?: StateMeta } = {},
  ) {
    const layerIds = options.layers ?? Array.from({ length: shape.layers }, (_, i) => i);
    for (const l of layerIds) {
      if (!Number.isInteger(l) || l < 0 || l >= shape.layers) {
        throw new SoupError(
          `Cannot make a state: layer ${l} is outside 0..${shape.layers - 1}`,
        );
      }
    }
    checkStateArrays(arrays, shape, "make a state", {
      rows: layerIds.length,
      needDeltaSum: true,
    });
    this.shape = { ...shape };
    this.layerIds = [...layerIds];
    if (options.meta) checkMetaShape(options.meta, shape);
    const identity = options.identity ?? (options.meta && identityOfMeta(options.meta));
    if (identity) this.identity = { ...identity };
    if (options.meta) this.meta = options.meta;
    this.conv = arrays.conv;
    this.ssm = arrays.ssm;
    this.deltaSum = arrays.deltaSum;
    if (arrays.logits !== undefined) this.logits = arrays.logits;
  }

  /** The zero state of a config (every layer). */
  static zeros(config: MambaConfig, identity?: StateIdentity): State {
    const s = stateShape(config);
    return new State(s, {
      conv: new Float32Array(s.layers * s.dInner * s.convKernel),
      ssm: new Float32Array(s.layers * s.dInner * s.stateSize),
      deltaSum: new Float32Array(s.layers * s.dInner),
    }, { identity });
  }

  /** Whether it holds every layer of its model, row i being layer i. */
  get complete(): boolean {
    return this.layerIds.length === this.shape.layers && this.layerIds.every((l, i) => l === i);
  }

  /** Views of model layer `l` (it must be held). */
  layer(l: number): LayerView {
    const row = this.layerIds.indexOf(l);
    if (row < 0) {
      throw new SoupError(
        `This state holds layer${this.layerIds.length === 1 ? "" : "s"} ${
          this.layerIds.join(", ")
        } of ${this.shape.layers}, not layer ${l}`,
      );
    }
    const { dInner: d, convKernel: k, stateSize: n } = this.shape;
    return {
      conv: this.conv.subarray(row * d * k, (row + 1) * d * k),
      ssm: this.ssm.subarray(row * d * n, (row + 1) * d * n),
      deltaSum: this.deltaSum.subarray(row * d, (row + 1) * d),
    };
  }

  /** A state of `layers` only (held ones), in that order: copies; the logits are shared. */
  select(layers: readonly number[]): State {
    const { dInner: d, convKernel: k, stateSize: n } = this.shape;
    const conv = new Float32Array(layers.length * d * k);
    const ssm = new Float32Array(layers.length * d * n);
    const deltaSum = new Float32Array(layers.length * d);
    for (const [i, l] of layers.entries()) {
      const v = this.layer(l);
      conv.set(v.conv, i * d * k);
      ssm.set(v.ssm, i * d * n);
      deltaSum.set(v.deltaSum, i * d);
    }
    return new State(this.shape, { conv, ssm, deltaSum, logits: this.logits }, {
      identity: this.identity,
      layers,
    });
  }

  /** The same arrays (and meta) with the logits given (or none). */
  withLogits(logits: Float32Array | undefined): State {
    return new State(this.shape, { ...this.arrays(), logits }, {
      identity: this.identity,
      layers: this.layerIds,
      meta: this.meta,
    });
  }

  /**
   * The same arrays with `meta` as where they came from (what `saveState` writes): its
   * identity becomes the meta's. Throws unless the meta's shape is this state's.
   */
  withMeta(meta: StateMeta): State {
    checkMetaShape(meta, this.shape);
    return new State(meta.shape, this.arrays(), { layers: this.layerIds, meta });
  }

  /** The plain arrays. */
  arrays(): StateArrays {
    return {
      conv: this.conv,
      ssm: this.ssm,
      deltaSum: this.deltaSum,
      ...(this.logits ? { logits: this.logits } : {}),
    };
  }
}

/**
 * Throws a one-line {@link SoupError} unless `states` (at least one) are of one shape (layers,
 * d_in, K, n) and belong to one model (the config hashes, and the weights fingerprints, that
 * are known agree) and, unless `sameLayers` is false, hold the same layers. Returns the first
 * state's shape and layers and what is known of their model (undefined unless every state
 * knows it).
 */
export function commonModel(
  states: readonly State[],
  action: string,
  options: { sameLayers?: boolean; name?: (index: number) => string } = {},
): { shape: StateShape; layers: readonly number[]; identity?: StateIdentity } {
  if (states.length === 0) throw new SoupError(`Cannot ${action}: no states given`);
  const name = options.name ?? ((i: number) => `state ${i}`);
  for (const [i, s] of states.entries()) {
    if (!(s instanceof State)) {
      throw new SoupError(`Cannot ${action}: ${name(i)} is not a State (make one with new State)`);
    }
  }
  const first = states[0];
  const dims = (s: StateShape) => [s.layers, s.dInner, s.convKernel, s.stateSize].join(", ");
  // What is known of the model so far, from every state before, and which state said it.
  let known: StateIdentity | undefined, from = 0;
  const learn = (id: StateIdentity | undefined, i: number) => {
    if (!id) return;
    if (!sameModel(known, id)) {
      throw new SoupError(
        `Cannot ${action}: ${name(i)} belongs to another model (${describeIdentity(id)}) than ` +
          `${name(from)} (${describeIdentity(known)})`,
      );
    }
    if (!known) [known, from] = [{ ...id }, i];
    else if (known.weights === undefined && id.weights !== undefined) {
      [known, from] = [{ ...known, weights: id.weights }, i];
    }
  };
  for (const [i, s] of states.entries()) {
    if (dims(s.shape) !== dims(first.shape)) {
      throw new SoupError(
        `Cannot ${action}: ${name(i)} is of shape (${dims(s.shape)}) (layers, d_in, K, n), ` +
          `${name(0)} of (${dims(first.shape)})`,
      );
    }
    learn(s.identity, i);
    if ((options.sameLayers ?? true) && s.layerIds.join() !== first.layerIds.join()) {
      throw new SoupError(
        `Cannot ${action}: ${name(i)} holds layers ${s.layerIds.join(", ")}, ${name(0)} ` +
          `holds ${first.layerIds.join(", ")}`,
      );
    }
  }
  // A result carries an identity only when every state knew one.
  const identity = states.every((s) => s.identity) ? known : undefined;
  return { shape: first.shape, layers: first.layerIds, identity };
}

/**
 * Throws a one-line {@link SoupError} unless `state` can start a run of a model of `shape`:
 * a State of every layer, of this shape, and (when it knows its model) of this checkpoint.
 */
export function checkStartState(
  state: State,
  shape: StateShape,
  identity: StateIdentity | undefined,
  index = 0,
): void {
  if (!(state instanceof State)) {
    throw new SoupError(
      `Cannot run the model from state ${index}: it is not a State (make one with new State)`,
    );
  }
  if (!state.complete) {
    throw new SoupError(
      `Cannot run the model from state ${index}: it holds layers ${
        state.layerIds.join(", ")
      } of ${state.shape.layers}, and a run needs every layer`,
    );
  }
  if (!sameModel(state.identity, identity)) {
    throw new SoupError(
      `Cannot run the model from state ${index}: it belongs to ${
        describeIdentity(state.identity)
      }, not to ${describeIdentity(identity)}`,
    );
  }
  checkStateArrays(state, { ...shape, vocab: undefined }, "run the model", {
    what: `state ${index}`,
  });
}
