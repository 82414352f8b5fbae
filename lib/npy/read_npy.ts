/**
 * Reading NumPy `.npy` files (format versions 1.0, 2.0 and 3.0).
 *
 * Supported dtypes: see {@linkcode NpyDtype}. Little-endian only: a big-endian (`>`) dtype is
 * a {@linkcode FormatError}. Fortran-ordered files (`fortran_order: True`) are supported: their
 * data is transposed into C order, so `data` is always row-major whatever the file says.
 *
 * @module
 */

import { FormatError, NotFoundError, SoupError } from "../util/errors.ts";
import { decodeFloat16 } from "../util/float16.ts";
import { formatShape, parseHeader } from "./_header.ts";
import type { NpyArray, NpyData, NpyDtype } from "./types.ts";

const LITTLE_ENDIAN_HOST = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

type TypedArrayCtor<T> = {
  new (buffer: ArrayBufferLike, byteOffset: number, length: number): T;
  readonly BYTES_PER_ELEMENT: number;
};

/** A typed array over `count` elements at `offset`: a view when aligned, else a copy. */
function elements<T>(ctor: TypedArrayCtor<T>, bytes: Uint8Array, offset: number, count: number): T {
  const at = bytes.byteOffset + offset;
  if (at % ctor.BYTES_PER_ELEMENT === 0) return new ctor(bytes.buffer, at, count);
  const copy = bytes.slice(offset, offset + count * ctor.BYTES_PER_ELEMENT);
  return new ctor(copy.buffer, 0, count);
}

/** Reorders Fortran-ordered (column-major) elements into C (row-major) order. */
function fortranToC<T extends NpyData>(src: T, shape: readonly number[]): T {
  const n = shape.length;
  const total = src.length;
  if (n < 2 || total === 0) return src;
  const ctor = src.constructor as new (length: number) => T;
  const out = new ctor(total);
  const s = src as unknown as { [i: number]: number | bigint };
  const o = out as unknown as { [i: number]: number | bigint };
  const stride: number[] = [];
  let acc = 1;
  for (let d = 0; d < n; d++) {
    stride.push(acc);
    acc *= shape[d];
  }
  const idx = new Array<number>(n).fill(0);
  let off = 0;
  for (let k = 0; k < total; k++) {
    o[k] = s[off];
    for (let d = n - 1; d >= 0; d--) {
      idx[d]++;
      off += stride[d];
      if (idx[d] < shape[d]) break;
      off -= stride[d] * shape[d];
      idx[d] = 0;
    }
  }
  return out;
}

/**
 * Parses the bytes of a `.npy` file. `name` (usually the path) is used in error messages.
 *
 * Efficient for big arrays: when the data is aligned in `bytes` (NumPy aligns it to 64 bytes)
 * the result's `data` is a view sharing memory with `bytes`, not a copy; unaligned data is
 * copied once. float16 is widened to a `Float32Array`, Fortran order is transposed to C order.
 *
 * @throws {FormatError} on bad magic, an unsupported version or dtype, a malformed header,
 *   or a data size that is not product(shape) × itemsize (truncated or trailing bytes).
 *
 * @example
 * ```ts
 * import { encodeNpy, parseNpy } from "./mod.ts";
 * const bytes = encodeNpy({ data: new Int32Array([1, 2, 3, 4, 5, 6]), shape: [2, 3] });
 * const a = parseNpy(bytes, "a.npy");
 * if (a.dtype !== "int32" || a.shape.join("x") !== "2x3" || a.data[5] !== 6) {
 *   throw new Error("round trip failed");
 * }
 * ```
 */
export function parseNpy(bytes: Uint8Array, name: string): NpyArray {
  if (!LITTLE_ENDIAN_HOST) {
    throw new SoupError(`Cannot read "${name}": big-endian hosts are not supported`, {
      file: name,
    });
  }
  const h = parseHeader(bytes, name);
  let count = 1n;
  for (const d of h.shape) count *= BigInt(d);
  const expected = count * BigInt(h.info.itemsize);
  const actual = bytes.length - h.dataOffset;
  if (expected !== BigInt(actual)) {
    throw FormatError.at(
      name,
      `header declares shape ${formatShape(h.shape)} of ${h.descr} = ${expected} bytes ` +
        `but the file holds ${actual} data bytes`,
    );
  }
  const n = Number(count);
  const off = h.dataOffset;
  const dtype: NpyDtype = h.info.dtype;
  let data: NpyData;
  switch (dtype) {
    case "float16":
      data = decodeFloat16(elements(Uint16Array, bytes, off, n));
      break;
    case "float32":
      data = elements(Float32Array, bytes, off, n);
      break;
    case "float64":
      data = elements(Float64Array, bytes, off, n);
      break;
    case "int32":
      data = elements(Int32Array, bytes, off, n);
      break;
    case "int64":
      data = elements(BigInt64Array, bytes, off, n);
      break;
    case "uint8":
    case "bool":
      data = bytes.subarray(off, off + n);
      break;
  }
  if (h.fortranOrder) data = fortranToC(data, h.shape);
  return { dtype, data, shape: h.shape } as NpyArray;
}

/**
 * Reads a `.npy` file with one read and parses it (see {@linkcode parseNpy}).
 *
 * @throws {NotFoundError} when the file does not exist.
 * @throws {FormatError} when its content is malformed.
 * @throws {SoupError} when it cannot be read otherwise (a directory, no permission).
 *
 * @example
 * ```ts
 * import { readNpy, writeNpy } from "./mod.ts";
 * const path = `${await Deno.makeTempDir()}/x.npy`;
 * await writeNpy(path, { data: new Float64Array([0.5, -1]), shape: [2] });
 * const x = await readNpy(path);
 * if (x.dtype !== "float64" || x.data[0] !== 0.5 || x.data[1] !== -1) throw new Error("bad");
 * ```
 */
export async function readNpy(path: string): Promise<NpyArray> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new NotFoundError(`Cannot read "${path}": no such file`, { file: path, cause: err });
    }
    const why = err instanceof Error ? err.message : String(err);
    throw new SoupError(`Cannot read "${path}": ${why}`, { file: path, cause: err });
  }
  return parseNpy(bytes, path);
}
