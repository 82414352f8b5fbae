/**
 * Writing NumPy `.npy` files, byte for byte as `np.save` writes them: format version 1.0
 * (2.0 only when the header needs more than 64 KiB), a header padded so that the data starts
 * at a multiple of 64 bytes, little-endian data in C order.
 *
 * @module
 */

import { atomicWrite } from "../util/atomic_write.ts";
import { NotFoundError, SoupError } from "../util/errors.ts";
import { encodeFloat16 } from "../util/float16.ts";
import { DTYPE_INFO, encodeHeader, formatShape } from "./_header.ts";
import type { NpyData, NpyDtype, NpyInput } from "./types.ts";

const LITTLE_ENDIAN_HOST = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

/**
 * Options of {@linkcode writeNpy} and {@linkcode encodeNpy}.
 *
 * @example
 * ```ts
 * import { encodeNpy, parseNpy, type WriteNpyOptions } from "./mod.ts";
 * const options: WriteNpyOptions = { dtype: "float16" };
 * const a = parseNpy(encodeNpy({ data: new Float32Array([0.1]), shape: [1] }, options), "h.npy");
 * if (a.dtype !== "float16" || a.data[0] !== 0.0999755859375) throw new Error(String(a.data));
 * ```
 */
export interface WriteNpyOptions {
  /**
   * The dtype to store, overriding `dtype` of the input and the one inferred from its typed
   * array. Conversions allowed: any float array to `"float16"`, `"float32"` or `"float64"`
   * (rounded to nearest, ties to even, as NumPy's `astype`); a `Uint8Array` to `"bool"`
   * (non-zero bytes become 1). Any other mismatch is an error.
   */
  dtype?: NpyDtype;
}

function typeName(data: unknown): string {
  return (data as { constructor?: { name?: string } })?.constructor?.name ?? typeof data;
}

/** The dtype a typed array holds without conversion, or undefined for other objects. */
function inferDtype(data: unknown): NpyDtype | undefined {
  if (data instanceof Float32Array) return "float32";
  if (data instanceof Float64Array) return "float64";
  if (data instanceof Int32Array) return "int32";
  if (data instanceof BigInt64Array) return "int64";
  if (data instanceof Uint8Array) return "uint8";
  return undefined;
}

function bytesOf(data: NpyData | Uint16Array): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/** Validates and converts an input into its header and data bytes, sharing memory when it can. */
function encodeParts(
  array: NpyInput,
  options: WriteNpyOptions | undefined,
  what: string,
  file: string | undefined,
): [Uint8Array, Uint8Array] {
  const fail = (problem: string): never => {
    throw new SoupError(`Cannot ${what}: ${problem}`, { file });
  };
  if (!LITTLE_ENDIAN_HOST) fail("big-endian hosts are not supported");
  const { data, shape } = array;
  const natural = inferDtype(data);
  if (!natural) {
    return fail(
      `data must be a Float32Array, Float64Array, Int32Array, BigInt64Array or Uint8Array, ` +
        `not ${typeName(data)}`,
    );
  }
  if (!Array.isArray(shape)) fail(`shape must be an array of integers, not ${typeName(shape)}`);
  let count = 1;
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) {
      fail(
        `shape ${formatShape(shape.map(String))} has an invalid dimension ${d} ` +
          `(dimensions are non-negative integers)`,
      );
    }
    count *= d;
  }
  if (count !== data.length) {
    fail(
      `shape ${formatShape(shape)} holds ${count} elements but the data has ${data.length}`,
    );
  }
  const dtype = options?.dtype ?? array.dtype ?? natural;
  const info = DTYPE_INFO[dtype];
  if (!info) return fail(`unsupported dtype ${JSON.stringify(dtype)}`);

  let body: Uint8Array;
  const isFloat = natural === "float32" || natural === "float64";
  if (dtype === natural) {
    body = bytesOf(data);
  } else if (dtype === "float16" && isFloat) {
    body = bytesOf(encodeFloat16(data as Float32Array | Float64Array));
  } else if (dtype === "float32" && isFloat) {
    body = bytesOf(Float32Array.from(data as Float64Array));
  } else if (dtype === "float64" && isFloat) {
    body = bytesOf(Float64Array.from(data as Float32Array));
  } else if (dtype === "bool" && natural === "uint8") {
    const u8 = data as Uint8Array;
    body = u8.every((b) => b <= 1) ? u8 : u8.map((b) => (b ? 1 : 0));
  } else {
    return fail(`dtype ${dtype} cannot be stored from a ${typeName(data)}`);
  }
  return [encodeHeader(info.descr, shape), body];
}

/**
 * Encodes an array as the bytes of a `.npy` file, identical to what `np.save` writes.
 *
 * @throws {SoupError} when the shape is invalid or does not match `data.length`, or the dtype
 *   cannot be stored from the typed array given.
 *
 * @example
 * ```ts
 * import { encodeNpy } from "./mod.ts";
 * const bytes = encodeNpy({ data: new Uint8Array([1, 0, 1]), shape: [3] }, { dtype: "bool" });
 * if (bytes.length !== 128 + 3 || bytes[128] !== 1) throw new Error("128-byte header, then data");
 * ```
 */
export function encodeNpy(array: NpyInput, options?: WriteNpyOptions): Uint8Array {
  const [header, body] = encodeParts(array, options, "encode .npy", undefined);
  const out = new Uint8Array(header.length + body.length);
  out.set(header);
  out.set(body, header.length);
  return out;
}

/**
 * Writes an array to a `.npy` file atomically: the bytes go to a temporary file next to
 * `path` that is then renamed over it, so readers never see a half-written file and a failed
 * write leaves any previous file intact. The parent directory must exist.
 *
 * @throws {SoupError} for an invalid shape or dtype (nothing is written), or a failed write.
 * @throws {NotFoundError} when the parent directory does not exist.
 *
 * @example
 * ```ts
 * import { readNpy, writeNpy } from "./mod.ts";
 * const path = `${await Deno.makeTempDir()}/ids.npy`;
 * await writeNpy(path, { data: new BigInt64Array([2n ** 62n]), shape: [] });
 * const ids = await readNpy(path);
 * if (ids.shape.length !== 0 || ids.data[0] !== 2n ** 62n) throw new Error("scalar int64");
 * ```
 */
export async function writeNpy(
  path: string,
  array: NpyInput,
  options?: WriteNpyOptions,
): Promise<void> {
  const parts = encodeParts(array, options, `write "${path}"`, path);
  try {
    await atomicWrite(path, parts);
  } catch (err) {
    if (err instanceof SoupError) throw err; // atomicWrite's own, already naming the path
    if (err instanceof Deno.errors.NotFound) {
      throw new NotFoundError(`Cannot write "${path}": its directory does not exist`, {
        file: path,
        cause: err,
      });
    }
    const why = err instanceof Error ? err.message : String(err);
    throw new SoupError(`Cannot write "${path}": ${why}`, { file: path, cause: err });
  }
}
