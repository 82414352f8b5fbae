/**
 * Public types of the `.npy` module.
 *
 * Dtype names are NumPy's own `dtype.name` strings (`"float32"`, `"int64"`, `"bool"`...), so
 * they compare equal to `str(np.load(path).dtype)` on the Python side.
 *
 * @module
 */

/**
 * The element types this module reads and writes, named as NumPy names them (`dtype.name`).
 *
 * | dtype       | `.npy` descr | `data` in JavaScript                        |
 * | ----------- | ------------ | ------------------------------------------- |
 * | `"float16"` | `<f2`        | `Float32Array` (each half widened exactly)  |
 * | `"float32"` | `<f4`        | `Float32Array`                              |
 * | `"float64"` | `<f8`        | `Float64Array`                              |
 * | `"int32"`   | `<i4`        | `Int32Array`                                |
 * | `"int64"`   | `<i8`        | `BigInt64Array`                             |
 * | `"uint8"`   | `\|u1`        | `Uint8Array`                                |
 * | `"bool"`    | `\|b1`        | `Uint8Array` (one byte per element, 0 or 1) |
 *
 * @example
 * ```ts
 * import { NPY_DTYPES, type NpyDtype } from "./types.ts";
 * const d: NpyDtype = "float32";
 * if (!NPY_DTYPES.includes(d)) throw new Error("float32 should be supported");
 * ```
 */
export type NpyDtype = "float16" | "float32" | "float64" | "int32" | "int64" | "uint8" | "bool";

/**
 * Every supported dtype, in a stable order.
 *
 * @example
 * ```ts
 * import { NPY_DTYPES } from "./types.ts";
 * if (NPY_DTYPES.length !== 7) throw new Error("seven dtypes expected");
 * ```
 */
export const NPY_DTYPES: readonly NpyDtype[] = Object.freeze([
  "float16",
  "float32",
  "float64",
  "int32",
  "int64",
  "uint8",
  "bool",
]);

/**
 * The JavaScript typed array that holds the elements of each dtype.
 *
 * @example
 * ```ts
 * import type { NpyDataOf } from "./types.ts";
 * const halves: NpyDataOf["float16"] = new Float32Array([0.5]);
 * if (halves[0] !== 0.5) throw new Error("float16 data is held as a Float32Array");
 * ```
 */
export interface NpyDataOf {
  /** Half floats, widened exactly to single precision. */
  float16: Float32Array;
  /** Single floats. */
  float32: Float32Array;
  /** Double floats. */
  float64: Float64Array;
  /** 32-bit signed integers. */
  int32: Int32Array;
  /** 64-bit signed integers, as bigints. */
  int64: BigInt64Array;
  /** Bytes. */
  uint8: Uint8Array;
  /** Booleans, one byte each: 0 for false, 1 for true. */
  bool: Uint8Array;
}

/**
 * A typed array that can hold the elements of some dtype.
 *
 * @example
 * ```ts
 * import type { NpyData } from "./types.ts";
 * const d: NpyData = new Int32Array([1, 2]);
 * if (d.length !== 2) throw new Error("two elements expected");
 * ```
 */
export type NpyData = NpyDataOf[NpyDtype];

/**
 * An n-dimensional array read from a `.npy` file: the elements in C (row-major) order, the
 * shape, and the dtype. It is a union discriminated by `dtype`, so checking `dtype` narrows
 * `data` to the matching typed array.
 *
 * `shape` `[]` is a scalar (one element); `data.length` always equals the product of `shape`.
 *
 * @example
 * ```ts
 * import type { NpyArray } from "./types.ts";
 * const a: NpyArray = { dtype: "int64", data: new BigInt64Array([1n, 2n, 3n]), shape: [3] };
 * if (a.dtype === "int64" && a.data[2] !== 3n) throw new Error("narrowed to BigInt64Array");
 * ```
 */
export type NpyArray = {
  [D in NpyDtype]: {
    /** The element type. */
    dtype: D;
    /** The elements, in C order. */
    data: NpyDataOf[D];
    /** The size of each dimension; `[]` for a scalar. */
    shape: number[];
  };
}[NpyDtype];

/**
 * What {@linkcode writeNpy} and {@linkcode encodeNpy} accept: elements in C order and a shape
 * whose product equals `data.length`. `dtype` is optional; without it, it is inferred from the
 * typed array (`Float32Array` → float32, `Float64Array` → float64, `Int32Array` → int32,
 * `BigInt64Array` → int64, `Uint8Array` → uint8). An {@linkcode NpyArray} is a valid input,
 * so a read array writes back unchanged.
 *
 * @example
 * ```ts
 * import type { NpyInput } from "./types.ts";
 * const x: NpyInput = { data: new Float32Array(6), shape: [2, 3] };
 * if (x.shape.length !== 2) throw new Error("two dims expected");
 * ```
 */
export interface NpyInput {
  /** The elements, in C (row-major) order. */
  data: NpyData;
  /** The size of each dimension; `[]` for a scalar. Non-negative integers. */
  shape: readonly number[];
  /** The dtype to store; overridden by the `dtype` write option. */
  dtype?: NpyDtype;
}
