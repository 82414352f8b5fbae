/**
 * IEEE 754 half-precision conversions and bfloat16 conversions, shared by the `.npy` and safetensors code.
 *
 * @module
 */

let table: Float32Array | undefined;

/** All 65536 half values as single floats, built on first use (256 KiB). */
function halfTable(): Float32Array {
  if (table) return table;
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const mant = h & 0x3ff;
    let v: number;
    if (exp === 0) v = mant * 2 ** -24;
    else if (exp === 31) v = mant === 0 ? Infinity : NaN;
    else v = (1024 + mant) * 2 ** (exp - 25);
    t[h] = sign * v;
  }
  table = t;
  return t;
}

/**
 * Widens half-precision bit patterns to single floats; every half is exactly representable.
 *
 * @example
 * ```ts
 * import { decodeFloat16 } from "./float16.ts";
 * const f = decodeFloat16(new Uint16Array([0x3c00, 0xc000, 0x7c00]));
 * if (f[0] !== 1 || f[1] !== -2 || f[2] !== Infinity) throw new Error(String(f));
 * ```
 */
export function decodeFloat16(bits: Uint16Array): Float32Array {
  const t = halfTable();
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = t[bits[i]];
  return out;
}

/** Rounds a non-negative number to an integer, ties to even. */
function roundHalfEven(v: number): number {
  const f = Math.floor(v);
  const d = v - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/**
 * The half-precision bit pattern nearest to `x` (round to nearest, ties to even, as NumPy's
 * `astype(np.float16)` does); overflow gives ±Infinity, NaN gives the quiet NaN 0x7e00.
 *
 * @example
 * ```ts
 * import { float16Bits } from "./float16.ts";
 * if (float16Bits(1) !== 0x3c00) throw new Error("1.0 is 0x3c00");
 * if (float16Bits(-0) !== 0x8000) throw new Error("-0 keeps its sign");
 * if (float16Bits(65520) !== 0x7c00) throw new Error("65520 rounds to infinity");
 * ```
 */
export function float16Bits(x: number): number {
  if (Number.isNaN(x)) return 0x7e00;
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(x);
  if (a >= 65520) return sign | 0x7c00;
  if (a < 2 ** -14) {
    // Subnormal (or zero): a multiple of 2^-24. A result of 1024 is the smallest normal.
    return sign | roundHalfEven(a * 2 ** 24);
  }
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--;
  else if (2 ** (e + 1) <= a) e++;
  let m = roundHalfEven((a / 2 ** e) * 1024);
  if (m === 2048) {
    m = 1024;
    e++;
  }
  return sign | ((e + 15) << 10) | (m - 1024);
}

/**
 * Narrows numbers to half-precision bit patterns (see {@linkcode float16Bits}).
 *
 * @example
 * ```ts
 * import { encodeFloat16 } from "./float16.ts";
 * const bits = encodeFloat16(new Float32Array([0.5, -Infinity]));
 * if (bits[0] !== 0x3800 || bits[1] !== 0xfc00) throw new Error(String(bits));
 * ```
 */
export function encodeFloat16(values: ArrayLike<number>): Uint16Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = float16Bits(values[i]);
  return out;
}

/**
 * Widens bfloat16 bit patterns (the high half of a float32) to single floats, exactly.
 *
 * @example
 * ```ts
 * import { decodeBfloat16 } from "./float16.ts";
 * const f = decodeBfloat16(new Uint16Array([0x3f80, 0xc040]));
 * if (f[0] !== 1 || f[1] !== -3) throw new Error(String(f));
 * ```
 */
export function decodeBfloat16(bits: Uint16Array): Float32Array {
  const out = new Uint32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = bits[i] << 16;
  return new Float32Array(out.buffer);
}

/**
 * Narrows numbers to bfloat16 bit patterns, rounding to nearest with ties to even (as PyTorch's
 * `.to(torch.bfloat16)` does); NaN stays NaN.
 *
 * @example
 * ```ts
 * import { encodeBfloat16 } from "./float16.ts";
 * const bits = encodeBfloat16([1, 1 + 2 ** -8, 1 + 3 * 2 ** -8]);
 * if (bits.join() !== [0x3f80, 0x3f80, 0x3f82].join()) throw new Error(String(bits));
 * ```
 */
export function encodeBfloat16(values: ArrayLike<number>): Uint16Array {
  const f = new Float32Array(values.length);
  f.set(values);
  const u = new Uint32Array(f.buffer);
  const out = new Uint16Array(values.length);
  for (let i = 0; i < u.length; i++) {
    const bits = u[i];
    if ((bits & 0x7f800000) === 0x7f800000 && (bits & 0x7fffff) !== 0) {
      out[i] = (bits >>> 16) | 0x40; // quiet NaN
    } else {
      out[i] = ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
    }
  }
  return out;
}
