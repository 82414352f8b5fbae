import assert from "node:assert/strict";
import { FormatError, NotFoundError, SoupError } from "../util/errors.ts";
import { runNumpy } from "../../tests/_python.ts";
import {
  encodeNpy,
  type NpyArray,
  type NpyDtype,
  type NpyInput,
  parseNpy,
  readNpy,
  writeNpy,
  type WriteNpyOptions,
} from "./mod.ts";

// ---------------------------------------------------------------------------------------------
// Helpers shared with Python: NumPy describes arrays as JSON with exact values as strings.

/** What the Python side prints for one array: values flattened in C order. */
interface Described {
  dtype: string;
  shape: number[];
  fortran?: boolean;
  values: (string | boolean)[];
}

/** Python code defining `describe(a)`, the JSON form of an array NumPy holds. */
const PY_DESCRIBE = `
import json, sys, io, numpy as np
def describe(a):
    flat = a.ravel(order="C").tolist()
    if a.dtype.kind == "f":
        vals = [repr(float(x)) for x in flat]
    elif a.dtype.kind == "b":
        vals = [bool(x) for x in flat]
    else:
        vals = [str(int(x)) for x in flat]
    return {"dtype": a.dtype.name, "shape": list(a.shape),
            "fortran": bool(a.flags.f_contiguous and not a.flags.c_contiguous), "values": vals}
`;

/** Parses one value NumPy printed, as it would appear in our typed array. */
function fromPython(dtype: NpyDtype, v: string | boolean): number | bigint {
  if (typeof v === "boolean") return v ? 1 : 0;
  if (dtype === "int64") return BigInt(v);
  if (v === "nan") return NaN;
  if (v === "inf") return Infinity;
  if (v === "-inf") return -Infinity;
  return Number(v);
}

/** Asserts that our array holds exactly what NumPy described (NaN, -0 and int64 included). */
function assertSame(ours: NpyArray, theirs: Described, what: string): void {
  assert.equal(ours.dtype, theirs.dtype, `${what}: dtype`);
  assert.deepEqual(ours.shape, theirs.shape, `${what}: shape`);
  assert.equal(ours.data.length, theirs.values.length, `${what}: element count`);
  for (let i = 0; i < theirs.values.length; i++) {
    const want = fromPython(ours.dtype, theirs.values[i]);
    const got = ours.data[i];
    if (!Object.is(got, want)) {
      assert.fail(`${what}: element ${i} is ${String(got)} but NumPy has ${theirs.values[i]}`);
    }
  }
}

async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "npy_test_" });
  try {
    return await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

// ---------------------------------------------------------------------------------------------
// NumPy writes, we read.

/** Python: writes every case into argv[1] and prints {name: describe(np.load(file))}. */
const PY_WRITE_CASES = PY_DESCRIBE + `
d = sys.argv[1]
out = {}
def put(name, a, version=None):
    path = f"{d}/{name}.npy"
    if version is None:
        np.save(path, a)
    else:
        with open(path, "wb") as f:
            np.lib.format.write_array(f, a, version=version)
    with open(path, "rb") as f:
        major = f.read(8)[6]
    out[name] = dict(describe(np.load(path)), version=major)

special = [0.0, -0.0, 1.0, -2.5, 0.1, 1 / 3, float("inf"), float("-inf"), float("nan")]
put("float16", np.array(special + [65504, -65504, 6.103515625e-05, 5.960464477539063e-08], "<f2"))
put("float16_all_bits", np.arange(65536, dtype="<u2").view("<f2"))
put("float32", np.array(special + [3.4028234663852886e38, 1.401298464324817e-45, 1.1754943508222875e-38], "<f4"))
put("float32_random_bits", np.random.default_rng(1).integers(0, 2**32, 4096, dtype="<u4").view("<f4"))
put("float64", np.array(special + [5e-324, 1.7976931348623157e308, 2.0**53 + 2], "<f8"))
put("int32", np.array([-2**31, -1, 0, 1, 2**31 - 1], "<i4"))
put("int64", np.array([-2**63, -(2**53 + 1), -1, 0, 2**53 + 1, 2**63 - 1], "<i8"))
put("uint8", np.arange(256, dtype="|u1"))
put("bool", np.array([True, False, False, True], "|b1"))
put("scalar_float32", np.array(3.25, "<f4"))
put("scalar_int64", np.array(-(2**62), "<i8"))
put("one_dim", np.arange(7, dtype="<f8") / 7)
put("three_dim", np.arange(24, dtype="<i4").reshape(2, 3, 4) - 12)
put("zero_size", np.zeros((0, 3), "<f4"))
put("zero_size_3d", np.zeros((3, 0, 2), "<i8"))
put("version_2", np.arange(6, dtype="<f8").reshape(2, 3) * -0.5, version=(2, 0))
put("version_3", np.arange(4, dtype="<i8").reshape(2, 2) * 2**40, version=(3, 0))
put("fortran_2d", np.asfortranarray(np.arange(6, dtype="<f4").reshape(2, 3)))
put("fortran_3d", np.asfortranarray(np.arange(24, dtype="<i8").reshape(2, 3, 4) * 2**33))
put("fortran_float16", np.asfortranarray((np.arange(60, dtype="<f2") / 8).reshape(3, 4, 5)))
put("fortran_bool", np.asfortranarray(np.arange(12).reshape(3, 4) % 3 == 0))
put("big_float32", np.random.default_rng(2).standard_normal((64, 1024)).astype("<f4"))
print(json.dumps(out))
`;

/** [file name in PY_WRITE_CASES, what the test step checks]. */
const NUMPY_CASES: [string, string][] = [
  ["float16", "a float16 array with inf, nan, -0, subnormals and the largest half"],
  ["float16_all_bits", "all 65536 float16 bit patterns, each widened exactly"],
  ["float32", "a float32 array with inf, nan, -0, subnormals and the largest float"],
  ["float32_random_bits", "4096 float32 values with random bit patterns"],
  ["float64", "a float64 array with inf, nan, -0, subnormals and the largest double"],
  ["int32", "an int32 array with its extremes"],
  ["int64", "an int64 array with its extremes and values beyond 2^53"],
  ["uint8", "a uint8 array of every byte"],
  ["bool", "a bool array"],
  ["scalar_float32", "a float32 scalar of shape ()"],
  ["scalar_int64", "an int64 scalar of shape ()"],
  ["one_dim", "a one-dimensional float64 array"],
  ["three_dim", "a three-dimensional int32 array"],
  ["zero_size", "a zero-size array of shape (0, 3)"],
  ["zero_size_3d", "a zero-size array of shape (3, 0, 2)"],
  ["version_2", "a version 2.0 file"],
  ["version_3", "a version 3.0 file"],
  ["fortran_2d", "a Fortran-ordered 2-d array, transposed into C order"],
  ["fortran_3d", "a Fortran-ordered 3-d int64 array, transposed into C order"],
  ["fortran_float16", "a Fortran-ordered 3-d float16 array, transposed into C order"],
  ["fortran_bool", "a Fortran-ordered bool array, transposed into C order"],
  ["big_float32", "a 64×1024 float32 array as a view of the file's bytes"],
];

Deno.test("readNpy() reads every array NumPy wrote, exactly", async (t) => {
  await withTempDir(async (dir) => {
    const described: Record<string, Described & { version: number }> = JSON.parse(
      await runNumpy(PY_WRITE_CASES, [dir]),
    );
    assert.deepEqual(
      Object.keys(described).sort(),
      NUMPY_CASES.map(([n]) => n).sort(),
      "every case NumPy wrote is checked",
    );
    assert.equal(described.version_2.version, 2, "NumPy wrote a version 2.0 file");
    assert.equal(described.version_3.version, 3, "NumPy wrote a version 3.0 file");
    assert.equal(described.fortran_3d.fortran, true, "NumPy wrote a Fortran-ordered file");
    for (const [name, what] of NUMPY_CASES) {
      await t.step(`readNpy() reads ${what}`, async () => {
        const ours = await readNpy(`${dir}/${name}.npy`);
        assertSame(ours, described[name], name);
        if (name === "big_float32") {
          // No copy: the data is a view of the single buffer the file was read into.
          assert.equal(ours.data.byteOffset, 128);
          assert.equal(ours.data.buffer.byteLength, 128 + 64 * 1024 * 4);
        }
      });
    }
  });
});

Deno.test("readNpy() returns a view of the file's bytes when the data is aligned", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/v.npy`;
    await Deno.writeFile(
      path,
      encodeNpy({ data: new Float64Array([1, 2, 3, 4]), shape: [2, 2] }),
    );
    const bytes = await Deno.readFile(path);
    const a = parseNpy(bytes, path);
    assert.equal(a.data.buffer, bytes.buffer, "no copy of aligned data");
    assert.equal(a.data.byteOffset, 128);
  });
});

/** A hand-made .npy file: version, header text (unpadded unless the caller pads) and data. */
function npyFile(header: string, data: Uint8Array = new Uint8Array(), major = 1): Uint8Array {
  const text = new TextEncoder().encode(header);
  const lenSize = major === 1 ? 2 : 4;
  const out = new Uint8Array(8 + lenSize + text.length + data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, major, 0]);
  const dv = new DataView(out.buffer);
  if (lenSize === 2) dv.setUint16(8, text.length, true);
  else dv.setUint32(8, text.length, true);
  out.set(text, 8 + lenSize);
  out.set(data, 8 + lenSize + text.length);
  return out;
}

function f32Bytes(...values: number[]): Uint8Array {
  return new Uint8Array(new Float32Array(values).buffer);
}

Deno.test("parseNpy() copies unaligned data instead of failing", () => {
  // Header length 55: data starts at offset 65, not a multiple of 4.
  const header = "{'descr': '<f4', 'fortran_order': False, 'shape': (3,)}".padEnd(55, " ");
  const bytes = npyFile(header, f32Bytes(1.5, -0, NaN));
  const a = parseNpy(bytes, "u.npy");
  assert.equal(a.dtype, "float32");
  assert.deepEqual([...a.data], [1.5, -0, NaN]);
  assert.ok(Object.is(a.data[1], -0));
});

Deno.test("parseNpy() reads headers in every Python literal spelling NumPy accepts", () => {
  const headers = [
    `{"descr": "<f4", "fortran_order": False, "shape": (2,)}`,
    `{'shape': (2,), 'fortran_order': False, 'descr': '<f4',}\n`,
    `{ 'descr' : '<f4' ,\t'fortran_order' : False , 'shape' : ( 2 , ) }    \n`,
    `{'descr': u'<f4', 'fortran_order': False, 'shape': (2L,), }`,
    `{'descr': '\\x3cf4', 'fortran_order': False, 'shape': (2,), }`,
  ];
  for (const h of headers) {
    const a = parseNpy(npyFile(h, f32Bytes(1, 2)), "h.npy");
    assert.deepEqual([a.dtype, a.shape, [...a.data]], ["float32", [2], [1, 2]], h);
  }
  const scalar = parseNpy(
    npyFile("{'descr': '<f4', 'fortran_order': False, 'shape': ()}", f32Bytes(7)),
    "s.npy",
  );
  assert.deepEqual([scalar.shape, [...scalar.data]], [[], [7]]);
});

/** Asserts that parsing `bytes` throws a FormatError with exactly this message. */
function assertFormatError(bytes: Uint8Array, message: string | RegExp, name = "x.npy"): void {
  assert.throws(() => parseNpy(bytes, name), (err: unknown) => {
    assert.ok(err instanceof FormatError, `a FormatError, not ${String(err)}`);
    assert.equal(err.file, name);
    if (typeof message === "string") assert.equal(err.message, message);
    else assert.match(err.message, message);
    return true;
  });
}

Deno.test("parseNpy() names expected and actual byte counts for truncated data", () => {
  const full = encodeNpy({ data: new Float32Array(12), shape: [3, 4] });
  assertFormatError(
    full.subarray(0, full.length - 8),
    'Cannot read "x.npy": header declares shape (3, 4) of <f4 = 48 bytes ' +
      "but the file holds 40 data bytes",
  );
});

Deno.test("parseNpy() rejects trailing bytes after the data", () => {
  const full = encodeNpy({ data: new Int32Array(5), shape: [5] });
  const longer = new Uint8Array(full.length + 3);
  longer.set(full);
  assertFormatError(
    longer,
    'Cannot read "x.npy": header declares shape (5,) of <i4 = 20 bytes ' +
      "but the file holds 23 data bytes",
  );
});

Deno.test("parseNpy() rejects a file that does not start with the NumPy magic", () => {
  assertFormatError(
    new TextEncoder().encode("PK\x03\x04 not an npy file"),
    'Cannot read "x.npy": not a .npy file: it does not start with \\x93NUMPY',
  );
  assertFormatError(new Uint8Array(), /^Cannot read "x\.npy": truncated: the file holds 0 bytes/);
});

Deno.test("parseNpy() rejects an unknown format version", () => {
  const bytes = encodeNpy({ data: new Float32Array(1), shape: [1] });
  bytes[6] = 4;
  assertFormatError(bytes, /unsupported \.npy format version 4\.0/);
});

Deno.test("parseNpy() rejects a header length beyond the end of the file", () => {
  const bytes = encodeNpy({ data: new Float32Array(1), shape: [1] });
  assertFormatError(
    bytes.subarray(0, 100),
    'Cannot read "x.npy": header length 118 goes beyond the end of the file ' +
      "(90 bytes follow the preamble)",
  );
});

Deno.test("parseNpy() rejects a big-endian dtype with a clear message", () => {
  assertFormatError(
    npyFile("{'descr': '>f4', 'fortran_order': False, 'shape': (1,)}", f32Bytes(1)),
    "Cannot read \"x.npy\": big-endian dtype '>f4' is not supported; " +
      "save it little-endian in NumPy with arr.astype('<f4')",
  );
});

Deno.test("parseNpy() rejects unknown, structured and malformed descrs", () => {
  assertFormatError(
    npyFile("{'descr': '<c8', 'fortran_order': False, 'shape': (1,)}", new Uint8Array(8)),
    /unsupported dtype '<c8' \(supported: <f2, <f4, <f8, <i4, <i8, \|u1, \|b1\)/,
  );
  assertFormatError(
    npyFile("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,)}", f32Bytes(1)),
    /structured dtypes/,
  );
  assertFormatError(
    npyFile("{'descr': 4, 'fortran_order': False, 'shape': (1,)}", f32Bytes(1)),
    /'descr' is not a string but 4/,
  );
});

Deno.test("parseNpy() rejects negative, non-integer and non-tuple shapes", () => {
  const h = (shape: string) => `{'descr': '<f4', 'fortran_order': False, 'shape': ${shape}}`;
  assertFormatError(npyFile(h("(3, -1)")), /shape \(3, -1\) has a negative dimension -1$/);
  assertFormatError(npyFile(h("(2.5,)")), /shape \(2\.5,\) has a non-integer dimension 2\.5$/);
  assertFormatError(npyFile(h("('a',)")), /shape \('a',\) is not a tuple of integers$/);
  assertFormatError(npyFile(h("[3]")), /'shape' is not a tuple but \[3\]$/);
  assertFormatError(npyFile(h("(3)")), /'shape' is not a tuple but 3$/);
  assertFormatError(
    npyFile(h("(99999999999999999999,)")),
    /dimension 99999999999999999999 that is too large$/,
  );
});

Deno.test("parseNpy() rejects headers with missing, extra or ill-typed keys", () => {
  assertFormatError(npyFile("{'descr': '<f4', 'shape': (1,)}"), /lacks the key 'fortran_order'/);
  assertFormatError(
    npyFile("{'descr': '<f4', 'fortran_order': False, 'shape': (), 'x': 1}"),
    /unexpected key 'x'/,
  );
  assertFormatError(
    npyFile("{'descr': '<f4', 'fortran_order': 0, 'shape': ()}"),
    /'fortran_order' is not True or False but 0/,
  );
  assertFormatError(npyFile("['descr', '<f4']"), /header is not a dict/);
  assertFormatError(npyFile("{'descr': '<f4',"), /not a valid Python literal/);
  assertFormatError(npyFile("{'descr': __import__('os')}"), /unexpected name '__import__'/);
  assertFormatError(npyFile("(".repeat(1000)), /nesting deeper than 32 levels/);
});

Deno.test("parseNpy() rejects non-ASCII in version 1.0 and 2.0 headers", () => {
  const h = "{'descr': '<f4', 'fortran_order': False, 'shape': (), 'é': 1}";
  assertFormatError(npyFile(h, f32Bytes(1), 1), /version 1\.0 file holds the non-ASCII byte 0xc3/);
  assertFormatError(npyFile(h, f32Bytes(1), 2), /version 2\.0 file holds the non-ASCII byte 0xc3/);
  // Version 3.0 headers are UTF-8: the key is decoded (and rejected as unexpected).
  assertFormatError(npyFile(h, f32Bytes(1), 3), /unexpected key 'é'/);
  const bad = npyFile("{'descr': '<f4', 'fortran_order': False, 'shape': ()}  ", f32Bytes(1), 3);
  bad[bad.length - 5] = 0xff;
  assertFormatError(bad, /version 3\.0 file is not valid UTF-8/);
});

Deno.test("readNpy() reports a missing file as a NotFoundError naming the path", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/missing.npy`;
    await assert.rejects(readNpy(path), (err: unknown) => {
      assert.ok(err instanceof NotFoundError);
      assert.equal(err.message, `Cannot read "${path}": no such file`);
      assert.equal(err.file, path);
      return true;
    });
    await assert.rejects(readNpy(dir), (err: unknown) => {
      assert.ok(err instanceof SoupError && !(err instanceof NotFoundError));
      assert.ok(err.message.startsWith(`Cannot read "${dir}": `), err.message);
      return true;
    });
  });
});

// ---------------------------------------------------------------------------------------------
// We write, NumPy reads.

/** Python: loads each file in argv[1:], prints describe() and whether np.save writes the same. */
const PY_LOAD = PY_DESCRIBE + `
out = {}
for path in sys.argv[1:]:
    a = np.load(path)
    buf = io.BytesIO()
    np.save(buf, a)
    with open(path, "rb") as f:
        same = f.read() == buf.getvalue()
    # NumPy < 1.24 wrote headers without the spare growth-axis spaces: bytes differ there.
    if tuple(int(x) for x in np.__version__.split(".")[:2]) < (1, 24):
        same = None
    out[path] = dict(describe(a), same_bytes_as_np_save=same)
print(json.dumps(out))
`;

/** Values that the writer must round-trip exactly, per dtype. */
const SPECIAL = [0, -0, 1, -2.5, 0.1, 1 / 3, Infinity, -Infinity, NaN];

interface WriteCase {
  name: string;
  what: string;
  input: NpyInput;
  options?: WriteNpyOptions;
  /** The dtype NumPy must report. */
  dtype: NpyDtype;
  /** Values NumPy must hold (defaults to input.data). */
  values?: ArrayLike<number | bigint>;
}

const WRITE_CASES: WriteCase[] = [
  {
    name: "float32",
    what: "a float32 array with inf, nan, -0 and subnormals",
    input: { data: new Float32Array([...SPECIAL, 3.4028234663852886e38, 1e-45]), shape: [11] },
    dtype: "float32",
  },
  {
    name: "float64",
    what: "a float64 array with inf, nan, -0 and subnormals",
    input: { data: new Float64Array([...SPECIAL, 5e-324, Number.MAX_VALUE]), shape: [11] },
    dtype: "float64",
  },
  {
    name: "float16",
    what: "a float16 array from a Float32Array",
    input: { data: new Float32Array([...SPECIAL, 65504, 6e-8, 70000]), shape: [3, 4] },
    options: { dtype: "float16" },
    dtype: "float16",
    values: [
      0,
      -0,
      1,
      -2.5,
      0.0999755859375,
      0.333251953125,
      Infinity,
      -Infinity,
      NaN,
      65504,
      5.960464477539063e-8,
      Infinity,
    ],
  },
  {
    name: "int32",
    what: "an int32 array with its extremes",
    input: { data: new Int32Array([-(2 ** 31), -1, 0, 1, 2 ** 31 - 1, 7]), shape: [2, 3] },
    dtype: "int32",
  },
  {
    name: "int64",
    what: "an int64 array with its extremes and values beyond 2^53",
    input: {
      data: new BigInt64Array([
        -(2n ** 63n),
        -(2n ** 53n) - 1n,
        0n,
        2n ** 53n + 1n,
        2n ** 63n - 1n,
      ]),
      shape: [5],
    },
    dtype: "int64",
  },
  {
    name: "uint8",
    what: "a uint8 array of every byte",
    input: { data: Uint8Array.from({ length: 256 }, (_, i) => i), shape: [16, 16] },
    dtype: "uint8",
  },
  {
    name: "bool",
    what: "a bool array from a Uint8Array, non-zero bytes as True",
    input: { data: new Uint8Array([1, 0, 7, 0, 255, 1]), shape: [3, 2] },
    options: { dtype: "bool" },
    dtype: "bool",
    values: [1, 0, 1, 0, 1, 1],
  },
  {
    name: "scalar",
    what: "a scalar of shape ()",
    input: { data: new Float64Array([-0]), shape: [] },
    dtype: "float64",
  },
  {
    name: "zero_size",
    what: "a zero-size array of shape (0, 3)",
    input: { data: new Float32Array(0), shape: [0, 3] },
    dtype: "float32",
  },
  {
    name: "three_dim",
    what: "a three-dimensional array",
    input: { data: Int32Array.from({ length: 60 }, (_, i) => i * 1000 - 7), shape: [3, 4, 5] },
    dtype: "int32",
  },
  {
    name: "float64_to_float32",
    what: "a float32 array from a Float64Array, rounded as NumPy rounds",
    input: { data: new Float64Array([0.1, 1e40, 1 / 3]), shape: [3] },
    options: { dtype: "float32" },
    dtype: "float32",
    values: [Math.fround(0.1), Infinity, Math.fround(1 / 3)],
  },
  {
    name: "read_back",
    what: "an array read back from a .npy file, dtype kept",
    input: parseNpy(
      encodeNpy({ data: new Float32Array([1.5, 2.25]), shape: [2] }, { dtype: "float16" }),
      "h.npy",
    ),
    dtype: "float16",
  },
  {
    name: "subarray",
    what: "a typed array that is a view into a larger buffer",
    input: { data: new Float64Array([9, 1, 2, 3, 9]).subarray(1, 4), shape: [3] },
    dtype: "float64",
  },
];

Deno.test("writeNpy() writes arrays NumPy loads with the same dtype, shape and values", async (t) => {
  await withTempDir(async (dir) => {
    const paths = WRITE_CASES.map((c) => `${dir}/${c.name}.npy`);
    for (const [i, c] of WRITE_CASES.entries()) await writeNpy(paths[i], c.input, c.options);
    const loaded: Record<string, Described & { same_bytes_as_np_save: boolean | null }> = JSON
      .parse(
        await runNumpy(PY_LOAD, paths),
      );
    for (const [i, c] of WRITE_CASES.entries()) {
      await t.step(`NumPy loads ${c.what}`, () => {
        const theirs = loaded[paths[i]];
        const values = c.values ?? c.input.data;
        const expected = {
          dtype: c.dtype,
          shape: [...c.input.shape],
          data: Array.from(values as ArrayLike<number>),
        } as unknown as NpyArray;
        assertSame(expected, theirs, c.name);
        assert.equal(theirs.fortran, false, "written in C order");
        assert.notEqual(
          theirs.same_bytes_as_np_save,
          false,
          `${c.name}: bytes differ from np.save's`,
        );
      });
    }
  });
});

/** Python: argv[1] holds float32 values, argv[2] the same as float64, argv[3] and argv[4]
 * our float16 encodings of them. Prints the indices where NumPy's astype(float16) differs. */
const PY_F16_COMPARE = `
import json, sys, numpy as np
a32, a64, h32, h64 = (np.load(p) for p in sys.argv[1:5])
def diff(src, ours):
    want = src.astype(np.float16)
    same = (want.view(np.uint16) == ours.view(np.uint16)) | (np.isnan(want) & np.isnan(ours))
    return [f"{float(src[i])!r}: numpy {want.view(np.uint16)[i]:#06x}, ours {ours.view(np.uint16)[i]:#06x}"
            for i in np.flatnonzero(~same)[:10]]
print(json.dumps({"from32": diff(a32, h32), "from64": diff(a64, h64)}))
`;

Deno.test("writeNpy() rounds to float16 exactly as NumPy's astype does", async () => {
  // Random bit patterns plus values at and around every rounding boundary of interest.
  let s = 12345;
  const rnd = () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0);
  const bits = Uint32Array.from({ length: 20000 }, rnd);
  const f32 = new Float32Array(bits.buffer);
  const edges: number[] = [
    65504,
    65519,
    65520,
    65536,
    2 ** -14,
    2 ** -24,
    2 ** -25,
    3 * 2 ** -26,
    2 ** -25 * 1.5,
    1 + 2 ** -11,
    1 + 3 * 2 ** -11,
    2048 + 1,
    2048 + 3,
    1e-9,
  ];
  for (let e = -26; e <= 16; e++) {
    for (const m of [1, 1 + 2 ** -11, 1 + 2 ** -10 + 2 ** -11, 1.5, 2 - 2 ** -12]) {
      edges.push(m * 2 ** e, -m * 2 ** e);
    }
  }
  // Scaled random values land in the float16 range far more often than raw bit patterns.
  const scaled = Array.from(
    { length: 20000 },
    (_, i) => (rnd() / 2 ** 32 - 0.5) * 2 ** (i % 36 - 20),
  );
  const values32 = new Float32Array([...f32, ...edges, ...scaled]);
  // Float64 values with bits below float32 precision: rounding must not go through float32.
  const values64 = Float64Array.from(values32, (v, i) => v * (1 + (i % 7) * 2 ** -40));
  await withTempDir(async (dir) => {
    const p = ["a32", "a64", "h32", "h64"].map((n) => `${dir}/${n}.npy`);
    const shape = [values32.length];
    await writeNpy(p[0], { data: values32, shape });
    await writeNpy(p[1], { data: values64, shape });
    await writeNpy(p[2], { data: values32, shape }, { dtype: "float16" });
    await writeNpy(p[3], { data: values64, shape }, { dtype: "float16" });
    const result = JSON.parse(await runNumpy(PY_F16_COMPARE, p));
    assert.deepEqual(result, { from32: [], from64: [] });
  });
});

Deno.test("writeNpy() switches to format version 2.0 when the header needs it", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/wide.npy`;
    const shape = new Array(22000).fill(1);
    await writeNpy(path, { data: new Float32Array([4.5]), shape });
    const bytes = await Deno.readFile(path);
    assert.equal(bytes[6], 2, "major version");
    const dataOffset = bytes.length - 4;
    assert.equal(dataOffset % 64, 0, "data aligned to 64 bytes");
    assert.equal(bytes[dataOffset - 1], 0x0a, "header ends in a newline");
    const back = await readNpy(path);
    assert.deepEqual([back.shape.length, [...back.data]], [22000, [4.5]]);
  });
});

Deno.test("writeNpy() rejects a shape whose product is not the data length", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/bad.npy`;
    await assert.rejects(
      writeNpy(path, { data: new Float32Array(10), shape: [3, 4] }),
      (err: unknown) => {
        assert.ok(err instanceof SoupError);
        assert.equal(
          err.message,
          `Cannot write "${path}": shape (3, 4) holds 12 elements but the data has 10`,
        );
        return true;
      },
    );
    assert.deepEqual([...Deno.readDirSync(dir)], [], "nothing written");
  });
  assert.throws(
    () => encodeNpy({ data: new Float32Array(3), shape: [-1, -3] }),
    /^SoupError: Cannot encode \.npy: shape \(-1, -3\) has an invalid dimension -1/,
  );
  assert.throws(
    () => encodeNpy({ data: new Float32Array(2), shape: [2.5] }),
    /invalid dimension 2\.5/,
  );
});

Deno.test("writeNpy() rejects a dtype its typed array cannot hold", () => {
  assert.throws(
    () => encodeNpy({ data: new Int32Array(2), shape: [2] }, { dtype: "float16" }),
    /^SoupError: Cannot encode \.npy: dtype float16 cannot be stored from a Int32Array$/,
  );
  assert.throws(
    () => encodeNpy({ data: new Uint16Array(2) as unknown as Uint8Array, shape: [2] }),
    /data must be a Float32Array, Float64Array, Int32Array, BigInt64Array or Uint8Array, not Uint16Array/,
  );
});

// ---------------------------------------------------------------------------------------------
// Atomicity.

Deno.test("writeNpy() leaves no temporary files next to the target", async () => {
  await withTempDir(async (dir) => {
    await writeNpy(`${dir}/a.npy`, { data: new Float32Array(1000), shape: [10, 100] });
    await writeNpy(`${dir}/a.npy`, { data: new Float32Array(5), shape: [5] });
    const names = [...Deno.readDirSync(dir)].map((e) => e.name);
    assert.deepEqual(names, ["a.npy"]);
    assert.deepEqual((await readNpy(`${dir}/a.npy`)).shape, [5], "replaced whole");
  });
});

Deno.test("a failing writeNpy() leaves no half-written target and no temporary files", async () => {
  await withTempDir(async (dir) => {
    // The target is a non-empty directory: the temporary file is written, the rename fails.
    const target = `${dir}/t.npy`;
    await Deno.mkdir(target);
    await Deno.writeTextFile(`${target}/keep`, "x");
    await assert.rejects(
      writeNpy(target, { data: new Float64Array(100), shape: [100] }),
      (err: unknown) =>
        err instanceof SoupError && err.message.startsWith(`Cannot write "${target}"`),
    );
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["t.npy"]);
    assert.equal(await Deno.readTextFile(`${target}/keep`), "x");

    // A missing parent directory is a NotFoundError naming the path.
    const orphan = `${dir}/no/such/dir/a.npy`;
    await assert.rejects(
      writeNpy(orphan, { data: new Float64Array(1), shape: [1] }),
      (err: unknown) => err instanceof NotFoundError && err.message.includes(`"${orphan}"`),
    );
  });
});

Deno.test("readers never see a half-written file while writeNpy() replaces it", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/live.npy`;
    const n = 1 << 20;
    await writeNpy(path, { data: new Float32Array(n).fill(1), shape: [n] });
    let writing = true;
    const writer = (async () => {
      for (let v = 2; v <= 6; v++) {
        await writeNpy(path, { data: new Float32Array(n).fill(v), shape: [n] });
      }
      writing = false;
    })();
    let reads = 0;
    while (writing || reads === 0) {
      const a = await readNpy(path);
      const first = a.data[0] as number;
      assert.ok(a.data.length === n && a.data.every((x) => x === first), "a whole file");
      reads++;
    }
    await writer;
  });
});
