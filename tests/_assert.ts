/**
 * Assertions for tests, kept small and dependency-free (JSR's @std/assert is not reachable
 * from the machines this project is built on).
 *
 * @module
 */

/** Thrown when an assertion fails. */
export class AssertionError extends Error {
  override name = "AssertionError";
}

/** Deep equality (structural, for arrays, typed arrays, plain objects, primitives, NaN). */
export function assertEquals(actual: unknown, expected: unknown, msg?: string): void {
  if (!deepEqual(actual, expected)) {
    throw new AssertionError(
      `${msg ? msg + ": " : ""}values differ\n  actual:   ${show(actual)}\n  expected: ${
        show(expected)
      }`,
    );
  }
}

/** Asserts a truthy value. */
export function assert(cond: unknown, msg = "assertion failed"): asserts cond {
  if (!cond) throw new AssertionError(msg);
}

/**
 * Asserts |actual - expected| <= atol + rtol * |expected| element-wise, reporting the worst
 * element. Returns the largest relative error seen.
 */
export function assertClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  options: { rtol?: number; atol?: number; msg?: string } = {},
): number {
  const { rtol = 1e-6, atol = 0, msg } = options;
  const prefix = msg ? `${msg}: ` : "";
  if (actual.length !== expected.length) {
    throw new AssertionError(`${prefix}length ${actual.length} != ${expected.length}`);
  }
  let worst = -1, worstExcess = 0, maxRel = 0;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i], e = expected[i];
    const err = Math.abs(a - e);
    if (!(Number.isFinite(a) && Number.isFinite(e))) {
      if (!Object.is(a, e) && !(Number.isNaN(a) && Number.isNaN(e))) {
        throw new AssertionError(`${prefix}element ${i}: ${a} != ${e}`);
      }
      continue;
    }
    const rel = err / Math.max(Math.abs(e), 1e-30);
    if (err > 0) maxRel = Math.max(maxRel, Math.min(rel, err));
    const excess = err - (atol + rtol * Math.abs(e));
    if (excess > worstExcess) {
      worstExcess = excess;
      worst = i;
    }
  }
  if (worst >= 0) {
    throw new AssertionError(
      `${prefix}element ${worst}: ${actual[worst]} vs expected ${
        expected[worst]
      } (rtol ${rtol}, atol ${atol})`,
    );
  }
  return maxRel;
}

/** Asserts that `fn` throws an instance of `cls` whose message includes `includes`. */
export function assertThrows(
  fn: () => unknown,
  // deno-lint-ignore no-explicit-any
  cls: new (...args: any[]) => Error = Error,
  includes?: string,
): Error {
  try {
    fn();
  } catch (err) {
    return check(err, cls, includes);
  }
  throw new AssertionError(`expected ${cls.name} to be thrown`);
}

/** Async version of {@link assertThrows}. */
export async function assertRejects(
  fn: () => Promise<unknown>,
  // deno-lint-ignore no-explicit-any
  cls: new (...args: any[]) => Error = Error,
  includes?: string,
): Promise<Error> {
  try {
    await fn();
  } catch (err) {
    return check(err, cls, includes);
  }
  throw new AssertionError(`expected ${cls.name} to be thrown`);
}

// deno-lint-ignore no-explicit-any
function check(err: unknown, cls: new (...args: any[]) => Error, includes?: string): Error {
  if (!(err instanceof cls)) {
    throw new AssertionError(
      `expected ${cls.name}, got ${(err as Error)?.name}: ${(err as Error)?.message}`,
    );
  }
  if (includes !== undefined && !err.message.includes(includes)) {
    throw new AssertionError(`expected message to include "${includes}", got "${err.message}"`);
  }
  return err;
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (ArrayBuffer.isView(a) && ArrayBuffer.isView(b)) {
    if (a.constructor !== b.constructor) return false;
    const x = a as unknown as ArrayLike<unknown>, y = b as unknown as ArrayLike<unknown>;
    if (x.length !== y.length) return false;
    for (let i = 0; i < x.length; i++) if (!Object.is(x[i], y[i])) return false;
    return true;
  }
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a as object), kb = Object.keys(b as object);
  if (ka.length !== kb.length) return false;
  return ka.every((k) =>
    deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])
  );
}

function show(v: unknown): string {
  try {
    return JSON.stringify(v, (_k, x) => (typeof x === "bigint" ? `${x}n` : x))?.slice(0, 400) ??
      String(v);
  } catch {
    return String(v);
  }
}
