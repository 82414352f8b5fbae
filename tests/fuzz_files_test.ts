/**
 * Fuzzes every parser of a file (or argument list) a user hands over: a model's config.json, a
 * skill library's index.json, a state folder's meta.json, a Todd et al. task file, a news
 * JSON-lines file, the command line, and tokenizer.json. Each input either parses into a value
 * that passes a consistency check, or is rejected with one of this project's errors
 * (`SoupError`) in one line naming the file (or, for the command line, the option).
 *
 * Besides the byte mutations of `_fuzz.ts`, the inputs hold JSON built to hurt: valid seeds with
 * fields dropped, duplicated, or given odd values (1e400, -1, 2^53 + 1, strings for numbers,
 * deep nesting, long strings, lone surrogates), and whole random JSON documents.
 *
 * SOUP_FUZZ_CASES (default 3000) sets the random cases per parser; `deno task fuzz` runs 10000.
 */
import { assert } from "./_assert.ts";
import { type FuzzOptions, fuzzParser, type FuzzSummary, fuzzSummaryLine, Rng } from "./_fuzz.ts";
import {
  CONFIG_LIMITS,
  type MambaConfig,
  parseMambaConfigText,
  toHfConfigJson,
} from "../lib/model/config.ts";
import { tinyMambaConfig } from "../lib/model/random_checkpoint.ts";
import { parseIndexText } from "../lib/library/_index_file.ts";
import type { SkillEntry } from "../lib/library/skill_library.ts";
import { parseStateMeta, type StateMeta } from "../lib/states/state_dir.ts";
import { parseTaskItems } from "../lib/tasks/_task_file.ts";
import type { TaskItem } from "../lib/tasks/types.ts";
import { loadNewsDocuments, type NewsDocument, parseNewsLines } from "../lib/data/news.ts";
import { parse as parseCli } from "../cli/_cli.ts";
import { tokenizerFromText } from "../lib/tokenizer/load_tokenizer.ts";
import { parseSafetensorsIndex } from "../lib/model/safetensors.ts";
import { SoupError } from "../lib/util/errors.ts";
import { oneLine } from "../lib/util/json.ts";

const SEED = Number(Deno.env.get("SOUP_FUZZ_SEED") ?? 20240613);
const CASES = Number(Deno.env.get("SOUP_FUZZ_CASES") ?? 3000);
/** SOUP_FUZZ_ONLY=<case index> replays one case of a failed run (of every parser here). */
const ONLY = Deno.env.get("SOUP_FUZZ_ONLY");

const encoder = new TextEncoder();
const json = (value: unknown, indent = 2) => encoder.encode(JSON.stringify(value, null, indent));

/** One of this project's errors, in one line, naming `file`. */
function ownErrorNaming(err: unknown, file: string): boolean {
  return err instanceof SoupError && err.message.includes(`"${file}"`) &&
    !/[\n\r]/.test(err.message);
}

/** Runs one parser's fuzzing and prints its row of the summary table. */
function fuzz(
  name: string,
  seeds: Uint8Array[],
  parse: (bytes: Uint8Array, file: string) => unknown,
  options: Partial<FuzzOptions> & { minParsed?: number; cases?: number },
): FuzzSummary {
  const summary = fuzzParser(name, seeds, parse, {
    accept: ownErrorNaming,
    maxCaseMs: 250,
    exhaustiveTruncationUpTo: 1024,
    ...options,
    cases: options.cases ?? CASES,
    seed: SEED,
    only: ONLY === undefined ? undefined : Number(ONLY),
  });
  console.log(fuzzSummaryLine(name, summary, SEED));
  if (ONLY === undefined) {
    // Both outcomes, or the inputs are not reaching the parser's checks.
    assert(
      summary.parsed >= (options.minParsed ?? 10),
      `too few parses: ${JSON.stringify(summary)}`,
    );
    assert(summary.rejected >= summary.cases / 4, `too few rejections: ${JSON.stringify(summary)}`);
  }
  return summary;
}

// ---------------------------------------------------------------------------------------------
// JSON that hurts: odd values, mutated seeds, random documents.

/** Deeply nested arrays and objects: recursion in a reader or in a message would overflow. */
const deep = (n: number, open = "[", close = "]") => open.repeat(n) + close.repeat(n);

/** JSON texts of values a field should not hold. */
const ODD_VALUES = [
  "1e400",
  "-1e400",
  "-1",
  "0",
  "-0",
  "0.5",
  "1e300",
  "9007199254740993",
  "4294967297",
  "1048577",
  "65537",
  "2147483648",
  "1e-400",
  "null",
  "true",
  "false",
  '"16"',
  '"auto"',
  '""',
  '"\\u0000"',
  '"\\ud800"',
  '"a\\nb\\r\\u2028c"',
  '"\u00e9\u{1F600}"',
  '"mamba"',
  "[]",
  "[1, 2]",
  "{}",
  '{"a": 1}',
  '{"__proto__": {"x": 1}}',
  deep(50),
  deep(5000),
  deep(100_000),
  deep(3000, '{"a":', "}").replace(/}+$/, "1$&"),
  `"${"x".repeat(100_000)}"`,
  `[${"1,".repeat(20_000)}1]`,
];

/** Tokens for dictionary mutations of any JSON file. */
const JSON_TOKENS = [
  "{",
  "}",
  "[",
  "]",
  ",",
  ":",
  '"',
  "\\",
  "\\u",
  "\\ud800",
  "null",
  "true",
  "1e400",
  "-1",
  "0",
  "9007199254740993",
  "\u00ff",
  "\ufeff",
  "\u2028",
  "\n",
  deep(20),
  '"__proto__": ',
  '"constructor": ',
  '"toString": ',
];

/** Raw JSON text of `value`, each object's keys maybe dropped, repeated or given odd values. */
function mutateJson(rng: Rng, value: unknown, rate: number, depth = 0): string {
  if (Array.isArray(value)) {
    const items = value.map((v) => mutateJson(rng, v, rate, depth + 1));
    if (items.length && rng.float() < rate) items.splice(rng.int(items.length), 1);
    if (items.length && rng.float() < rate) items.push(items[rng.int(items.length)]);
    if (rng.float() < rate) items.push(rng.pick(ODD_VALUES));
    return `[${items.join(", ")}]`;
  }
  if (typeof value === "object" && value !== null) {
    const entries: [string, string][] = [];
    for (const [k, v] of Object.entries(value)) {
      const r = rng.float();
      if (r < rate / 2) continue; // dropped
      const text = r < rate * 1.5 ? rng.pick(ODD_VALUES) : mutateJson(rng, v, rate, depth + 1);
      entries.push([k, text]);
      // A duplicated key: JSON.parse keeps the last one.
      if (rng.float() < rate / 3) entries.push([k, rng.pick(ODD_VALUES)]);
    }
    if (rng.float() < rate / 2) {
      entries.push([
        rng.pick(["extra", "__proto__", "constructor", "", "a\nb"]),
        rng.pick(ODD_VALUES),
      ]);
    }
    const ws = rng.pick(["", " ", "\n  ", "\t"]);
    return `{${ws}${entries.map(([k, v]) => `${JSON.stringify(k)}: ${v}`).join(`,${ws}`)}${ws}}`;
  }
  return rng.float() < rate ? rng.pick(ODD_VALUES) : JSON.stringify(value);
}

/** A generator of mutated JSON from `seeds` (plain values), a few changes per document. */
function jsonMutations(seeds: unknown[]): (rng: Rng) => Uint8Array {
  return function jsonMutation(rng: Rng) {
    const seed = rng.pick(seeds);
    const rate = rng.pick([0.02, 0.05, 0.1, 0.3]);
    return encoder.encode(mutateJson(rng, seed, rate));
  };
}

/** A random JSON document, mostly small, sometimes huge or deep. */
function randomJson(rng: Rng): Uint8Array {
  const value = (depth: number): string => {
    const r = rng.int(depth > 4 ? 4 : 7);
    if (r === 0) return rng.pick(ODD_VALUES);
    if (r === 1) return String(rng.int(1000));
    if (r === 2) return JSON.stringify(String.fromCharCode(...rng.bytes(rng.int(8))));
    if (r === 3) return rng.pick(["null", "true", "false"]);
    if (r === 4 || r === 5) {
      const n = rng.int(5);
      return `{${
        Array.from({ length: n }, () => `${JSON.stringify(rng.pick(KEYS))}: ${value(depth + 1)}`)
          .join(", ")
      }}`;
    }
    return `[${Array.from({ length: rng.int(5) }, () => value(depth + 1)).join(", ")}]`;
  };
  return encoder.encode(value(0));
}

/** Keys of every format fuzzed here, for random documents. */
const KEYS = [
  "model_type",
  "hidden_size",
  "vocab_size",
  "num_hidden_layers",
  "format",
  "version",
  "entries",
  "id",
  "shape",
  "layers",
  "configHash",
  "tokenIds",
  "input",
  "output",
  "text",
  "article",
  "model",
  "vocab",
  "merges",
  "type",
];

// ---------------------------------------------------------------------------------------------
// 1. config.json

const CONFIG_SEEDS: Record<string, unknown>[] = [
  toHfConfigJson(tinyMambaConfig()),
  JSON.parse(
    Deno.readTextFileSync(new URL("../data/models/organism/config.json", import.meta.url)),
  ),
  {
    model_type: "mamba",
    d_model: 768,
    n_layer: 24,
    vocab_size: 50277,
    ssm_cfg: {},
    rms_norm: true,
    residual_in_fp32: true,
    fused_add_norm: true,
    pad_vocab_size_multiple: 8,
    time_step_rank: "auto",
  },
  { // mamba-2.8b-hf
    model_type: "mamba",
    hidden_size: 2560,
    intermediate_size: 5120,
    state_size: 16,
    num_hidden_layers: 64,
    vocab_size: 50280,
    conv_kernel: 4,
    expand: 2,
    time_step_rank: 160,
    layer_norm_epsilon: 1e-5,
    use_bias: false,
    use_conv_bias: true,
    hidden_act: "silu",
  },
];

function checkConfig(result: unknown): string | void {
  const c = result as MambaConfig;
  const dims = [
    c.hiddenSize,
    c.intermediateSize,
    c.stateSize,
    c.convKernel,
    c.timeStepRank,
    c.vocabSize,
  ];
  if (!dims.every((d) => Number.isSafeInteger(d) && d >= 1 && d <= CONFIG_LIMITS.dim)) {
    return `a size out of bounds: ${dims}`;
  }
  if (!(Number.isSafeInteger(c.numHiddenLayers) && c.numHiddenLayers >= 1)) return "bad layers";
  if (c.numHiddenLayers > CONFIG_LIMITS.layers) return `${c.numHiddenLayers} layers`;
  if (!(c.layerNormEpsilon > 0 && Number.isFinite(c.layerNormEpsilon))) return "bad epsilon";
  for (const k of ["useConvBias", "useBias", "tieWordEmbeddings"] as const) {
    if (typeof c[k] !== "boolean") return `${k} is not a boolean`;
  }
  if (!Object.isFrozen(c)) return "not frozen";
}

Deno.test("fuzz: config.json parses into a bounded config or fails in one line naming the file", () => {
  fuzz("config.json", CONFIG_SEEDS.map((s) => json(s)), (b, f) => parseMambaConfigText(b, f), {
    check: checkConfig,
    dictionary: [...JSON_TOKENS, '"hidden_size": ', '"model_type": "mamba", ', '"expand": 1e6, '],
    generators: [jsonMutations(CONFIG_SEEDS), jsonMutations(CONFIG_SEEDS), randomJson],
  });
});

// ---------------------------------------------------------------------------------------------
// 2. A skill library's index.json

const SHAPE = { layers: 2, dInner: 32, convKernel: 4, stateSize: 4, vocab: 64 };
const entry = (id: string, extra: Record<string, unknown> = {}) => ({
  id,
  folder: `states/${id}`,
  task: "antonym",
  k: 5,
  seed: 0,
  model: "tiny",
  configHash: "0123456789abcdef",
  shape: SHAPE,
  created: "2026-11-24T09:00:00.000Z",
  ...extra,
});
const INDEX_SEEDS = [
  {
    format: "state-soup skill library",
    version: 1,
    entries: [entry("antonym-k5-seed0"), entry("Synonym.2", { task: "synonym", seed: null })],
  },
  { format: "state-soup skill library", version: 1, entries: [] },
];

function checkIndex(result: unknown): string | void {
  const entries = result as SkillEntry[];
  const ids = new Set<string>();
  for (const e of entries) {
    for (const k of ["id", "folder", "task", "model", "configHash", "created"] as const) {
      if (typeof e[k] !== "string" || e[k] === "") return `${k} of ${e.id} is not a string`;
    }
    if (e.folder.split("/").includes("..") || e.folder.startsWith("/")) return `folder ${e.folder}`;
    if (ids.has(e.id.toLowerCase())) return `repeated id ${e.id}`;
    ids.add(e.id.toLowerCase());
    if (!Number.isInteger(e.k) || e.k < 0) return `k ${e.k}`;
    if (e.seed !== null && !Number.isInteger(e.seed)) return `seed ${e.seed}`;
    if (!Object.values(e.shape).every((d) => Number.isSafeInteger(d) && d > 0)) return "shape";
  }
}

Deno.test("fuzz: a library's index.json parses into checked entries or fails in one line naming the file", () => {
  fuzz("index.json", INDEX_SEEDS.map((s) => json(s)), (b, f) => parseIndexText(b, f), {
    check: checkIndex,
    dictionary: [...JSON_TOKENS, '"id": "../x", ', '"layers": 0', '"folder": "/etc"'],
    generators: [jsonMutations(INDEX_SEEDS), jsonMutations(INDEX_SEEDS), randomJson],
  });
});

// ---------------------------------------------------------------------------------------------
// 3. A state folder's meta.json

const META_SEEDS = [
  {
    model: "tiny",
    configHash: "0123456789abcdef",
    weightsFingerprint: "abc",
    shape: SHAPE,
    tokenIds: [0, 50, 27, 3511],
    text: "<|endoftext|>Q: hot",
    source: null,
    engine: "reference",
    created: "2026-11-24T09:00:00.000Z",
    extra: { task: "antonym", k: 5, seed: 0 },
  },
  {
    model: "m",
    configHash: "x",
    shape: { ...SHAPE, layers: 64 },
    tokenIds: [],
    source: "states/a",
    engine: "onnx-cpu",
    created: "",
  },
];

function checkMeta(result: unknown): string | void {
  const m = result as StateMeta;
  if (typeof m.configHash !== "string") return "configHash";
  const dims = Object.values(m.shape);
  if (!dims.every((d) => Number.isSafeInteger(d) && d > 0 && d <= CONFIG_LIMITS.dim)) {
    return `shape ${dims}`;
  }
  if (m.tokenIds !== undefined && !m.tokenIds.every((t) => Number.isSafeInteger(t) && t >= 0)) {
    return "tokenIds";
  }
}

Deno.test("fuzz: a state's meta.json parses into a checked meta or fails in one line naming the file", () => {
  fuzz("meta.json", META_SEEDS.map((s) => json(s)), (b, f) => parseStateMeta(b, f), {
    check: checkMeta,
    dictionary: [...JSON_TOKENS, '"layers": 1e9', '"tokenIds": [-1], '],
    generators: [jsonMutations(META_SEEDS), jsonMutations(META_SEEDS), randomJson],
  });
});

// ---------------------------------------------------------------------------------------------
// 4. A Todd et al. task file

const TASK_SEEDS = [
  [{ input: "hot", output: "cold" }, { input: "up", output: "down" }],
  [{ input: "Paris", output: "France", extra: 1 }],
  [{ input: "\u00e9t\u00e9", output: "\u{1F600}" }, { input: "", output: " " }],
  [],
];

function checkTasks(result: unknown): string | void {
  const items = result as TaskItem[];
  if (!Array.isArray(items)) return "not an array";
  for (const it of items) {
    if (typeof it.input !== "string" || typeof it.output !== "string") return "not strings";
  }
}

Deno.test("fuzz: a task file parses into string pairs or fails in one line naming the file", () => {
  fuzz("task.json", TASK_SEEDS.map((s) => json(s, 0)), (b, f) => parseTaskItems(f, b), {
    check: checkTasks,
    dictionary: [...JSON_TOKENS, '{"input": "a", "output": 1}, '],
    generators: [jsonMutations(TASK_SEEDS), jsonMutations(TASK_SEEDS), randomJson],
  });
});

// ---------------------------------------------------------------------------------------------
// 5. News JSON lines

const NEWS_DOCS = [
  { text: "The council met on Tuesday.\nIt voted 5-2.", url: "https://example.com/a" },
  { article: "(CNN) A storm hit the coast.", id: "f001", highlights: "storm" },
  { text: "\u00e9\u{1F600} \u2028", timestamp: "2019-04-21" },
];
const jsonl = (docs: unknown[], sep = "\n") =>
  encoder.encode(docs.map((d) => JSON.stringify(d)).join(sep) + sep);
const NEWS_SEEDS = [
  jsonl(NEWS_DOCS),
  jsonl([NEWS_DOCS[1], NEWS_DOCS[1]], "\r\n"),
  jsonl([NEWS_DOCS[0], NEWS_DOCS[2]], "\n\n"),
];

function newsLines(rng: Rng): Uint8Array {
  const lines = Array.from(
    { length: 1 + rng.int(6) },
    () => mutateJson(rng, rng.pick(NEWS_DOCS), rng.pick([0, 0.05, 0.2])),
  );
  return encoder.encode(lines.join(rng.pick(["\n", "\r\n", "\n\n", " \n"])));
}

function checkNews(result: unknown): string | void {
  const docs = result as NewsDocument[];
  for (const d of docs) {
    if (typeof d.text !== "string" || !/^fuzz-\d+\.news\.jsonl:\d+$/.test(d.id)) {
      return `bad document ${JSON.stringify(d).slice(0, 80)}`;
    }
  }
}

Deno.test("fuzz: a news JSON-lines file parses into documents or fails in one line naming the file", () => {
  fuzz("news.jsonl", NEWS_SEEDS, (b, f) => parseNewsLines(b, f), {
    check: checkNews,
    dictionary: [...JSON_TOKENS, '{"text": 1}\n', '"text": ', "\r\n", "\n\n"],
    generators: [newsLines, newsLines, randomJson],
  });
});

// ---------------------------------------------------------------------------------------------
// 6. The command line

/** `soup extract`'s declaration, the shape every command's is. */
const CLI_SPEC = {
  model: "string",
  task: "string",
  k: "string",
  out: "string",
  text: "string",
  device: "string",
  force: "boolean",
  json: "boolean",
} as const;

/** Arguments are the input split at NUL bytes (an argument cannot hold one), decoded lossily. */
const argsOf = (bytes: Uint8Array) => new TextDecoder().decode(bytes).split("\0");
const argBytes = (args: string[]) => encoder.encode(args.join("\0"));

const CLI_ARGS = [
  "--model",
  "organism",
  "--k=5",
  "--force",
  "--json=true",
  "--text",
  "-x",
  "-",
  "--",
  "--=",
  "---model",
  "--__proto__",
  "--constructor",
  "--toString=1",
  "--hasOwnProperty",
  "--mirror",
  "--offline",
  "--help",
  "-h",
  "-abc",
  "--MODEL",
  "--mod",
  "--d\u00e9vice",
  "--\u{1F600}",
  "--a'b c",
  "--a\nb",
  "",
  " ",
  "5",
  "-5",
  "1e400",
  "\u00ff",
  "x".repeat(1000),
];

function randomArgs(rng: Rng): Uint8Array {
  return argBytes(Array.from({ length: rng.int(8) }, () => rng.pick(CLI_ARGS)));
}

/** What the command line's errors name: an option the arguments hold. */
function cliAccept(err: unknown, _file: string, args: string[]): boolean {
  if (!(err instanceof SoupError) || /[\n\r]/.test(err.message)) return false;
  // The option named is one of the arguments (up to its "=" and what a message shortens).
  return args.some((a) => {
    const name = oneLine(a.replace(/^-+/, "").split("=")[0]).slice(0, 20);
    return a.startsWith("-") && err.message.includes(name);
  });
}

Deno.test("fuzz: command-line options parse by the declaration or fail in one line naming the option", () => {
  let lastArgs: string[] = [];
  fuzz(
    "cli",
    [
      argBytes(["--model", "organism", "--k", "5", "--force"]),
      argBytes(["--task=antonym", "--out", "states/a", "--device", "cpu", "--json"]),
      argBytes(["--text", "a\\nb", "--mirror=/data", "--offline"]),
    ],
    (bytes) => {
      lastArgs = argsOf(bytes);
      return parseCli(lastArgs, CLI_SPEC);
    },
    {
      accept: (err, file) => cliAccept(err, file, lastArgs),
      exhaustiveTruncationUpTo: 256,
      check: (result) => {
        const { flags, positionals } = result as ReturnType<typeof parseCli>;
        for (const [k, v] of Object.entries(flags)) {
          const type = (CLI_SPEC as Record<string, string>)[k] ??
            { mirror: "string", offline: "boolean", help: "boolean" }[k];
          if (type === undefined) return `undeclared option ${k}`;
          const kind = typeof v === "string"
            ? "string"
            : typeof v === "boolean"
            ? "boolean"
            : "other";
          if (kind !== type) return `--${k} is a ${typeof v}`;
        }
        if (!positionals.every((p) => typeof p === "string")) return "positionals";
        return undefined;
      },
      dictionary: [...CLI_ARGS.map((a) => `\0${a}`), "\0", "=", "-"],
      generators: [randomArgs, randomArgs],
      minParsed: 100,
    },
  );
});

// ---------------------------------------------------------------------------------------------
// 7. tokenizer.json (a small synthetic byte-level BPE; the real one is 2 MB)

const BYTE_LEVEL = {
  type: "ByteLevel",
  add_prefix_space: false,
  trim_offsets: true,
  use_regex: true,
};
const TOKENIZER_SEEDS = [
  {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: [
      {
        id: 0,
        content: "<|endoftext|>",
        single_word: false,
        lstrip: false,
        rstrip: false,
        normalized: false,
        special: true,
      },
    ],
    normalizer: { type: "NFC" },
    pre_tokenizer: BYTE_LEVEL,
    post_processor: BYTE_LEVEL,
    decoder: BYTE_LEVEL,
    model: {
      type: "BPE",
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      vocab: { "<|endoftext|>": 0, "h": 1, "e": 2, "l": 3, "o": 4, "he": 5, "ll": 6, "Ġ": 7 },
      merges: ["h e", "l l"],
    },
  },
];

Deno.test("fuzz: tokenizer.json builds a tokenizer or fails in one line naming the file", () => {
  fuzz(
    "tokenizer",
    TOKENIZER_SEEDS.map((s) => json(s)),
    (b, f) => {
      const tok = tokenizerFromText(b, f);
      tok.decode(tok.encode("hello <|endoftext|>"));
      return tok;
    },
    {
      check: (result) => {
        const tok = result as ReturnType<typeof tokenizerFromText>;
        if (!Number.isInteger(tok.eosTokenId) || tok.eosTokenId < 0) return "eos";
        return undefined;
      },
      dictionary: [...JSON_TOKENS, '"type": "BPE"', '"merges": ["h", "e l l"]', '"vocab": []'],
      generators: [jsonMutations(TOKENIZER_SEEDS), jsonMutations(TOKENIZER_SEEDS), randomJson],
    },
  );
});

Deno.test("fuzz: a damaged .jsonl.gz news file fails in one line naming the file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "soup-fuzz-news-" });
  try {
    const stream = new Blob([NEWS_SEEDS[0]]).stream().pipeThrough(new CompressionStream("gzip"));
    const gz = new Uint8Array(await new Response(stream).arrayBuffer());
    const rng = new Rng(SEED);
    let read = 0, rejected = 0, slowestMs = 0;
    for (let i = 0; i < 200; i++) {
      // Case 0 is the whole file; then truncations and bit flips (the gzip CRC catches most).
      const bytes = i % 2 === 0
        ? gz.slice(0, i === 0 ? gz.length : rng.int(gz.length))
        : gz.slice();
      if (i % 2 === 1) {
        for (let j = 1 + rng.int(3); j > 0; j--) bytes[rng.int(bytes.length)] ^= 1 << rng.int(8);
      }
      const file = `${dir}/case${i}.jsonl.gz`;
      await Deno.writeFile(file, bytes);
      const started = performance.now();
      try {
        await loadNewsDocuments({ source: file });
        read++;
      } catch (err) {
        if (!ownErrorNaming(err, file)) {
          throw new Error(`case ${i}: expected a one-line SoupError naming ${file}, got ${err}`);
        }
        rejected++;
      }
      slowestMs = Math.max(slowestMs, performance.now() - started);
    }
    const summary = { cases: read + rejected, parsed: read, rejected, kinds: {}, slowestMs };
    console.log(fuzzSummaryLine("news.jsonl.gz", summary, SEED));
    assert(read >= 1 && rejected > 100, `${read} read, ${rejected} rejected`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// ---------------------------------------------------------------------------------------------
// A sharded checkpoint's model.safetensors.index.json: shard names are plain file names.

const SAFETENSORS_INDEX_SEEDS = [
  {
    metadata: { total_size: 1234 },
    weight_map: {
      "backbone.embeddings.weight": "model-00001-of-00002.safetensors",
      "backbone.layers.0.mixer.A_log": "model-00001-of-00002.safetensors",
      "backbone.norm_f.weight": "model-00002-of-00002.safetensors",
    },
  },
  { weight_map: { a: "x.safetensors" } },
];

Deno.test("fuzz: a sharded safetensors index names shard files beside it or fails in one line naming the file", () => {
  fuzz(
    "safetensors index",
    SAFETENSORS_INDEX_SEEDS.map((s) => json(s)),
    (b, f) => parseSafetensorsIndex(b, f),
    {
      check: (result) => {
        const names = (result as { shards: string[] }).shards;
        if (!Array.isArray(names) || names.length === 0) return "no shard names";
        for (const n of names) {
          if (typeof n !== "string" || n === "" || n === "." || n === ".." || /[\/\\\0]/.test(n)) {
            return `shard name ${JSON.stringify(n)} is not a file name beside the index`;
          }
        }
        return undefined;
      },
      dictionary: [
        ...JSON_TOKENS,
        '"../x.safetensors"',
        '"/etc/passwd"',
        '".."',
        '"a\\\\b"',
        '"weight_map": ',
      ],
      generators: [
        jsonMutations(SAFETENSORS_INDEX_SEEDS),
        jsonMutations(SAFETENSORS_INDEX_SEEDS),
        randomJson,
      ],
    },
  );
});
