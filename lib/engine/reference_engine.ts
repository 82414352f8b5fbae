/**
 * The float64 TypeScript reference wrapped as an {@link Engine}: slow, exact, no native code.
 *
 * @module
 */

import { countEngineCall } from "./types.ts";
import { configHash, readMambaConfig } from "../model/config.ts";
import { weightsFingerprint } from "../model/fingerprint.ts";
import { checkStartState, State, type StateIdentity, stateShape } from "../states/state.ts";

import { SafetensorsCheckpoint } from "../model/safetensors.ts";
import { loadMambaWeights, type MambaWeights } from "../model/weights.ts";
import { referenceForward } from "../model/reference_forward.ts";
import type { BatchOptions, Engine, RunOptions, RunResult } from "./types.ts";

/** An {@link Engine} over {@link referenceForward}. */
export class ReferenceEngine implements Engine {
  readonly name = "reference";
  readonly model: string;
  readonly weights: MambaWeights;
  /** The checkpoint its states belong to (when loaded from a folder). */
  readonly identity: StateIdentity;

  /** Wraps weights already in memory. */
  constructor(weights: MambaWeights, model: string, identity: StateIdentity) {
    this.weights = weights;
    this.model = model;
    this.identity = identity;
  }

  /** Loads a checkpoint folder (config.json and safetensors). */
  static async load(dir: string, model = dir): Promise<ReferenceEngine> {
    const config = await readMambaConfig(dir);
    using ckpt = await SafetensorsCheckpoint.open(dir);
    return new ReferenceEngine(await loadMambaWeights(ckpt, config), model, {
      configHash: await configHash(config),
      weights: await weightsFingerprint(dir),
      model,
    });
  }

  get config(): MambaWeights["config"] {
    return this.weights.config;
  }

  async run(ids: readonly number[], options: RunOptions = {}): Promise<RunResult> {
    const [out] = await this.runBatch([ids], {
      states: [options.state],
      allLogits: options.allLogits,
    });
    return out;
  }

  #run(ids: readonly number[], options: RunOptions = {}): Promise<RunResult> {
    const shape = stateShape(this.config);
    if (options.state) checkStartState(options.state, shape, this.identity);
    const out = referenceForward(this.weights, ids, {
      conv: options.state?.conv,
      ssm: options.state?.ssm,
      allLogits: options.allLogits ?? false,
    });
    return Promise.resolve({
      logits: Float32Array.from(out.logits),
      state: new State(shape, {
        conv: Float32Array.from(out.conv),
        ssm: Float32Array.from(out.ssm),
        deltaSum: Float32Array.from(out.deltaSum),
      }, { identity: this.identity }),
    });
  }

  async runBatch(
    sequences: readonly (readonly number[])[],
    options: BatchOptions = {},
  ): Promise<RunResult[]> {
    const started = performance.now();
    const out: RunResult[] = [];
    for (const [s, seq] of sequences.entries()) {
      out.push(await this.#run(seq, { state: options.states?.[s], allLogits: options.allLogits }));
    }
    countEngineCall(sequences, options.allLogits ?? false, started);
    return out;
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
