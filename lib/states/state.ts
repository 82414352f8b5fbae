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

/** A Mamba state's arrays, float32, flat C order (see the module's table). */
export interface MambaState {
  /** (m, d_in, K). */
  conv: Float32Array;
  /** (m, d_in, n). */
  ssm: Float32Array;
  /** (m, d_in): sum of delta over the tokens that produced this state. */
  deltaSum: Float32Array;
  /** (V) logits after the last token, when known. */
  logits?: Float32Array;
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
  arrays: Partial<MambaState> | undefined,
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
  const fields: [keyof MambaState, number[], boolean][] = [
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
 * A state that knows its shape, the model it belongs to (when known) and which of the model's
 * layers it holds, with per-layer views. Engines, `loadState` and the state store return these;
 * anything that takes a {@link MambaState} takes one.
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
export class State implements MambaState {
  /** The model's shape (`layers` is the model's L, also when fewer layers are held). */
  readonly shape: StateShape;
  /** The model layer each row holds, in order (every layer: 0 .. L-1). */
  readonly layerIds: readonly number[];
  /** The model it belongs to, when known. */
  readonly identity?: StateIdentity;
  conv: Float32Array;
  ssm: Float32Array;
  deltaSum: Float32Array;
  logits?: Float32Array;

  /**
   * Wraps arrays (not copied), checked against `shape` for `layers` (default every layer).
   * Throws a {@link SoupError} when they do not match.
   */
  constructor(
    shape: StateShape,
    arrays: MambaState,
    options: { identity?: StateIdentity; layers?: readonly number[] } = {},
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
    if (options.identity) this.identity = { ...options.identity };
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

  /** The same arrays with the logits given (or none). */
  withLogits(logits: Float32Array | undefined): State {
    return new State(this.shape, { ...this.arrays(), logits }, {
      identity: this.identity,
      layers: this.layerIds,
    });
  }

  /** The plain arrays. */
  arrays(): MambaState {
    return {
      conv: this.conv,
      ssm: this.ssm,
      deltaSum: this.deltaSum,
      ...(this.logits ? { logits: this.logits } : {}),
    };
  }
}

/**
 * Throws a one-line {@link SoupError} unless the {@link State}s among `states` are of one shape
 * (layers, d_in, K, n) and belong to one model (the config hashes, and the weights
 * fingerprints, that are known agree) and, unless `sameLayers` is false, hold the same layers;
 * plain arrays are not checked. Returns the first State's shape and layers and what is known of
 * their model (undefined when no State knows it), or undefined when none is a State.
 */
export function commonModel(
  states: readonly MambaState[],
  action: string,
  options: { sameLayers?: boolean; name?: (index: number) => string } = {},
): { shape: StateShape; layers: readonly number[]; identity?: StateIdentity } | undefined {
  const typed = states
    .map((s, i) => [s, i] as const)
    .filter((p): p is readonly [State, number] => p[0] instanceof State);
  if (typed.length === 0) return undefined;
  const [first, i0] = typed[0];
  const name = options.name ?? ((i: number) => `state ${i}`);
  const dims = (s: StateShape) => [s.layers, s.dInner, s.convKernel, s.stateSize].join(", ");
  // What is known of the model so far, from every State before, and which state said it.
  let known: StateIdentity | undefined, from = i0;
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
  for (const [s, i] of typed) {
    if (dims(s.shape) !== dims(first.shape)) {
      throw new SoupError(
        `Cannot ${action}: ${name(i)} is of shape (${dims(s.shape)}) (layers, d_in, K, n), ` +
          `${name(i0)} of (${dims(first.shape)})`,
      );
    }
    learn(s.identity, i);
    if ((options.sameLayers ?? true) && s.layerIds.join() !== first.layerIds.join()) {
      throw new SoupError(
        `Cannot ${action}: ${name(i)} holds layers ${s.layerIds.join(", ")}, ${name(i0)} ` +
          `holds ${first.layerIds.join(", ")}`,
      );
    }
  }
  // A result carries an identity only when every State knew one.
  const identity = typed.every(([s]) => s.identity) ? known : undefined;
  return { shape: first.shape, layers: first.layerIds, identity };
}

/**
 * Throws a one-line {@link SoupError} unless `state` can start a run of a model of `shape`:
 * every layer, of this shape, and (when it knows its model) of this checkpoint.
 */
export function checkStartState(
  state: MambaState,
  shape: StateShape,
  identity: StateIdentity | undefined,
  index = 0,
): void {
  if (state instanceof State) {
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
  }
  checkStateArrays(state, { ...shape, vocab: undefined }, "run the model", {
    what: `state ${index}`,
  });
}
