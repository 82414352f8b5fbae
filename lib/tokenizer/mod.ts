/**
 * Mamba's tokenizer: GPT-NeoX-20B byte-level BPE, read from a Hugging Face `tokenizer.json`.
 *
 * @example
 * ```ts
 * import { loadTokenizer } from "./mod.ts";
 * const mirror = Deno.env.get("SOUP_MIRROR") ?? "../shared/data";
 * const tok = await loadTokenizer(`${mirror}/tokenizer/gpt-neox-20b`);
 * if (tok.decode(tok.encode(" quinze")) !== " quinze") throw new Error("no round trip");
 * ```
 *
 * @module
 */
export * from "./load_tokenizer.ts";
