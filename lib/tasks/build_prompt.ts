/**
 * The prompt template of Todd et al. (2024), as State Soup uses it: `<|endoftext|>` (GPT-NeoX
 * and Mamba have no BOS token, so the end-of-text token starts the text), each demonstration as
 * `Q: {input}\nA: {output}\n\n`, then the query as `Q: {input}\nA:`; the target is
 * ` {output}` with a leading space.
 *
 * The three builders are one template cut in two places:
 * `buildDemosPrompt(demos) + buildQueryPrompt(query) === buildPrompt(demos, query)`.
 * A skill state is the state after {@linkcode buildDemosPrompt}; a test item is run from it with
 * {@linkcode buildQueryPrompt}, which therefore does not start with `<|endoftext|>` (the state
 * already read it). A zero-shot query from the empty state is `buildPrompt([], query)`.
 *
 * Tokenize the demonstrations with `encodeDemos()`, not `encode(buildDemosPrompt(...))`: alone,
 * the final `"\n\n"` becomes one token (535), while inside the full prompt it is two (187, 187).
 *
 * @module
 */

import type { TaskItem } from "./types.ts";

/** The end-of-text token's text, which starts every prompt. */
const START = "<|endoftext|>";

/**
 * The full k-shot prompt: `<|endoftext|>`, the demonstrations, then the query without its answer.
 *
 * @param demos Demonstrations in prompt order (may be empty: zero-shot).
 * @param query The test item; only its `input` is written.
 * @returns The prompt, ending in `"A:"`; the model should continue it with
 * `buildTarget(query.output)`.
 *
 * @example
 * ```ts
 * import { buildPrompt } from "./build_prompt.ts";
 * const p = buildPrompt([{ input: "hot", output: "cold" }], { input: "big" });
 * if (p !== "<|endoftext|>Q: hot\nA: cold\n\nQ: big\nA:") throw new Error(JSON.stringify(p));
 * ```
 */
export function buildPrompt(
  demos: readonly TaskItem[],
  query: Pick<TaskItem, "input">,
): string {
  return buildDemosPrompt(demos) + buildQueryPrompt(query);
}

/**
 * The prompt of the demonstrations alone, from which a skill state is extracted:
 * `<|endoftext|>` then `Q: {input}\nA: {output}\n\n` per demonstration.
 *
 * @param demos Demonstrations in prompt order.
 * @returns The text, ending in `"\n\n"` (just `"<|endoftext|>"` when `demos` is empty).
 *
 * @example
 * ```ts
 * import { buildDemosPrompt } from "./build_prompt.ts";
 * const p = buildDemosPrompt([{ input: "a", output: "A" }, { input: "b", output: "B" }]);
 * if (p !== "<|endoftext|>Q: a\nA: A\n\nQ: b\nA: B\n\n") throw new Error(JSON.stringify(p));
 * ```
 */
export function buildDemosPrompt(demos: readonly TaskItem[]): string {
  let text = START;
  for (const demo of demos) text += `Q: ${demo.input}\nA: ${demo.output}\n\n`;
  return text;
}

/**
 * The prompt of a query alone, `Q: {input}\nA:`, read from a state that already holds
 * `<|endoftext|>` and the demonstrations (so it has no `<|endoftext|>` of its own).
 *
 * @param query The test item; only its `input` is written.
 * @returns The text, ending in `"A:"`.
 *
 * @example
 * ```ts
 * import { buildQueryPrompt } from "./build_prompt.ts";
 * if (buildQueryPrompt({ input: "big" }) !== "Q: big\nA:") throw new Error("wrong query");
 * ```
 */
export function buildQueryPrompt(query: Pick<TaskItem, "input">): string {
  return `Q: ${query.input}\nA:`;
}

/**
 * The target continuation of a prompt: the output with a leading space.
 *
 * @param output The expected answer.
 * @returns `" " + output`.
 *
 * @example
 * ```ts
 * import { buildTarget } from "./build_prompt.ts";
 * if (buildTarget("cold") !== " cold") throw new Error("wrong target");
 * ```
 */
export function buildTarget(output: string): string {
  return ` ${output}`;
}
