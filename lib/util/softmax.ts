/**
 * The pieces of a numerically stable softmax over logits: the largest logit, its index, and
 * the sum of `exp(logit - max)`, in float64. The probability of id `i` is
 * `exp(logits[i] - max) / sum`; its negative log is `log(sum) + max - logits[i]`.
 *
 * @example
 * ```ts
 * import { softmaxParts } from "./softmax.ts";
 * const { max, argmax, sum } = softmaxParts(new Float32Array([0, Math.log(3)]));
 * if (argmax !== 1 || Math.abs(Math.exp(0 - max) / sum - 0.25) > 1e-7) throw new Error();
 * ```
 *
 * @module
 */

/** Max, first index of the max, and sum of exp(logit - max) over ids below `limit`. */
export function softmaxParts(
  logits: ArrayLike<number>,
  limit = logits.length,
): { max: number; argmax: number; sum: number } {
  let max = -Infinity, argmax = 0;
  for (let i = 0; i < limit; i++) if (logits[i] > max) [max, argmax] = [logits[i], i];
  let sum = 0;
  for (let i = 0; i < limit; i++) sum += Math.exp(logits[i] - max);
  return { max, argmax, sum };
}
