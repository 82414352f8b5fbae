/**
 * Continues text from a state, one token at a time.
 *
 * @module
 */

import { Rng } from "../util/random.ts";
import { SoupError } from "../util/errors.ts";
import { softmaxParts } from "../util/softmax.ts";
import { State } from "../states/state.ts";
import type { Engine } from "./types.ts";

/** Options of {@link generate}. */
export interface GenerateOptions {
  /** State to start from (before `prompt`). @default the zero state */
  state?: State;
  /** Tokens to produce at most. @default 32 */
  maxTokens?: number;
  /** 0 for greedy decoding, else softmax sampling at this temperature. @default 0 */
  temperature?: number;
  /** Seed of the sampler. @default 0 */
  seed?: number;
  /** Stop after this token (it is yielded). @default none */
  stopToken?: number;
  /**
   * Only ids below this are produced (Mamba's embedding has padding rows past the tokenizer's
   * vocabulary). @default the model's vocabulary size
   */
  vocabLimit?: number;
}

/** One produced token, with the state after reading it (its deltaSum sums the prompt's too). */
export interface GeneratedToken {
  /** Token id. */
  id: number;
  /** Its probability under the model (at temperature 1). */
  probability: number;
  /** The logits (V) it was chosen from: the model's output after the previous token. */
  logits: Float32Array;
  /** State after the prompt and every token so far. */
  state: State;
}

/**
 * Reads `prompt` from `options.state` and yields the next tokens, greedy by default.
 *
 * @example
 * ```ts
 * import { generate } from "./generate.ts";
 * import { openEngine } from "./open_engine.ts";
 * import { tinyMambaConfig, writeRandomCheckpoint } from "../model/random_checkpoint.ts";
 * const dir = await Deno.makeTempDir();
 * await writeRandomCheckpoint(dir, tinyMambaConfig());
 * const engine = await openEngine(dir, { device: "cpu" });
 * const ids = [];
 * for await (const t of generate(engine, [1, 2, 3], { maxTokens: 4 })) ids.push(t.id);
 * if (ids.length !== 4) throw new Error(String(ids));
 * await engine.close();
 * ```
 */
export async function* generate(
  engine: Engine,
  prompt: readonly number[],
  options: GenerateOptions = {},
): AsyncGenerator<GeneratedToken> {
  const { maxTokens = 32, temperature = 0, seed = 0, stopToken } = options;
  const limit = Math.min(options.vocabLimit ?? engine.config.vocabSize, engine.config.vocabSize);
  if (prompt.length === 0) throw new SoupError("Cannot generate: the prompt has no tokens");
  if (!(temperature >= 0)) throw new SoupError(`Cannot generate: temperature ${temperature} < 0`);
  const rng = new Rng(seed);
  let { logits, state } = await engine.run(prompt, { state: options.state });
  for (let produced = 0; produced < maxTokens; produced++) {
    const { max, argmax: best, sum: z } = softmaxParts(logits, limit);
    let id = best;
    if (temperature > 0) {
      let zt = 0;
      for (let i = 0; i < limit; i++) zt += Math.exp((logits[i] - max) / temperature);
      let u = rng.uniform() * zt;
      for (id = 0; id < limit - 1; id++) {
        u -= Math.exp((logits[id] - max) / temperature);
        if (u <= 0) break;
      }
    }
    const probability = Math.exp(logits[id] - max) / z;
    const chosenFrom = logits;
    const next = await engine.run([id], { state });
    // The engine's deltaSum covers one call; keep the sum over everything read.
    const deltaSum = next.state.deltaSum.map((x, c) => x + state.deltaSum[c]);
    ({ logits } = next);
    state = new State(next.state.shape, { ...next.state.arrays(), deltaSum }, {
      identity: next.state.identity,
    });
    yield { id, probability, logits: chosenFrom, state };
    if (id === stopToken) return;
  }
}

/** What {@link streamText} needs of a tokenizer. */
export interface TextDecoderLike {
  decode(ids: number[]): string;
}

/**
 * Generates from `prompt` and hands `write` the text as it grows, whole characters only (a
 * partial UTF-8 sequence decodes to U+FFFD and waits for its next token). Returns the ids.
 *
 * @example
 * ```ts
 * import { streamText } from "./generate.ts";
 * import { openEngine } from "./open_engine.ts";
 * import { tinyMambaConfig, writeRandomCheckpoint } from "../model/random_checkpoint.ts";
 * const dir = await Deno.makeTempDir();
 * await writeRandomCheckpoint(dir, tinyMambaConfig({ vocabSize: 64 }));
 * const engine = await openEngine(dir, { device: "cpu" });
 * const tok = { decode: (ids: number[]) => ids.map((i) => String.fromCharCode(97 + (i % 26))).join("") };
 * let text = "";
 * const ids = await streamText(engine, tok, [1, 2], { maxTokens: 4 }, (t) => text += t);
 * if (ids.length !== 4 || text !== tok.decode(ids)) throw new Error(text);
 * await engine.close();
 * ```
 */
export async function streamText(
  engine: Engine,
  tokenizer: TextDecoderLike,
  prompt: readonly number[],
  options: GenerateOptions,
  write: (text: string) => unknown,
): Promise<number[]> {
  const ids: number[] = [];
  let shown = "";
  for await (const t of generate(engine, prompt, options)) {
    ids.push(t.id);
    const text = tokenizer.decode(ids);
    if (!text.endsWith("\uFFFD")) {
      await write(text.slice(shown.length));
      shown = text;
    }
  }
  return ids;
}
