/**
 * Golden tests of the GPT-NeoX-20B tokenizer against ids that do not come from this library:
 * the project's notes, Hugging Face `transformers`' own GPT-NeoX test, llama.cpp's tokenizer
 * fixtures, espnet's Pythia test, the Rust `tokenizers` library, and the vocabulary and merges
 * of `tokenizer.json` read directly. Decoding is checked against a byte-level decoder written
 * here from the GPT-2 byte table, not the package's.
 */
import { assert, assertEquals, assertRejects, assertThrows } from "../../tests/_assert.ts";
import { FormatError, NotFoundError, type SoupError } from "../util/errors.ts";
import { loadTokenizer, type MambaTokenizer } from "./mod.ts";

const MIRROR = Deno.env.get("SOUP_MIRROR") ?? "../shared/data";
const DIR = `${MIRROR}/tokenizer/gpt-neox-20b`;
const FILE = `${DIR}/tokenizer.json`;

interface TokenizerJson {
  model: { vocab: Record<string, number>; merges: (string | [string, string])[] };
  added_tokens: { id: number; content: string }[];
}

let cached: Promise<{ tok: MambaTokenizer; json: TokenizerJson }> | undefined;
function fixture(): Promise<{ tok: MambaTokenizer; json: TokenizerJson }> {
  cached ??= (async () => ({
    tok: await loadTokenizer(DIR),
    json: JSON.parse(await Deno.readTextFile(FILE)) as TokenizerJson,
  }))();
  return cached;
}

// ---------------------------------------------------------------------------------------------
// An independent byte-level decoder: GPT-2's bytes_to_unicode table (openai/gpt-2
// src/encoder.py) maps each byte to one printable character; a vocabulary entry is the
// concatenation of those characters. Added tokens hold their raw text.

function byteOfChar(): Map<string, number> {
  const bytes: number[] = [];
  for (let b = 33; b <= 126; b++) bytes.push(b);
  for (let b = 161; b <= 172; b++) bytes.push(b);
  for (let b = 174; b <= 255; b++) bytes.push(b);
  const chars = [...bytes];
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bytes.includes(b)) {
      bytes.push(b);
      chars.push(256 + n++);
    }
  }
  return new Map(bytes.map((b, i) => [String.fromCodePoint(chars[i]), b]));
}
const BYTE_OF_CHAR = byteOfChar();

/** Bytes of a byte-level token string, or undefined if a character is not in the table. */
function tokenBytes(token: string): number[] | undefined {
  const out: number[] = [];
  for (const c of token) {
    const b = BYTE_OF_CHAR.get(c);
    if (b === undefined) return undefined;
    out.push(b);
  }
  return out;
}

const TABLES = new WeakMap<
  TokenizerJson,
  { added: Map<number, string>; tokenOf: Map<number, string> }
>();

/** Text of `ids` computed from the JSON alone. */
function referenceDecode(json: TokenizerJson, ids: readonly number[]): string {
  let tables = TABLES.get(json);
  if (tables === undefined) {
    tables = {
      added: new Map(json.added_tokens.map((t) => [t.id, t.content])),
      tokenOf: new Map(Object.entries(json.model.vocab).map(([t, id]) => [id, t])),
    };
    TABLES.set(json, tables);
  }
  const { added, tokenOf } = tables;
  const bytes: number[] = [];
  for (const id of ids) {
    const raw = added.get(id);
    if (raw !== undefined) {
      bytes.push(...new TextEncoder().encode(raw));
      continue;
    }
    const token = tokenOf.get(id);
    assert(token !== undefined, `id ${id} is not in the vocabulary`);
    const b = tokenBytes(token);
    assert(b !== undefined, `token ${JSON.stringify(token)} is not byte-level`);
    bytes.push(...b);
  }
  return new TextDecoder().decode(Uint8Array.from(bytes));
}

// ---------------------------------------------------------------------------------------------
// Golden cases. Each group names where its ids come from.

interface Golden {
  text: string;
  ids: number[];
}

/** Ids written as in llama.cpp's `.out` files: decimal numbers separated by spaces. */
function idList(line: string): number[] {
  return line.trim().split(/ +/).map(Number);
}

/** ../shared/NOTES.md, "Verified facts", the @huggingface/tokenizers line (checked by hand). */
const NOTES_CASES: Golden[] = [
  { text: "Hello world", ids: [12092, 1533] },
  { text: " quinze", ids: [42116, 2721] },
  {
    text: "<|endoftext|>Q: hot\nA: cold\n\nQ: big\nA:",
    ids: [0, 50, 27, 3511, 187, 34, 27, 5412, 187, 187, 50, 27, 1943, 187, 34, 27],
  },
];

/**
 * huggingface/transformers, tests/models/gpt_neox/test_tokenization_gpt_neox.py at commit
 * 796319cdf3aa8c560d185c4a9f73de7c8b1eb034: `integration_expected_token_ids` of
 * EleutherAI/gpt-neox-20b for `integration_expected_decoded_text` (the default
 * `integration_test_input_string` of tests/test_tokenization_common.py).
 */
const TRANSFORMERS_CASE: Golden = {
  text: "This is a test 😊\nI was born in 92000, and this is falsé.\n生活的真谛是\nHi  Hello\n" +
    "Hi   Hello\n\n \n  \n Hello\n<s>\nhi<s>there\nThe following string should be properly " +
    "encoded: Hello.\nBut ird and ปี   ird   ด\nHey how are you doing",
  ids: idList(
    "1552 310 247 1071 49042 221 187 42 369 5686 275 898 6914 13 285 436 310 21649 860 15 " +
      "187 20025 46549 5225 48561 33656 238 12105 187 12764 50276 12092 187 12764 50275 " +
      "12092 46603 50276 187 24387 187 29 84 31 187 5801 29 84 31 9088 187 510 1563 2876 " +
      "943 320 6283 16202 27 24387 15 187 1989 209 1817 285 209 2869 238 26863 50275 1817 " +
      "50275 35071 187 8262 849 403 368 2509",
  ),
};

/** The pre-tokenizer check string `chktxt` of llama.cpp's convert-hf-to-gguf-update.py. */
const LLAMA_CPP_CHKTXT = "\n \n\n \n\n\n \t \t\t \t\n  \n   \n    \n     \n🚀 (normal) " +
  "😶\u200d🌫️ (multiple emojis concatenated) ✅ 🦙🦙 3 33 333 3333 33333 333333 3333333 " +
  "33333333 3.3 3..3 3...3 កាន់តែពិសេសអាច😁 ?我想在apple工作1314151天～ ------======= " +
  "нещо на Български ''''''```````\"\"\"\"......!!!!!!?????? I've been 'told he's there, 'RE " +
  "you sure? 'M not sure I'll make it, 'D you like some tea? We'Ve a'lL";

/**
 * ggerganov/llama.cpp, models/ggml-vocab-mpt.gguf.out at commit
 * 492f75ce39dd83d30362ac0b31f6f45413ef5398: ids from `AutoTokenizer` of mosaicml/mpt-7b, whose
 * tokenizer is EleutherAI's GPT-NeoX-20B one, one line per input of the `tests` list in
 * convert_hf_to_gguf_update.py. The `.inp` file is not at hand, so each input was taken from
 * that list and is confirmed by the independent decoder below (byte-level BPE is lossless).
 * One line, whose ids decode to "乡—서울에서", is left out: no listed input matches it.
 */
const LLAMA_CPP_CASES: Golden[] = [
  { text: "ied 4 ½ months", ids: [728, 577, 24142, 2607] },
  { text: "Führer", ids: [39, 26288, 6554] },
  { text: "", ids: [] },
  { text: " ", ids: [209] },
  { text: "  ", ids: [50276] },
  { text: "   ", ids: [50275] },
  { text: "\t", ids: [186] },
  { text: "\n", ids: [187] },
  { text: "\n\n", ids: [535] },
  { text: "\n\n\n", ids: [2756] },
  { text: "\t\n", ids: [186, 187] },
  { text: "Hello world", ids: [12092, 1533] },
  { text: " Hello world", ids: [24387, 1533] },
  { text: "Hello World", ids: [12092, 3645] },
  { text: " Hello World", ids: [24387, 3645] },
  { text: " Hello World!", ids: [24387, 3645, 2] },
  { text: "Hello, world!", ids: [12092, 13, 1533, 2] },
  { text: " Hello, world!", ids: [24387, 13, 1533, 2] },
  { text: " this is 🦙.cpp", ids: [436, 310, 22692, 101, 236, 15, 14161] },
  { text: "w048 7tuijk dsdfhu", ids: [88, 27244, 818, 16853, 16392, 20505, 4989, 11917] },
  {
    text: "нещо на Български",
    ids: [32520, 11514, 1068, 8713, 38177, 13396, 3415, 9925, 12559, 10453, 1389],
  },
  {
    text: "កាន់តែពិសេសអាចខលចេញ",
    ids: idList(
      "18081 211 18081 116 18081 230 39936 222 18081 226 39936 213 18081 233 18081 117 " +
        "18081 242 39936 212 18081 242 18081 97 18081 116 18081 216 18081 212 18081 238 18081 " +
        "216 39936 212 18081 220",
    ),
  },
  {
    text:
      "🚀 (normal) 😶\u200d🌫️ (multiple emojis concatenated) ✅ (only emoji that has its own token)",
    ids: idList(
      "14931 237 211 313 6320 10 49042 116 325 224 14931 223 106 171 118 226 313 34263 802 " +
        "13511 261 32147 456 10 3384 239 216 313 7483 802 80 8020 326 556 697 1211 10669 10",
    ),
  },
  { text: "Hello", ids: [12092] },
  { text: " Hello", ids: [24387] },
  { text: "  Hello", ids: [50276, 12092] },
  { text: "   Hello", ids: [50275, 12092] },
  { text: "    Hello", ids: [50274, 12092] },
  { text: "    Hello\n    Hello", ids: [50274, 12092, 187, 50274, 12092] },
  { text: " (", ids: [313] },
  { text: "\n =", ids: [187, 426] },
  { text: "' era", ids: [8, 8685] },
  {
    text: "Hello, y'all! How are you 😁 ?我想在apple工作1314151天～",
    ids: idList(
      "12092 13 340 8 455 2 1359 403 368 49042 212 3736 15367 41197 13610 19934 41869 21275 " +
        "1012 1047 18795 40120 20422 241",
    ),
  },
  { text: "3", ids: [20] },
  { text: "33", ids: [1610] },
  { text: "333", ids: [20084] },
  { text: "3333", ids: [26409] },
  { text: "33333", ids: [1610, 20084] },
  { text: "333333", ids: [26409, 1610] },
  { text: "3333333", ids: [26409, 20084] },
  { text: "33333333", ids: [26409, 26409] },
  { text: "333333333", ids: [26409, 1610, 20084] },
  {
    text: LLAMA_CPP_CHKTXT,
    ids: idList(
      "586 1744 33525 186 209 623 28910 187 50276 187 50275 187 50274 187 50273 187 14931 " +
        "237 211 313 6320 10 49042 116 325 224 14931 223 106 171 118 226 313 34263 802 13511 " +
        "261 32147 456 10 3384 239 216 22692 101 236 14931 101 236 495 5922 30057 495 20084 " +
        "495 26409 30057 20084 495 26409 1610 495 26409 20084 495 15 20 495 537 20 495 1051 " +
        "20 209 18081 211 18081 116 18081 230 39936 222 18081 226 39936 213 18081 233 18081 " +
        "117 18081 242 39936 212 18081 242 18081 97 18081 116 18081 216 14931 235 212 3736 " +
        "15367 41197 13610 19934 41869 21275 1012 1047 18795 40120 20422 241 16081 6877 12880 " +
        "11514 1068 8713 38177 13396 3415 9925 12559 10453 1389 42011 35033 34842 11202 9739 " +
        "9739 33021 18963 4672 25561 8220 309 1849 644 686 42618 344 434 627 13 686 1848 368 " +
        "2119 32 686 46 417 2119 309 1833 1056 352 13 686 37 368 751 690 10331 32 844 8 31516 " +
        "247 8 77 45",
    ),
  },
];

/**
 * Computed with the Rust `tokenizers` library (huggingface/tokenizers, npm package
 * `tokenizers` 0.23.2, `Tokenizer.fromFile(tokenizer.json)`, `addSpecialTokens: false`) on the
 * same tokenizer.json: an implementation independent of @huggingface/tokenizers. They pin
 * down the GPT-NeoX whitespace tokens (ids 50254..50276 = runs of 24 down to 2 spaces), which
 * take the space that a following word would otherwise carry as "Ġ".
 */
const RUST_TOKENIZERS_CASES: Golden[] = [
  { text: "x    y", ids: [89, 50274, 90] },
  { text: "  hi", ids: [50276, 5801] },
  { text: "hello .", ids: [25521, 964] },
  { text: "a\n\n\nb", ids: [66, 535, 187, 67] },
  { text: "Q: hot\nA: cold\n\n", ids: [50, 27, 3511, 187, 34, 27, 5412, 535] },
  { text: "<|endoftext|>Q: big\nA: small", ids: [0, 50, 27, 1943, 187, 34, 27, 1355] },
  { text: "\n\n\n\nQ", ids: [2756, 187, 50] },
  { text: "if x:\n    return 1\n", ids: [338, 1269, 27, 187, 50274, 2309, 337, 187] },
  { text: "<|endoftext|><|endoftext|>", ids: [0, 0] },
  { text: "<|padding|>", ids: [1] },
  { text: "a<|endoftext|>b", ids: [66, 0, 67] },
  { text: " <|endoftext|> ", ids: [209, 0, 209] },
  { text: "Hello\u00a0world", ids: [12092, 575, 10186] },
  { text: "café naïve Æsop", ids: [68, 2320, 860, 36060, 1325, 217, 84, 412] },
  { text: "1234567890", ids: [42594, 25025, 2270] },
  { text: "3.14159", ids: [20, 15, 1047, 17220] },
  { text: "   \n   ", ids: [50275, 187, 50275] },
  { text: `word${" ".repeat(30)}end`, ids: [3418, 50254, 50272, 423] },
  { text: "Mamba", ids: [46, 31834] },
];

const GROUPS: [string, Golden[]][] = [
  ["../shared/NOTES.md", NOTES_CASES],
  ["transformers' GPT-NeoX test", [TRANSFORMERS_CASE]],
  ["llama.cpp ggml-vocab-mpt", LLAMA_CPP_CASES],
  ["Rust tokenizers", RUST_TOKENIZERS_CASES],
];

for (const [source, cases] of GROUPS) {
  Deno.test(`encode() matches the golden ids of ${source}`, async () => {
    const { tok } = await fixture();
    for (const { text, ids } of cases) assertEquals(tok.encode(text), ids, JSON.stringify(text));
  });

  Deno.test(`decode() of the golden ids of ${source} gives back the text`, async () => {
    const { tok, json } = await fixture();
    for (const { text, ids } of cases) {
      // The ids are right for this text: an independent decoder agrees.
      assertEquals(referenceDecode(json, ids), text, `reference ${JSON.stringify(text)}`);
      assertEquals(tok.decode(ids), text, JSON.stringify(text));
    }
  });
}

Deno.test("tokenToId() and idToToken() match espnet's Pythia token table", async () => {
  // espnet/espnet, test/espnet2/text/test_hugging_face_token_id_converter.py
  // (EleutherAI/pythia-410m-deduped, which uses the GPT-NeoX-20B vocabulary).
  const tokens = ["Ele", "uther", "AI", "/", "py", "thia", "-", "410", "m", "-", "ded", "up", "ed"];
  const ids = [30377, 16580, 18128, 16, 4789, 36005, 14, 30889, 78, 14, 4861, 484, 264];
  const { tok } = await fixture();
  assertEquals(tokens.map((t) => tok.tokenToId(t)), ids);
  assertEquals(ids.map((id) => tok.idToToken(id)), tokens);
  // The Rust `tokenizers` library encodes the model name to exactly these ids.
  assertEquals(tok.encode("EleutherAI/pythia-410m-deduped"), ids);
});

Deno.test("tokenToId() and idToToken() agree with the JSON vocabulary and added tokens", async () => {
  const { tok, json } = await fixture();
  for (const [token, id] of Object.entries(json.model.vocab)) {
    if (tok.tokenToId(token) !== id || tok.idToToken(id) !== token) {
      throw new Error(`vocab entry ${JSON.stringify(token)} = ${id} is not mirrored`);
    }
  }
  for (const { id, content } of json.added_tokens) {
    assertEquals([tok.tokenToId(content), tok.idToToken(id)], [id, content]);
  }
  assertEquals(tok.tokenToId("no such token here"), undefined);
  assertEquals(tok.idToToken(50277), undefined);
});

Deno.test("vocabSize counts added tokens and eosTokenId is <|endoftext|>", async () => {
  const { tok, json } = await fixture();
  const ids = new Set([...Object.values(json.model.vocab), ...json.added_tokens.map((t) => t.id)]);
  assertEquals(ids.size, 50277);
  assertEquals(tok.vocabSize, ids.size);
  assertEquals(tok.eosTokenId, json.model.vocab["<|endoftext|>"]);
  assertEquals(tok.eosTokenId, 0);
  assert(tok.path.endsWith("gpt-neox-20b/tokenizer.json"), tok.path);
});

Deno.test("encode() keeps every space-prefixed lowercase word of the vocabulary whole", async () => {
  // Each "Ġ<letters>" entry of model.vocab is one pre-token, so BPE must give back its own id.
  const { tok, json } = await fixture();
  let checked = 0;
  for (const [token, id] of Object.entries(json.model.vocab)) {
    if (!/^Ġ[a-z]+$/.test(token)) continue;
    const text = ` ${token.slice(1)}`;
    const got = tok.encode(text);
    if (got.length !== 1 || got[0] !== id) {
      throw new Error(`${JSON.stringify(text)} -> ${JSON.stringify(got)}, expected [${id}]`);
    }
    checked++;
  }
  assert(checked > 18_000, `only ${checked} words checked`);
});

Deno.test("encode() of a merge's result is that merge's token for the first 2000 merges", async () => {
  // BPE applies model.merges in order; the text of an early merge's result encodes to the merged
  // token. Skipped: results that are not whole UTF-8 characters, and those containing two
  // spaces, which the whitespace added tokens (ids 50254..50276) take first.
  const { tok, json } = await fixture();
  let checked = 0;
  for (const merge of json.model.merges.slice(0, 2000)) {
    const token = typeof merge === "string" ? merge.replace(" ", "") : merge.join("");
    let text: string;
    try {
      text = new TextDecoder("utf-8", { fatal: true }).decode(Uint8Array.from(tokenBytes(token)!));
    } catch {
      continue;
    }
    if (text.includes("  ")) continue;
    assertEquals(tok.encode(text), [json.model.vocab[token]], JSON.stringify(text));
    checked++;
  }
  assert(checked > 1900, `only ${checked} merges checked`);
  // The first merge of GPT-NeoX-20B is "Ġ Ġ" (two spaces); the second makes " t".
  assertEquals(json.model.merges.slice(0, 2), ["Ġ Ġ", "Ġ t"]);
  assertEquals(tok.encode(" t"), [json.model.vocab["Ġt"]]);
  assertEquals(tok.encode("  "), [50276]);
});

const ROUND_TRIP_TEXTS = [
  "",
  "Hello world",
  "<|endoftext|>Q: hot\nA: cold\n\nQ: big\nA: small\n\nQ: fast\nA:",
  "<|endoftext|>Q: France\nA: Paris\n\nQ: Japan\nA: Tokyo\n\nQ: Peru\nA:",
  "<|endoftext|>Q: un\nA: one\n\nQ: quinze\nA: fifteen\n\nQ: deux\nA:",
  "Numbers: 0 1 12 123 1234 12345 3.14159 -42 1e-5 1,000,000 2026-11-24",
  "Unicode: naïve café Æsop ß Ω 日本語 中文 한국어 Привет مرحبا ปี ด",
  "Emoji: 😊 👍🏽 👨\u200d👩\u200d👧 🦙🦙 🚀",
  "Whitespace:\t\ttabs, \r\nCRLF,\n\n\nthree newlines,     five spaces,\u00a0nbsp,\u3000ideographic",
  "  leading spaces and trailing ones   ",
  "def f(x):\n    return x * 2\n\n\nclass A:\n        pass\n",
  "Contractions: I'm, you're, it's, we've, they'll, he'd, DON'T",
  "Spaces before punctuation stay: a . b , c ! d ? e 's f n't g 're",
  "Specials inline: a<|endoftext|>b<|padding|>c <|endoftext|>",
  "Control: \u0000\u0001\u007f and a lone combining mark e\u0301 (NFC makes it é)",
];

Deno.test("decode(encode(x)) gives back x for varied text (after NFC)", async () => {
  const { tok, json } = await fixture();
  for (const text of ROUND_TRIP_TEXTS) {
    const ids = tok.encode(text);
    // The tokenizer's normalizer is NFC, so a decomposed "e\u0301" comes back composed.
    assertEquals(tok.decode(ids), text.normalize("NFC"), JSON.stringify(text));
    assertEquals(referenceDecode(json, ids), text.normalize("NFC"), JSON.stringify(text));
  }
});

Deno.test("encode() turns every <|endoftext|> of a Todd et al. prompt into eosTokenId", async () => {
  const { tok } = await fixture();
  const ids = tok.encode("<|endoftext|>Q: a\nA: b\n\n<|endoftext|>Q: c\nA:");
  assertEquals(ids.filter((id) => id === tok.eosTokenId).length, 2);
  assertEquals(ids[0], tok.eosTokenId);
  // "\n\n" then a letter is two newline tokens; "\n\n" at the end of the text is one
  // (ids from the Rust `tokenizers` library, as RUST_TOKENIZERS_CASES).
  assertEquals(tok.encode("A: b\n\nQ"), [34, 27, 270, 187, 187, 50]);
  assertEquals(tok.encode("A: b\n\n"), [34, 27, 270, 535]);
});

Deno.test("decode() skips ids past the vocabulary and rejects non-integers", async () => {
  const { tok } = await fixture();
  assertEquals(tok.decode([]), "");
  // Mamba's embedding has 50280 rows; 50277..50279 have no token.
  assertEquals(tok.decode([12092, 50277, 50279, 1533]), "Hello world");
  assertThrows(() => tok.decode([1.5]), RangeError, "1.5");
  assertThrows(() => tok.decode([-1]), RangeError, "-1");
  assertThrows(() => tok.decode([Number.NaN]), RangeError, "NaN");
});

Deno.test("loadTokenizer() accepts the file or its directory", async () => {
  const fromFile = await loadTokenizer(FILE);
  const fromDir = await loadTokenizer(`${DIR}/`);
  assertEquals(fromFile.path, FILE);
  assertEquals(fromDir.path, FILE);
  assertEquals(fromDir.encode("Hello world"), [12092, 1533]);
});

Deno.test("loadTokenizer() names the file when it is missing", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const missing = `${dir}/nope/tokenizer.json`;
    const e = await assertRejects(() => loadTokenizer(missing), NotFoundError, missing);
    assertEquals((e as SoupError).file, missing);
    const e2 = await assertRejects(() => loadTokenizer(dir), NotFoundError, "tokenizer.json");
    assertEquals((e2 as SoupError).file, `${dir}/tokenizer.json`);
    assert(e2.message.startsWith(`Cannot read "${dir}/tokenizer.json"`), e2.message);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadTokenizer() rejects malformed JSON and non-tokenizers with a FormatError", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const cases: [string, string][] = [
      ['{"model": {"type": "BPE", "vocab"', "malformed JSON"],
      ["[1, 2]", "not a JSON object"],
      ["{}", 'missing "model"'],
      [
        '{"model": {"type": "WordPiece", "vocab": {}}, "added_tokens": [], "normalizer": null,' +
        ' "pre_tokenizer": null, "post_processor": null, "decoder": null}',
        'model type is "WordPiece"',
      ],
      [
        '{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}, "added_tokens": [],' +
        ' "normalizer": null, "pre_tokenizer": null, "post_processor": null, "decoder": null}',
        'no "<|endoftext|>" token',
      ],
      [
        '{"model": {"type": "BPE", "vocab": {"<|endoftext|>": 0}, "merges": []},' +
        ' "added_tokens": [], "normalizer": {"type": "Nonsense"}, "pre_tokenizer": null,' +
        ' "post_processor": null, "decoder": null}',
        "not a usable tokenizer",
      ],
    ];
    for (const [i, [content, problem]] of cases.entries()) {
      const file = `${dir}/case${i}.json`;
      await Deno.writeTextFile(file, content);
      const e = await assertRejects(() => loadTokenizer(file), FormatError, problem);
      assert(e.message.startsWith(`Cannot read "${file}": `), e.message);
      assertEquals((e as FormatError).file, file);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
