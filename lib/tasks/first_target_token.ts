/**
 * The scored token of Todd et al.'s evaluation: the first token of the target ` {output}` as it
 * is tokenized after the prompt.
 *
 * @module
 */

import { SoupError } from "../util/errors.ts";
import { buildTarget } from "./build_prompt.ts";
import type { TokenEncoder } from "./types.ts";

/**
 * The first token of `encode(prompt + " " + output)` after the tokens of `encode(prompt)`, the
 * token whose top-1 prediction Todd et al. score.
 *
 * The prompt's tokens must be a prefix of the tokens of prompt and target (true for prompts that
 * end in `"A:"` and outputs that do not start with whitespace); otherwise the target has no
 * first token of its own and this fails rather than guess.
 *
 * @param tokenizer Anything with `encode`, e.g. `loadTokenizer()`'s result.
 * @param prompt The prompt, e.g. `buildPrompt(demos, query)` or `buildQueryPrompt(query)`.
 * @param output The expected answer, without the leading space.
 * @returns The token id.
 * @throws {SoupError} when the prompt's tokens are not a prefix of the full tokens (the message
 * shows where they differ), or the target adds no token.
 *
 * @example The first token of " cold" after an antonym prompt
 * ```ts
 * import { mirrorDir } from "../hub/sources.ts";
 * import { loadTokenizer } from "../tokenizer/load_tokenizer.ts";
 * import { buildPrompt } from "./build_prompt.ts";
 * import { firstTargetToken } from "./first_target_token.ts";
 * const tok = await loadTokenizer(`${mirrorDir()}/tokenizer/gpt-neox-20b`);
 * const prompt = buildPrompt([{ input: "big", output: "small" }], { input: "hot" });
 * if (firstTargetToken(tok, prompt, "cold") !== 5412) throw new Error("expected Ġcold");
 * ```
 */
export function firstTargetToken(
  tokenizer: TokenEncoder,
  prompt: string,
  output: string,
): number {
  const target = buildTarget(output);
  const promptIds = tokenizer.encode(prompt);
  const fullIds = tokenizer.encode(prompt + target);
  const what = `Cannot find the first token of the target ${JSON.stringify(target)} after ` +
    `the prompt ${JSON.stringify(shorten(prompt))}`;
  const limit = Math.min(promptIds.length, fullIds.length);
  for (let i = 0; i < limit; i++) {
    if (promptIds[i] !== fullIds[i]) {
      throw new SoupError(
        `${what}: the prompt's tokens are not a prefix of the tokens of prompt and target ` +
          `(token ${i} is ${promptIds[i]} alone but ${fullIds[i]} with the target)`,
      );
    }
  }
  if (fullIds.length <= promptIds.length) {
    throw new SoupError(
      `${what}: the target adds no token (${promptIds.length} tokens alone, ${fullIds.length} ` +
        `with the target)`,
    );
  }
  return fullIds[promptIds.length];
}

function shorten(text: string): string {
  return text.length <= 60 ? text : `...${text.slice(-57)}`;
}
