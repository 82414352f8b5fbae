/**
 * {@link ExperimentModel}: the model an experiment computes with (checkpoint, engine, tokenizer,
 * the shared state store).
 *
 * @module
 */

import { describeEngine, openEngine } from "../engine/open_engine.ts";
import type { Engine } from "../engine/types.ts";
import { resolveModelDir, resolveTokenizerFile } from "../hub/resolve.ts";
import type { SourceOptions } from "../hub/sources.ts";
import type { MambaConfig } from "../model/config.ts";
import { weightsFingerprint } from "../model/fingerprint.ts";
import { defaultStoreRoot, StateStore } from "../states/store.ts";
import { loadTokenizer, type MambaTokenizer } from "../tokenizer/load_tokenizer.ts";
import type { ExperimentOptions } from "./context.ts";
import { checkCache } from "./result_cache.ts";

/** The paper's model. */
export const PAPER_MODEL = "state-spaces/mamba-2.8b-hf";

/** The model an experiment computes with: checkpoint, engine, tokenizer and the state store. */
export class ExperimentModel {
  /** Model id or folder as given. */
  readonly id: string;
  /** The checkpoint folder it resolved to (config.json, safetensors). */
  readonly dir: string;
  readonly engine: Engine;
  readonly tokenizer: MambaTokenizer;
  readonly config: MambaConfig;
  readonly configHash: string;
  /** `weightsFingerprint` of the checkpoint. */
  readonly weights: string;
  /**
   * The states every figure shares, keyed by what produced them (weights, engine, token ids,
   * start state), not by code: editing the library keeps them.
   */
  readonly store: StateStore;

  private constructor(init: Omit<ExperimentModel, "close" | "describe">) {
    this.id = init.id;
    this.dir = init.dir;
    this.engine = init.engine;
    this.tokenizer = init.tokenizer;
    this.config = init.config;
    this.configHash = init.configHash;
    this.weights = init.weights;
    this.store = init.store;
  }

  /**
   * Resolves and opens `options.model` (default the paper's) on `options.device`, its
   * tokenizer, and the shared state store (`<cacheDir>/_states` when `cacheDir` is given).
   */
  static async open(options: ExperimentOptions = {}): Promise<ExperimentModel> {
    const id = options.model ?? PAPER_MODEL;
    const storeRoot = options.cacheDir !== undefined
      ? `${options.cacheDir}/_states`
      : defaultStoreRoot();
    await checkCache(storeRoot); // before any work
    // The experiment cache is not the Hugging Face cache: pass only the source settings on.
    const sources: SourceOptions = {
      mirror: options.mirror,
      offline: options.offline,
      cacheDir: options.hfCacheDir,
    };
    const dir = await resolveModelDir(id, sources);
    const tokenizer = await loadTokenizer(await resolveTokenizerFile(dir, sources));
    const engine = await openEngine(dir, {
      ...sources,
      device: options.device ?? "auto",
      precision: options.precision,
    });
    try {
      // Computed once, when the engine opened the checkpoint.
      const hash = engine.identity.configHash;
      const weights = engine.identity.weights ?? await weightsFingerprint(dir);
      const store = await StateStore.open(storeRoot, {
        weights,
        engine: engine.name,
        config: engine.config,
      });
      return new ExperimentModel({
        id,
        dir,
        engine,
        tokenizer,
        config: engine.config,
        configHash: hash,
        weights,
        store,
      });
    } catch (err) {
      await engine.close();
      throw err;
    }
  }

  /** "model M (config H) on onnx-cpu". */
  describe(): string {
    return `model ${this.id} (config ${this.configHash}) on ${describeEngine(this.engine)}`;
  }

  /** Closes the engine. */
  async close(): Promise<void> {
    await this.engine.close();
  }
}
