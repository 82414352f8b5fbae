/**
 * Token ids of the demonstrations prompt exactly as they occur inside the full k-shot prompt.
 *
 * @module
 */

import { SoupError } from "../util/errors.ts";
import { buildPrompt, buildQueryPrompt } from "./build_prompt.ts";
import type { TaskItem, TokenEncoder } from "./types.ts";

/**
 * The ids of `buildDemosPrompt(demos)` as the full prompt `buildPrompt(demos, query)` has them,
 * for any query: feed these to extract a skill state, then `encode(buildQueryPrompt(query))`
 * from that state, and the model reads exactly the tokens of the full prompt.
 *
 * `encode(buildDemosPrompt(demos))` differs: with nothing after it, the final `"\n\n"` is one
 * token (535), while before the query's `"Q"` the byte-level pre-tokenizer splits it into two
 * (187, 187). The split between the demonstrations and the query is always a token boundary
 * (whitespace before a letter), so the ids are taken from a full prompt with a placeholder query
 * and checked to end with that query's own ids.
 *
 * @param tokenizer Anything with `encode`, e.g. `loadTokenizer()`'s result.
 * @param demos Demonstrations in prompt order.
 * @returns Token ids, starting with the end-of-text id.
 * @throws {SoupError} when the full prompt does not split into demonstration and query tokens
 * (not expected with the GPT-NeoX tokenizer).
 *
 * @example
 * ```ts
 * import { mirrorDir } from "../hub/sources.ts";
 * import { loadTokenizer } from "../tokenizer/load_tokenizer.ts";
 * import { encodeDemos } from "./encode_demos.ts";
 * const tok = await loadTokenizer(`${mirrorDir()}/tokenizer/gpt-neox-20b`);
 * const ids = encodeDemos(tok, [{ input: "hot", output: "cold" }]);
 * if (ids.join() !== "0,50,27,3511,187,34,27,5412,187,187") throw new Error(ids.join());
 * ```
 */
export function encodeDemos(
  tokenizer: TokenEncoder,
  demos: readonly TaskItem[],
): number[] {
  const placeholder = { input: "x" };
  const full = tokenizer.encode(buildPrompt(demos, placeholder));
  const query = tokenizer.encode(buildQueryPrompt(placeholder));
  const cut = full.length - query.length;
  if (cut < 0 || query.some((id, i) => full[cut + i] !== id)) {
    throw new SoupError(
      `Cannot split the tokens of a ${demos.length}-shot prompt into demonstrations and query: ` +
        `they do not end with the query's own tokens [${query.join(", ")}]`,
    );
  }
  return full.slice(0, cut);
}

/**
 * The ids of `text` as they occur inside a prompt when a query follows it (`text` + "Q: x\nA:"),
 * or undefined when the text does not end where a demonstration does (a newline) or the prompt
 * does not split there. GPT-NeoX reads a final "\n\n" as one token (535) but as two (187, 187)
 * before the next "Q".
 *
 * @example
 * ```ts
 * import { inPromptIds } from "./encode_demos.ts";
 * const tok = { encode: (t: string) => [...t].map((c) => c.charCodeAt(0)) };
 * if (inPromptIds(tok, "Q: a\nA: b") !== undefined) throw new Error("no newline at the end");
 * if (inPromptIds(tok, "Q: a\nA: b\n\n")?.length !== 11) throw new Error();
 * ```
 */
export function inPromptIds(tok: TokenEncoder, text: string): number[] | undefined {
  if (!text.endsWith("\n")) return undefined;
  const query = tok.encode("Q: x\nA:");
  const full = tok.encode(text + "Q: x\nA:");
  const cut = full.length - query.length;
  if (cut <= 0 || query.some((id, i) => full[cut + i] !== id)) return undefined;
  return full.slice(0, cut);
}

/**
 * The ids a skill state is read from for `text`: the text's tokens as they occur inside a prompt
 * ({@link inPromptIds}) unless `exact`, and the text's own tokens when those differ (`own`, so
 * that a caller can say what changed), else `own` is undefined.
 *
 * @example
 * ```ts
 * import { demonstrationIds } from "./encode_demos.ts";
 * // Characters as tokens, except that a final "\n\n" is one token (as GPT-NeoX reads it).
 * const tok = { encode: (t: string) => [...t.replace(/\n\n$/, "\u0001")].map((c) => c.charCodeAt(0)) };
 * const { ids, own } = demonstrationIds(tok, "Q: a\nA: b\n\n");
 * if (ids.length !== 11 || ids.at(-1) !== 10 || own?.at(-1) !== 1) throw new Error();
 * if (demonstrationIds(tok, "Q: a\nA: b\n\n", { exact: true }).ids.length !== 10) throw new Error();
 * ```
 */
export function demonstrationIds(
  tok: TokenEncoder,
  text: string,
  options: { exact?: boolean } = {},
): { ids: number[]; own?: number[] } {
  const own = tok.encode(text);
  if (own.length === 0) throw new SoupError(`Cannot read a state of "${text}": it has no tokens`);
  const inPrompt = options.exact ? undefined : inPromptIds(tok, text);
  return inPrompt !== undefined && inPrompt.join() !== own.join()
    ? { ids: inPrompt, own }
    : { ids: own };
}
