import { encodeNpy, NPY_DTYPES, type NpyArray, parseNpy } from "../lib/npy/mod.ts";
import { fuzzParser, fuzzSummaryLine, type Rng } from "./_fuzz.ts";

/** Override with SOUP_FUZZ_SEED=<n> to explore; failures print the seed to replay. */
const SEED = Number(Deno.env.get("SOUP_FUZZ_SEED") ?? 20240611);
const CASES = Number(Deno.env.get("SOUP_FUZZ_CASES") ?? 3000);
/** SOUP_FUZZ_ONLY=<case index> replays one case of a failed run. */
const ONLY = Deno.env.get("SOUP_FUZZ_ONLY");

const encoder = new TextEncoder();

/** A .npy file with the given header text (not padded) and data, any version byte. */
function npyFile(header: string, data: Uint8Array, major: number): Uint8Array {
  const text = encoder.encode(header);
  const lenSize = major === 1 ? 2 : 4;
  const out = new Uint8Array(8 + lenSize + text.length + data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, major, 0]);
  const dv = new DataView(out.buffer);
  if (lenSize === 2) dv.setUint16(8, text.length & 0xffff, true);
  else dv.setUint32(8, text.length, true);
  out.set(text, 8 + lenSize);
  out.set(data, 8 + lenSize + text.length);
  return out;
}

const SEEDS: Uint8Array[] = [
  encodeNpy({ data: new Float32Array([1, -0, NaN, Infinity, 0.5, 3]), shape: [2, 3] }),
  encodeNpy({ data: new Float64Array([Math.PI]), shape: [] }),
  encodeNpy({ data: new Int32Array([1, 2, 3]), shape: [3] }),
  encodeNpy({ data: new BigInt64Array([1n, -1n]), shape: [1, 2, 1] }),
  encodeNpy({ data: new Uint8Array([0, 255]), shape: [2] }),
  encodeNpy({ data: new Uint8Array([1, 0, 1, 1]), shape: [2, 2] }, { dtype: "bool" }),
  encodeNpy({ data: new Float32Array([0.5, 2, -1]), shape: [3] }, { dtype: "float16" }),
  encodeNpy({ data: new Float32Array(0), shape: [0, 3] }),
  npyFile(
    "{'descr': '<i4', 'fortran_order': True, 'shape': (2, 3), }\n",
    new Uint8Array(new Int32Array([1, 4, 2, 5, 3, 6]).buffer),
    1,
  ),
  npyFile(
    "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }\n",
    new Uint8Array(16),
    2,
  ),
  npyFile(
    "{'descr': '<f2', 'fortran_order': False, 'shape': (1,), }\n",
    new Uint8Array(2),
    3,
  ),
];

/** Tokens of header dicts, good and bad, for dictionary mutations and random headers. */
const TOKENS = [
  "{",
  "}",
  "(",
  ")",
  "[",
  "]",
  ",",
  ":",
  " ",
  "\n",
  "'",
  '"',
  "\\",
  "'descr'",
  "'shape'",
  "'fortran_order'",
  "'<f4'",
  "'<f2'",
  "'<f8'",
  "'<i4'",
  "'<i8'",
  "'|u1'",
  "'|b1'",
  "'>f4'",
  "'<c8'",
  "'|f4'",
  "'=i8'",
  "True",
  "False",
  "None",
  "0",
  "1",
  "3",
  "-1",
  "2.5",
  "1e3",
  "99999999999999999999",
  "4294967296",
  "7L",
  "u'",
  "b'",
  "\\x00",
  "é",
  "\u{1F600}",
  "\0",
  "((((((((((",
  "))))))))))",
  "{'a': ",
  "'x'",
];

/** Random header text from tokens, in a valid preamble: exercises the literal parser. */
function randomHeader(rng: Rng): Uint8Array {
  let text = "";
  for (let n = rng.int(40); n > 0; n--) text += rng.pick(TOKENS);
  return npyFile(text, rng.bytes(rng.int(64)), rng.pick([1, 1, 2, 3, 3, 0, 4]));
}

const DESCRS: [string, number][] = [
  ["<f2", 2],
  ["<f4", 4],
  ["<f8", 8],
  ["<i4", 4],
  ["<i8", 8],
  ["|u1", 1],
  ["|b1", 1],
  ["<u1", 1],
  [">u1", 1],
  [">f4", 4],
  ["<i2", 2],
  ["|f4", 4],
];

const ODD_DIMS = [
  "-1",
  "-0",
  "2.5",
  "1e2",
  "99999999999999999999",
  "True",
  "None",
  "'a'",
  "1L",
  "+2",
];
const ODD_FORTRAN = ["0", "1", "None", "'True'", "()"];
const ODD_ENTRIES = ["'extra': 1", "'descr': '<f4'", "1: 2", "'shape': [2]"];

/**
 * Headers that are well-formed dicts with random dtype, order and shape, and data sized right
 * or nearly; one case in ten has an odd dimension, fortran_order value or key.
 */
function grammarHeader(rng: Rng): Uint8Array {
  const [descr, itemsize] = rng.pick(DESCRS);
  const shape = Array.from({ length: rng.int(5) }, () => rng.int(5));
  const dims = shape.map((d) => rng.int(10) === 0 ? rng.pick(ODD_DIMS) : String(d));
  const tuple = dims.length === 1 ? `(${dims[0]},)` : `(${dims.join(", ")})`;
  const fortran = rng.int(10) === 0 ? rng.pick(ODD_FORTRAN) : rng.int(2) ? "True" : "False";
  const entries = [`'descr': '${descr}'`, `'fortran_order': ${fortran}`, `'shape': ${tuple}`];
  if (rng.int(10) === 0) entries.splice(rng.int(3), 1);
  if (rng.int(10) === 0) entries.push(rng.pick(ODD_ENTRIES));
  for (let i = entries.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [entries[i], entries[j]] = [entries[j], entries[i]];
  }
  const header = `{${entries.join(", ")}${rng.int(2) ? ", " : ""}}${" ".repeat(rng.int(70))}\n`;
  const size = shape.reduce((a, b) => a * b, 1) * itemsize;
  const delta = rng.int(4) === 0 ? rng.int(9) - 4 : 0;
  return npyFile(header, rng.bytes(Math.max(0, size + delta)), rng.pick([1, 2, 3]));
}

const CTORS: Record<string, unknown> = {
  float16: Float32Array,
  float32: Float32Array,
  float64: Float64Array,
  int32: Int32Array,
  int64: BigInt64Array,
  uint8: Uint8Array,
  bool: Uint8Array,
};

function checkArray(result: unknown): string | void {
  const a = result as NpyArray;
  if (!NPY_DTYPES.includes(a.dtype)) return `unknown dtype ${a.dtype}`;
  if (a.data.constructor !== CTORS[a.dtype]) {
    return `${a.dtype} data is a ${a.data.constructor.name}`;
  }
  if (!a.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) return `bad shape ${a.shape}`;
  const n = a.shape.reduce((x, y) => x * y, 1);
  if (a.data.length !== n) return `data length ${a.data.length} but shape ${a.shape} holds ${n}`;
}

Deno.test("parseNpy() survives fuzzing: every input parses consistently or throws a FormatError naming the file", () => {
  const summary = fuzzParser("npy", SEEDS, parseNpy, {
    cases: CASES,
    seed: SEED,
    check: checkArray,
    dictionary: TOKENS,
    generators: [randomHeader, grammarHeader, grammarHeader],
    maxCaseMs: 250,
    only: ONLY === undefined ? undefined : Number(ONLY),
  });
  // The run must reach both outcomes, or the mutations are not exercising the parser.
  console.log(fuzzSummaryLine("npy", summary, SEED));
  if (ONLY === undefined && (summary.parsed < 100 || summary.rejected < 1000)) {
    throw new Error(`too few parses or rejections: ${JSON.stringify(summary)}`);
  }
});
