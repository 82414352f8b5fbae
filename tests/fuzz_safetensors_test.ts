/**
 * Fuzzes the safetensors reader: random bytes, truncations and mutations of valid files must
 * end in a FormatError naming the file, or parse into tensors that lie inside the file.
 */
import { assert, assertEquals } from "./_assert.ts";
import { fuzzParser, fuzzSummaryLine } from "./_fuzz.ts";
import {
  encodeSafetensors,
  parseSafetensorsHeader,
  randomMambaTensors,
  SafetensorsCheckpoint,
  tinyMambaConfig,
} from "../lib/model/mod.ts";
import { FormatError } from "../lib/util/errors.ts";
import { Rng } from "../lib/util/random.ts";

const SEED = Number(Deno.env.get("SOUP_FUZZ_SEED") ?? 20240612);
const CASES = Number(Deno.env.get("SOUP_FUZZ_CASES") ?? 3000);
const ONLY = Deno.env.get("SOUP_FUZZ_ONLY");

const small = (dtype: "F32" | "F16" | "BF16") =>
  encodeSafetensors([
    { name: "a", shape: [2, 3], data: new Float32Array([1, 2, 3, 4, 5, 6]), dtype },
    { name: "b", shape: [], data: new Float32Array([7]), dtype },
    { name: "c", shape: [0, 4], data: new Float32Array(0), dtype },
  ]);
const config = tinyMambaConfig({
  hiddenSize: 4,
  intermediateSize: 8,
  stateSize: 2,
  vocabSize: 5,
  numHiddenLayers: 1,
});
const SEEDS = [
  small("F32"),
  small("F16"),
  small("BF16"),
  encodeSafetensors(randomMambaTensors(config)),
];

/** Parses a whole file in memory and decodes every tensor's bytes. */
function parseWhole(bytes: Uint8Array, name: string) {
  const header = parseSafetensorsHeader(bytes, bytes.length, name);
  for (const t of header.tensors) {
    if (t.offset + t.byteLength > bytes.length) throw new Error(`tensor ${t.name} past the end`);
    bytes.subarray(t.offset, t.offset + t.byteLength);
  }
  return header;
}

Deno.test("the safetensors header parser survives thousands of broken files", () => {
  const summary = fuzzParser("safetensors", SEEDS, parseWhole, {
    cases: CASES,
    seed: SEED,
    only: ONLY === undefined ? undefined : Number(ONLY),
    dictionary: [
      '"dtype"',
      '"shape"',
      '"data_offsets"',
      '"F32"',
      '"BF16"',
      '"__metadata__"',
      "[",
      "]",
      "{",
      "}",
      ",",
      ":",
      "-1",
      "1e308",
      "18446744073709551615",
    ],
    check: (result, bytes) => {
      const h = result as ReturnType<typeof parseWhole>;
      for (const t of h.tensors) {
        if (t.offset < h.dataStart || t.offset + t.byteLength > bytes.length) {
          return `${t.name} outside the data`;
        }
      }
      return undefined;
    },
  });
  console.log(fuzzSummaryLine("safetensors", summary, SEED));
  assert(summary.rejected > summary.cases / 2, JSON.stringify(summary));
  assert(summary.parsed > 0, "some mutations keep a valid file");
});

Deno.test("SafetensorsCheckpoint rejects truncated and mutated files on disk with FormatError", async () => {
  const dir = await Deno.makeTempDir();
  const rng = new Rng(SEED);
  const valid = SEEDS[3];
  let rejected = 0, read = 0;
  for (let i = 0; i < 300; i++) {
    const bytes = i % 2 === 0 ? valid.slice(0, rng.int(valid.length)) : valid.slice();
    if (i % 2 === 1) {
      for (let j = 0; j < 3; j++) bytes[rng.int(Math.min(bytes.length, 400))] = rng.int(256);
    }
    const file = `${dir}/case${i}.safetensors`;
    await Deno.writeFile(file, bytes);
    try {
      using ckpt = await SafetensorsCheckpoint.open(file);
      for (const name of ckpt.tensors.keys()) {
        if (["F32", "F16", "BF16", "F64"].includes(ckpt.info(name).dtype)) {
          await ckpt.readFloat32(name);
        }
      }
      read++;
    } catch (err) {
      if (!(err instanceof FormatError) || !err.message.includes(file)) {
        throw new Error(`case ${i}: expected a FormatError naming ${file}, got ${err}`);
      }
      rejected++;
    }
  }
  assertEquals(rejected + read, 300);
  assert(rejected > 150, `${rejected} rejected`);
});
