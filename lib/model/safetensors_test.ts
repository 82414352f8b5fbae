import {
  assert,
  assertClose,
  assertEquals,
  assertRejects,
  assertThrows,
} from "../../tests/_assert.ts";
import { parseSafetensorsHeader, SafetensorsCheckpoint } from "./safetensors.ts";
import { encodeSafetensors, writeSafetensors } from "./write_safetensors.ts";
import { randomMambaTensors, tinyMambaConfig, writeRandomCheckpoint } from "./random_checkpoint.ts";
import { loadMambaWeights, mambaTensorShapes, validateCheckpoint } from "./weights.ts";
import { readMambaConfig } from "./config.ts";
import { FormatError, NotFoundError } from "../util/errors.ts";

/** A file with a hand-written header: 8-byte length, JSON, data. */
function rawFile(header: unknown, dataBytes: number): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + dataBytes);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  return out;
}

Deno.test("parseSafetensorsHeader() reads dtypes, shapes and absolute offsets", () => {
  const bytes = rawFile({
    __metadata__: { format: "pt" },
    b: { dtype: "F16", shape: [3], data_offsets: [8, 14] },
    a: { dtype: "F32", shape: [2], data_offsets: [0, 8] },
  }, 14);
  const h = parseSafetensorsHeader(bytes, bytes.length, "x.safetensors");
  assertEquals(h.tensors.map((t) => [t.name, t.dtype, t.offset - h.dataStart, t.byteLength]), [
    ["a", "F32", 0, 8],
    ["b", "F16", 8, 6],
  ]);
  assertEquals(h.metadata, { format: "pt" });
});

Deno.test("parseSafetensorsHeader() rejects inconsistent headers, naming the file", () => {
  const t = (entry: unknown, dataBytes = 8) => rawFile({ w: entry }, dataBytes);
  const cases: [Uint8Array, string][] = [
    [
      t({ dtype: "F32", shape: [2], data_offsets: [0, 12] }, 12),
      "needs 8 bytes but data_offsets span 12",
    ],
    [t({ dtype: "F32", shape: [2], data_offsets: [0, 8] }, 4), "data region holds 4 bytes"],
    [t({ dtype: "F32", shape: [2], data_offsets: [8, 0] }), "begin > end"],
    [t({ dtype: "Q4", shape: [2], data_offsets: [0, 8] }), "unknown dtype"],
    [t({ dtype: "F32", shape: [-2], data_offsets: [0, 8] }), "invalid shape"],
    [t({ dtype: "F32", shape: [2], data_offsets: [0] }), "invalid data_offsets"],
    [t([1, 2]), "is not an object"],
    [rawFile([1], 0), "not a JSON object"],
    [rawFile({ __metadata__: { a: 1 } }, 0), "not a string"],
    [
      rawFile({
        a: { dtype: "F32", shape: [2], data_offsets: [0, 8] },
        b: { dtype: "F32", shape: [2], data_offsets: [4, 12] },
      }, 12),
      "overlap",
    ],
  ];
  for (const [bytes, message] of cases) {
    assertThrows(
      () => parseSafetensorsHeader(bytes, bytes.length, "bad.safetensors"),
      FormatError,
      message,
    );
    assertThrows(
      () => parseSafetensorsHeader(bytes, bytes.length, "bad.safetensors"),
      FormatError,
      '"bad.safetensors"',
    );
  }
  const huge = new Uint8Array(16);
  new DataView(huge.buffer).setBigUint64(0, 1n << 60n, true);
  assertThrows(
    () => parseSafetensorsHeader(huge, 16, "h.safetensors"),
    FormatError,
    "runs past the end",
  );
  assertThrows(
    () => parseSafetensorsHeader(new Uint8Array(3), 3, "s.safetensors"),
    FormatError,
    "too short",
  );
  const notUtf8 = rawFile({}, 0);
  notUtf8[9] = 0xff;
  assertThrows(
    () => parseSafetensorsHeader(notUtf8, notUtf8.length, "u.safetensors"),
    FormatError,
    "UTF-8 JSON",
  );
});

Deno.test("SafetensorsCheckpoint reads F32, F16 and BF16 tensors by offset", async () => {
  const dir = await Deno.makeTempDir();
  const values = new Float32Array([0, 1, -2, 0.5, 65504, -0.0001220703125, 3.140625, 1e-3]);
  for (const dtype of ["F32", "F16", "BF16"] as const) {
    await writeSafetensors(`${dir}/${dtype}.safetensors`, [
      { name: "pad", shape: [3], data: new Float32Array([7, 7, 7]), dtype: "F16" }, // misaligns what follows
      { name: "v", shape: [2, 4], data: values, dtype },
    ]);
    using ckpt = await SafetensorsCheckpoint.open(`${dir}/${dtype}.safetensors`);
    const got = await ckpt.readFloat32("v");
    // F16 holds these exactly but 1e-3; BF16 has 8 significant bits.
    assertClose(got, values, { rtol: dtype === "F32" ? 0 : dtype === "F16" ? 1e-3 : 4e-3 });
    assertEquals(ckpt.info("v").shape, [2, 4]);
    assert(ckpt.info("v").offset % 4 !== 0 || dtype !== "F32");
  }
});

Deno.test("SafetensorsCheckpoint opens sharded checkpoints through the index", async () => {
  const dir = await Deno.makeTempDir();
  const config = tinyMambaConfig({ numHiddenLayers: 3 });
  await writeRandomCheckpoint(`${dir}/one`, config, { seed: 4 });
  await writeRandomCheckpoint(`${dir}/sharded`, config, { seed: 4, maxShardBytes: 4096 });
  using one = await SafetensorsCheckpoint.open(`${dir}/one`);
  using sharded = await SafetensorsCheckpoint.open(`${dir}/sharded`);
  assert(sharded.files.length > 2, `${sharded.files.length} shards`);
  assertEquals([...sharded.tensors.keys()].sort(), [...one.tensors.keys()].sort());
  for (const name of one.tensors.keys()) {
    assertEquals(await sharded.readFloat32(name), await one.readFloat32(name), name);
  }
  const index = JSON.parse(await Deno.readTextFile(`${dir}/sharded/model.safetensors.index.json`));
  index.weight_map["backbone.norm_f.weight"] = "model-00001-of-00009.safetensors";
  await Deno.writeTextFile(`${dir}/sharded/model.safetensors.index.json`, JSON.stringify(index));
  await assertRejects(() => SafetensorsCheckpoint.open(`${dir}/sharded`), NotFoundError);
});

Deno.test("writeRandomCheckpoint() writes HF names and shapes with Mamba-like dynamics", async () => {
  const dir = await Deno.makeTempDir();
  const config = tinyMambaConfig({
    vocabSize: 50280,
    stateSize: 8,
    useBias: true,
    tieWordEmbeddings: false,
  });
  await writeRandomCheckpoint(dir, config, { seed: 9 });
  assertEquals(await readMambaConfig(dir), config);
  using ckpt = await SafetensorsCheckpoint.open(dir);
  validateCheckpoint(ckpt, config);
  assertEquals(ckpt.tensors.size, mambaTensorShapes(config).size);
  assertEquals(ckpt.info("lm_head.weight").shape, [50280, 16]);
  const w = await loadMambaWeights(ckpt, config);
  assertEquals(
    Array.from(w.layers[1].aLog.subarray(8, 16)),
    Array.from({ length: 8 }, (_, j) => Math.fround(Math.log(j + 1))),
  );
  for (const layer of w.layers) {
    for (const b of layer.dtProjBias) {
      const dt = Math.log1p(Math.exp(b));
      assert(dt >= 0.001 * 0.999 && dt <= 0.1 * 1.001, `softplus(dt bias) ${dt}`);
    }
  }
  // Same seed, same bytes; another seed, other bytes.
  await writeRandomCheckpoint(`${dir}/again`, config, { seed: 9 });
  await writeRandomCheckpoint(`${dir}/other`, config, { seed: 10 });
  const a = await Deno.readFile(`${dir}/model.safetensors`);
  assertEquals(await Deno.readFile(`${dir}/again/model.safetensors`), a);
  assert((await Deno.readFile(`${dir}/other/model.safetensors`)).some((x, i) => x !== a[i]));
});

Deno.test("validateCheckpoint() names a wrong shape, a missing and an extra tensor", async () => {
  const dir = await Deno.makeTempDir();
  const config = tinyMambaConfig({ numHiddenLayers: 1 });
  await writeRandomCheckpoint(dir, config);
  using ckpt = await SafetensorsCheckpoint.open(dir);
  assertThrows(
    () => validateCheckpoint(ckpt, tinyMambaConfig({ numHiddenLayers: 1, stateSize: 5 })),
    FormatError,
    "backbone.layers.0.mixer.A_log",
  );
  assertThrows(
    () => validateCheckpoint(ckpt, tinyMambaConfig({ numHiddenLayers: 2 })),
    FormatError,
    `tensor "backbone.layers.1.norm.weight" is missing`,
  );
  const tensors = [
    ...randomMambaTensors(config),
    { name: "lm_head.bias", shape: [64], data: new Float32Array(64) },
  ];
  await Deno.writeFile(`${dir}/extra.safetensors`, encodeSafetensors(tensors));
  using extra = await SafetensorsCheckpoint.open(`${dir}/extra.safetensors`);
  assertThrows(
    () => validateCheckpoint(extra, config),
    FormatError,
    `unexpected tensor "lm_head.bias"`,
  );
});

Deno.test("SafetensorsCheckpoint.open() explains a missing checkpoint", async () => {
  const dir = await Deno.makeTempDir();
  await assertRejects(() => SafetensorsCheckpoint.open(`${dir}/nope`), NotFoundError, "nope");
  await assertRejects(
    () => SafetensorsCheckpoint.open(dir),
    NotFoundError,
    "holds neither model.safetensors",
  );
  await Deno.writeTextFile(`${dir}/model.safetensors.index.json`, "{}");
  await assertRejects(() => SafetensorsCheckpoint.open(dir), FormatError, "weight_map");
});
