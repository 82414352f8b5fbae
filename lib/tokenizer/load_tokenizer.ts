/**
 * Loads the GPT-NeoX-20B byte-level BPE tokenizer that the Mamba checkpoints use.
 *
 * @module
 */
import { Tokenizer } from "npm:@huggingface/tokenizers@0.2.0";
import { FormatError, NotFoundError, SoupError } from "../util/errors.ts";
import { oneLine, parseJsonText, showValue } from "../util/json.ts";

/** The end-of-text token; Todd et al. start every prompt with it (GPT-NeoX has no BOS). */
const EOS_TOKEN = "<|endoftext|>";

/**
 * The `tokenizer_config` handed to `@huggingface/tokenizers`. The package only needs an object;
 * its one field that matters for a byte-level BPE is `clean_up_tokenization_spaces`, which
 * defaults to `true` there (as in older `transformers`) and would turn `"hello ."` into
 * `"hello."` on decode. The Rust `tokenizers` library never cleans up, and neither do we, so
 * `decode(encode(text)) === text.normalize("NFC")` holds exactly (the normalizer is NFC).
 */
const TOKENIZER_CONFIG = { clean_up_tokenization_spaces: false } as const;

/** Keys `@huggingface/tokenizers` requires in `tokenizer.json` (each may be `null` but `model`). */
const REQUIRED_KEYS = [
  "model",
  "added_tokens",
  "normalizer",
  "pre_tokenizer",
  "post_processor",
  "decoder",
] as const;

/**
 * A loaded GPT-NeoX-20B tokenizer.
 *
 * `encode` adds no special tokens: write `"<|endoftext|>"` in the text where one is wanted
 * (it becomes {@linkcode MambaTokenizer.eosTokenId}).
 *
 * @example Encode a Todd et al. prompt and decode it back
 * ```ts
 * import { loadTokenizer } from "./load_tokenizer.ts";
 * const mirror = Deno.env.get("SOUP_MIRROR") ?? "../shared/data";
 * const tok = await loadTokenizer(`${mirror}/tokenizer/gpt-neox-20b`);
 * const ids = tok.encode("<|endoftext|>Q: hot\nA:");
 * if (ids.join() !== "0,50,27,3511,187,34,27") throw new Error(ids.join());
 * if (tok.decode(ids) !== "<|endoftext|>Q: hot\nA:") throw new Error("no round trip");
 * ```
 */
export interface MambaTokenizer {
  /** The `tokenizer.json` file that was read. */
  readonly path: string;
  /**
   * Number of tokens, added tokens included (50277 for GPT-NeoX-20B). Mamba pads its embedding
   * to 50280 rows, so a model can emit ids this tokenizer has no token for.
   */
  readonly vocabSize: number;
  /** Id of `"<|endoftext|>"` (0 for GPT-NeoX-20B). */
  readonly eosTokenId: number;
  /**
   * Token ids of `text`, with no special token added. Added tokens written in the text
   * (`"<|endoftext|>"`, runs of 2 to 24 spaces) become their own ids.
   */
  encode(text: string): number[];
  /**
   * The text of `ids`, special tokens included, without any clean-up of spaces. Ids past the
   * vocabulary (Mamba's padding rows) decode to nothing, as in Hugging Face `tokenizers`.
   *
   * @throws {RangeError} when an id is not a non-negative integer.
   */
  decode(ids: readonly number[]): string;
  /** Id of a token in its byte-level spelling (`"Ġthe"` for `" the"`), if it exists. */
  tokenToId(token: string): number | undefined;
  /** Token of an id in its byte-level spelling, if the id exists. */
  idToToken(id: number): string | undefined;
}

class NeoXTokenizer implements MambaTokenizer {
  readonly path: string;
  readonly vocabSize: number;
  readonly eosTokenId: number;
  readonly #inner: Tokenizer;

  constructor(path: string, inner: Tokenizer, eosTokenId: number) {
    this.path = path;
    this.#inner = inner;
    this.vocabSize = inner.get_vocab(true).size;
    this.eosTokenId = eosTokenId;
  }

  encode(text: string): number[] {
    return this.#inner.encode(text, { add_special_tokens: false }).ids;
  }

  decode(ids: readonly number[]): string {
    const known: number[] = [];
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0) {
        throw new RangeError(`Cannot decode token id ${id}: ids are non-negative integers`);
      }
      if (this.#inner.id_to_token(id) !== undefined) known.push(id);
    }
    // The package throws on an empty array.
    return known.length === 0 ? "" : this.#inner.decode(known);
  }

  tokenToId(token: string): number | undefined {
    return this.#inner.token_to_id(token);
  }

  idToToken(id: number): string | undefined {
    return this.#inner.id_to_token(id);
  }
}

/**
 * Reads a Hugging Face `tokenizer.json` (the GPT-NeoX-20B one for Mamba) and builds a
 * {@linkcode MambaTokenizer} on `@huggingface/tokenizers`.
 *
 * @param path A `tokenizer.json` file, or a directory that holds one.
 * @returns The tokenizer, with `path` set to the file that was read.
 * @throws {NotFoundError} when the file (or the directory's `tokenizer.json`) does not exist.
 * @throws {FormatError} when the file is not JSON, lacks a part of a tokenizer, or has no
 * `"<|endoftext|>"` token.
 * @throws {SoupError} when the file exists but cannot be read.
 *
 * @example Load from the data mirror
 * ```ts
 * import { loadTokenizer } from "./load_tokenizer.ts";
 * const mirror = Deno.env.get("SOUP_MIRROR") ?? "../shared/data";
 * const tok = await loadTokenizer(`${mirror}/tokenizer/gpt-neox-20b/tokenizer.json`);
 * if (tok.encode("Hello world").join() !== "12092,1533") throw new Error("bad ids");
 * if (tok.vocabSize !== 50277 || tok.eosTokenId !== 0) throw new Error("bad vocabulary");
 * ```
 */
export async function loadTokenizer(path: string): Promise<MambaTokenizer> {
  const file = await resolveFile(path);
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(file);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new NotFoundError(`Cannot read "${file}": no such file`, { file, cause: e });
    }
    throw new SoupError(`Cannot read "${file}": ${errorText(e)}`, { file, cause: e });
  }
  return tokenizerFromText(bytes, file);
}

/**
 * Builds a {@linkcode MambaTokenizer} from the text (or UTF-8 bytes) of a `tokenizer.json` read
 * from `file` (what {@linkcode loadTokenizer} does once it has the file). Anything that is not a
 * usable byte-level BPE tokenizer with an `"<|endoftext|>"` token is a one-line
 * {@linkcode FormatError} naming `file`.
 */
export function tokenizerFromText(text: string | Uint8Array, file: string): MambaTokenizer {
  const json = parseJsonText(text, file);
  checkShape(file, json);
  try {
    const inner = new Tokenizer(json, TOKENIZER_CONFIG);
    const eos = inner.token_to_id(EOS_TOKEN);
    if (eos === undefined) throw FormatError.at(file, `no "${EOS_TOKEN}" token`);
    // The package does not check the model's options against each other (an unk_token of 0
    // gives ids of undefined): a text of every kind of character must give known ids.
    const probe = inner.encode(PROBE_TEXT, { add_special_tokens: false }).ids;
    const bad = probe.find((id) =>
      !Number.isSafeInteger(id) || inner.id_to_token(id) === undefined
    );
    if (bad !== undefined || probe.length === 0) {
      throw FormatError.at(
        file,
        `the tokenizer gives the id ${
          showValue(bad)
        } for a sample text: not a token of its vocabulary`,
      );
    }
    return new NeoXTokenizer(file, inner, eos);
  } catch (e) {
    if (e instanceof SoupError) throw e;
    throw FormatError.at(file, `not a usable tokenizer (${oneLine(errorText(e))})`, e);
  }
}

/** `path` itself, or `path/tokenizer.json` when `path` is a directory. */
async function resolveFile(path: string): Promise<string> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new NotFoundError(`Cannot read "${path}": no such file or directory`, {
        file: path,
        cause: e,
      });
    }
    throw new SoupError(`Cannot read "${path}": ${errorText(e)}`, { file: path, cause: e });
  }
  if (!info.isDirectory) return path;
  const file = `${path.replace(/\/+$/, "")}/tokenizer.json`;
  try {
    await Deno.stat(file);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new NotFoundError(`Cannot read "${file}": directory holds no tokenizer.json`, {
        file,
        cause: e,
      });
    }
    throw new SoupError(`Cannot read "${file}": ${errorText(e)}`, { file, cause: e });
  }
  return file;
}

/** Fails unless `json` has the parts `@huggingface/tokenizers` dereferences unguarded. */
function checkShape(file: string, json: unknown): asserts json is Record<string, unknown> {
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw FormatError.at(file, "top level is not a JSON object");
  }
  const record = json as Record<string, unknown>;
  for (const key of REQUIRED_KEYS) {
    if (!(key in record)) throw FormatError.at(file, `missing "${key}"`);
  }
  if (!Array.isArray(record.added_tokens)) {
    throw FormatError.at(file, `"added_tokens" is not an array`);
  }
  const model = record.model as Record<string, unknown> | null;
  if (typeof model !== "object" || model === null) {
    throw FormatError.at(file, `"model" is not an object`);
  }
  if (model.type !== "BPE") {
    throw FormatError.at(file, `model type is ${showValue(model.type)}, expected "BPE"`);
  }
  if (typeof model.vocab !== "object" || model.vocab === null || Array.isArray(model.vocab)) {
    throw FormatError.at(file, `"model.vocab" is not an object`);
  }
  if (!Array.isArray(model.merges)) throw FormatError.at(file, `"model.merges" is not an array`);
  const optionalOf = (key: string, type: string) => {
    const v = model[key];
    if (v !== undefined && v !== null && typeof v !== type) {
      throw FormatError.at(file, `"model.${key}" is ${showValue(v)}, not a ${type} or null`);
    }
  };
  optionalOf("unk_token", "string");
  optionalOf("continuing_subword_prefix", "string");
  optionalOf("end_of_word_suffix", "string");
  optionalOf("dropout", "number");
  optionalOf("fuse_unk", "boolean");
  optionalOf("byte_fallback", "boolean");
  if (typeof model.unk_token === "string" && !Object.hasOwn(model.vocab, model.unk_token)) {
    throw FormatError.at(
      file,
      `"model.unk_token" ${showValue(model.unk_token)} is not in the vocab`,
    );
  }
  // The package takes ids as they stand: an id of -1, 0.5 or 1e400 would reach the model.
  const isId = (id: unknown) =>
    Number.isSafeInteger(id) && (id as number) >= 0 && (id as number) <= MAX_ID;
  for (const [token, id] of Object.entries(model.vocab)) {
    if (!isId(id)) {
      throw FormatError.at(
        file,
        `"model.vocab" gives ${showValue(token)} the id ${showValue(id)}, not a token id ` +
          `(an integer from 0 to ${MAX_ID})`,
      );
    }
  }
  for (const [i, t] of (record.added_tokens as unknown[]).entries()) {
    const added = t as Record<string, unknown> | null;
    if (
      typeof added !== "object" || added === null || typeof added.content !== "string" ||
      added.content === "" ||
      !isId(added.id)
    ) {
      throw FormatError.at(
        file,
        `"added_tokens" ${i} is ${
          showValue(t)
        }, not a {"id": <token id>, "content": <text>} object`,
      );
    }
  }
}

/** A text of letters, digits, spaces, punctuation, an accent, an emoji and the EOS token. */
const PROBE_TEXT = `Hello, World 42!\n\t  caf\u00e9 \u{1F600} ${EOS_TOKEN}\u0000`;

/** The largest token id accepted: ids are int32 inputs of the model's graph. */
const MAX_ID = 2 ** 31 - 1;

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
