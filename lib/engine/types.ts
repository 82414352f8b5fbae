/**
 * What every way of running Mamba offers: the float64 reference in TypeScript, and the ONNX
 * graph on onnxruntime-node's providers.
 *
 * @module
 */

import type { MambaConfig } from "../model/config.ts";
import { State, type StateIdentity } from "../states/state.ts";
import type { GpuAdapterInfo } from "../onnx/adapter.ts";
import { countWork } from "../util/counters.ts";

/** Options of {@link Engine.run}. */
export interface RunOptions {
  /** State to start from. @default the zero state */
  state?: State;
  /** Return logits for every position (l, V) instead of the last only (V). @default false */
  allLogits?: boolean;
}

/** Options of {@link Engine.runBatch}. */
export interface BatchOptions {
  /** One start state per sequence (or undefined for zeros). */
  states?: (State | undefined)[];
  /** Logits for every position of every sequence. @default false */
  allLogits?: boolean;
}

/** The result of {@link Engine.run}. */
export interface RunResult {
  /** Logits, (l, V) with `allLogits`, else (V) after the last token. */
  logits: Float32Array;
  /**
   * State after the last token (every layer, with the engine's identity); its `deltaSum` sums
   * delta over this run's tokens only.
   */
  state: State;
}

/** A loaded model that reads tokens from a state and returns the next state. */
export interface Engine {
  /** Architecture. */
  readonly config: MambaConfig;
  /** Model id or folder it was loaded from. */
  readonly model: string;
  /**
   * Implementation and device actually used, e.g. "reference" or "onnx-cpu": final once
   * `openEngine` returns (it resolves the provider, "auto" included, up front).
   */
  readonly name: string;
  /** The checkpoint its states belong to (model, config hash, weights fingerprint). */
  readonly identity: StateIdentity;
  /** The WebGPU adapter it runs on (on webgpu only; final once `openEngine` returns). */
  readonly adapter?: GpuAdapterInfo;
  /** Reads `ids` starting from `options.state` (or zeros). */
  run(ids: readonly number[], options?: RunOptions): Promise<RunResult>;
  /**
   * Reads several sequences, each from its own state (or zeros); gives what each gives alone.
   */
  runBatch(sequences: readonly (readonly number[])[], options?: BatchOptions): Promise<RunResult[]>;
  /** Frees what the engine holds. */
  close(): Promise<void>;
}

/**
 * Counts one engine call in the process's work counters (`lib/util/counters.ts`): its
 * sequences, tokens, logits positions and the seconds since `started`.
 */
export function countEngineCall(
  sequences: readonly (readonly number[])[],
  allLogits: boolean,
  started: number,
): void {
  const tokens = sequences.reduce((n, s) => n + s.length, 0);
  countWork({
    engineCalls: 1,
    sequences: sequences.length,
    tokens,
    logitPositions: allLogits ? tokens : sequences.length,
    engineSeconds: (performance.now() - started) / 1000,
  });
}

/** A zero state for a config (see `State.zeros`). */
export function zeroState(config: MambaConfig, identity?: StateIdentity): State {
  return State.zeros(config, identity);
}
