/**
 * NumPy `.npy` files: read versions 1.0, 2.0 and 3.0, write version 1.0 (2.0 when needed),
 * byte for byte as NumPy does.
 *
 * Dtypes are named as NumPy names them: `float16`, `float32`, `float64`, `int32`, `int64`,
 * `uint8`, `bool` (see {@linkcode NpyDtype}). Little-endian only. Fortran-ordered files are
 * read and transposed to C order; files are always written in C order.
 *
 * @example
 * ```ts
 * import { parseNpy, encodeNpy } from "./mod.ts";
 * const a = parseNpy(encodeNpy({ data: new Float32Array([1, 2, 3]), shape: [3] }), "a.npy");
 * if (a.data[2] !== 3) throw new Error("round trip failed");
 * ```
 *
 * @module
 */
export * from "./types.ts";
export * from "./read_npy.ts";
export * from "./write_npy.ts";
