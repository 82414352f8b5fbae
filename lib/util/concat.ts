/**
 * Joins typed arrays of one kind end to end.
 *
 * @example
 * ```ts
 * import { concat } from "./concat.ts";
 * const joined = concat([new Float32Array([1, 2]), new Float32Array([3])]);
 * if (joined.join() !== "1,2,3") throw new Error(joined.join());
 * ```
 *
 * @module
 */

/** The arrays' elements, in order, in one new array of their kind. */
export function concat<T extends Float32Array | Uint8Array>(parts: readonly T[]): T {
  const total = parts.reduce((a, p) => a + p.length, 0);
  const ctor = (parts[0]?.constructor ?? Uint8Array) as new (n: number) => T;
  const out = new ctor(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
