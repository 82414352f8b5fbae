/**
 * Todd et al.'s score: top-1 accuracy of the first token of the target ` {output}` after the
 * prompt, for a model that reads each test query either inside a k-shot prompt (from zeros) or
 * on its own from a state (a skill state, a mix of states, a retrieved state).
 *
 * @module
 */

import type { Engine } from "../engine/types.ts";
import type { State } from "../states/state.ts";
import { buildPrompt, buildQueryPrompt } from "../tasks/build_prompt.ts";
import { firstTargetToken } from "../tasks/first_target_token.ts";
import type { TaskItem, TokenEncoder } from "../tasks/types.ts";
import { SoupError } from "../util/errors.ts";
import { softmaxParts } from "../util/softmax.ts";

/** Options of {@link evaluateFirstToken}. */
export interface EvaluateOptions {
  /**
   * State every query is read from (`Q: {input}\nA:`, no `<|endoftext|>`: the state holds it).
   * Without a state (and without `states`), each query is read from zeros inside the full
   * prompt `buildPrompt(demos, item)`.
   */
  state?: State;
  /** One state per item, instead of `state`. */
  states?: readonly State[];
  /** Demonstrations of the k-shot prompt, the same for every item or per item. @default [] */
  demos?: readonly TaskItem[] | ((index: number) => readonly TaskItem[]);
  /** Sequences per engine call. @default 16 */
  batchSize?: number;
  /** Only ids below this count as predictions (the tokenizer's size). @default all */
  vocabLimit?: number;
  /** Called after each batch with (items done, items in all). */
  onProgress?: (done: number, total: number) => void;
}

/** The outcome on one test item. */
export interface ItemResult {
  /** Index of the item in the list given. */
  index: number;
  /** Token id of the target's first token. */
  target: number;
  /** The model's top-1 token id. */
  predicted: number;
  /** Whether they agree. */
  correct: boolean;
  /** The model's probability of the target token. */
  targetProbability: number;
}

/** Accuracy and per-item outcomes. */
export interface EvaluateResult {
  /** Fraction of items whose first target token is the top-1 prediction. */
  accuracy: number;
  /** Per item, in order. */
  items: ItemResult[];
}

/**
 * Scores `items` by first-token top-1 accuracy.
 *
 * @example
 * ```ts ignore
 * const { accuracy } = await evaluateFirstToken(engine, tokenizer, test, { state: mixed });
 * ```
 */
export async function evaluateFirstToken(
  engine: Engine,
  tokenizer: TokenEncoder,
  items: readonly TaskItem[],
  options: EvaluateOptions = {},
): Promise<EvaluateResult> {
  const { batchSize = 16, vocabLimit = engine.config.vocabSize } = options;
  if (options.states !== undefined && options.states.length !== items.length) {
    throw new SoupError(
      `Cannot evaluate: ${options.states.length} states for ${items.length} items`,
    );
  }
  const fromState = options.state !== undefined || options.states !== undefined;
  const demosOf = (i: number) =>
    typeof options.demos === "function" ? options.demos(i) : options.demos ?? [];
  if (fromState && demosOf(0).length > 0) {
    throw new SoupError("Cannot evaluate: give demonstrations or a state, not both");
  }
  const prompts = items.map((item, i) =>
    fromState ? buildQueryPrompt(item) : buildPrompt(demosOf(i), item)
  );
  const targets = items.map((item, i) => firstTargetToken(tokenizer, prompts[i], item.output));
  const results: ItemResult[] = [];
  for (let start = 0; start < items.length; start += batchSize) {
    const end = Math.min(items.length, start + batchSize);
    const seqs = prompts.slice(start, end).map((p) => tokenizer.encode(p));
    const states = fromState
      ? seqs.map((_, j) => options.states?.[start + j] ?? options.state)
      : undefined;
    const outs = await engine.runBatch(seqs, { states });
    for (const [j, out] of outs.entries()) {
      const index = start + j;
      const limit = Math.min(vocabLimit, out.logits.length);
      const { max, argmax: best, sum: z } = softmaxParts(out.logits, limit);
      const target = targets[index];
      results.push({
        index,
        target,
        predicted: best,
        correct: best === target,
        targetProbability: Math.exp(out.logits[target] - max) / z,
      });
    }
    options.onProgress?.(end, items.length);
  }
  const correct = results.filter((r) => r.correct).length;
  return { accuracy: items.length ? correct / items.length : NaN, items: results };
}
