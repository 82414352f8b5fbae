/**
 * A small, seeded mutation fuzzer for binary-format parsers.
 *
 * {@linkcode fuzzParser} feeds a parser thousands of inputs derived from valid seed files
 * (every truncation, byte flips, splices, dictionary insertions, random bytes, plus inputs
 * from caller-supplied generators) and checks that each one either parses (and passes an
 * optional `check`) or throws the expected error: by default a {@linkcode FormatError} whose
 * message names the file. Any other exception, or a case slower than `maxCaseMs`, fails with
 * the seed and case index needed to replay it.
 *
 * Usage for another format, e.g. safetensors:
 *
 * ```ts ignore
 * import { fuzzParser } from "./_fuzz.ts";
 * Deno.test("parseSafetensors() survives fuzzing", () => {
 *   fuzzParser("safetensors", [validFile1, validFile2], parseSafetensors, {
 *     cases: 3000,
 *     seed: 1,
 *     dictionary: ['"dtype"', '"F32"', '"data_offsets"', "[0, 4]", "{", "}"],
 *   });
 * });
 * ```
 *
 * Parsers are called synchronously, so a true infinite loop cannot be interrupted; the
 * per-case time limit catches pathological slowness, and the finite inputs plus linear
 * parsers keep every case bounded.
 *
 * @module
 */

import { FormatError } from "../lib/util/errors.ts";

/**
 * A seeded pseudo-random generator (sfc32): the same seed yields the same sequence.
 *
 * @example
 * ```ts ignore
 * const rng = new Rng(42);
 * const a = rng.int(10); // 0..9
 * ```
 */
export class Rng {
  #a: number;
  #b: number;
  #c: number;
  #d: number;

  /** @param seed Any 32-bit integer. */
  constructor(seed: number) {
    this.#a = 0x9e3779b9;
    this.#b = 0x243f6a88;
    this.#c = 0xb7e15162;
    this.#d = seed >>> 0;
    for (let i = 0; i < 16; i++) this.next();
  }

  /** A uniform 32-bit unsigned integer. */
  next(): number {
    const t = (((this.#a + this.#b) | 0) + this.#d) | 0;
    this.#d = (this.#d + 1) | 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) | 0;
    this.#c = (this.#c << 21) | (this.#c >>> 11);
    this.#c = (this.#c + t) | 0;
    return t >>> 0;
  }

  /** A uniform integer in `[0, n)`; `n` must be positive. */
  int(n: number): number {
    return Math.floor((this.next() / 2 ** 32) * n);
  }

  /** A uniform float in `[0, 1)`. */
  float(): number {
    return this.next() / 2 ** 32;
  }

  /** One element of a non-empty array. */
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }

  /** `n` random bytes. */
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.next() & 0xff;
    return out;
  }
}

/** Options of {@linkcode fuzzParser}. */
export interface FuzzOptions {
  /** How many random cases to run, after the exhaustive truncations of every seed. */
  cases: number;
  /** The PRNG seed; each case derives its own generator from (seed, index). */
  seed: number;
  /**
   * Checks a successful parse; throw (or return a string) to report it as wrong, e.g. a
   * data length that does not match the declared shape.
   */
  check?: (result: unknown, bytes: Uint8Array) => void | string;
  /** Whether a thrown error is an expected rejection. Default: a FormatError naming `file`. */
  accept?: (err: unknown, file: string) => boolean;
  /** Tokens inserted or substituted by dictionary mutations (e.g. header keywords). */
  dictionary?: readonly string[];
  /** Extra case generators, drawn as often as each built-in mutation. */
  generators?: readonly ((rng: Rng) => Uint8Array)[];
  /** A case slower than this fails the run. Default 250 ms. */
  maxCaseMs?: number;
  /** Run only this case index (to replay a failure). */
  only?: number;
  /** Truncate each seed at every length up to this many bytes (default 4096); 0 to skip. */
  exhaustiveTruncationUpTo?: number;
}

/** What a fuzz run did. */
export interface FuzzSummary {
  /** Cases run. */
  cases: number;
  /** Cases that parsed (and passed `check`). */
  parsed: number;
  /** Cases rejected with an accepted error. */
  rejected: number;
  /** Inputs per mutation kind. */
  kinds: Record<string, number>;
  /** The slowest case, in milliseconds. */
  slowestMs: number;
}

function defaultAccept(err: unknown, file: string): boolean {
  return err instanceof FormatError && err.message.includes(`"${file}"`);
}

function hex(bytes: Uint8Array, max = 160): string {
  const shown = [...bytes.subarray(0, max)].map((b) => b.toString(16).padStart(2, "0")).join("");
  return bytes.length > max ? `${shown}... (${bytes.length} bytes)` : shown;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

const INTERESTING = [0x00, 0x01, 0x7f, 0x80, 0xff, 0x0a, 0x20, 0x27, 0x22, 0x28, 0x29, 0x2c];

type Mutator = (rng: Rng, seed: Uint8Array, dict: readonly Uint8Array[]) => Uint8Array;

/** The built-in mutations, each named for the failure report. */
const MUTATORS: [string, Mutator][] = [
  ["random bytes", (rng) => rng.bytes(rng.int(300))],
  ["random bytes after a seed prefix", (rng, s) => {
    return concat(s.subarray(0, rng.int(s.length + 1)), rng.bytes(rng.int(200)));
  }],
  ["truncation", (rng, s) => s.slice(0, rng.int(s.length + 1))],
  ["single byte set", (rng, s) => {
    const out = s.slice();
    if (out.length) out[rng.int(out.length)] = rng.next() & 0xff;
    return out;
  }],
  ["single bit flip", (rng, s) => {
    const out = s.slice();
    if (out.length) out[rng.int(out.length)] ^= 1 << rng.int(8);
    return out;
  }],
  ["interesting byte", (rng, s) => {
    const out = s.slice();
    if (out.length) out[rng.int(out.length)] = rng.pick(INTERESTING);
    return out;
  }],
  ["several byte sets", (rng, s) => {
    const out = s.slice();
    for (let k = 1 + rng.int(8); k > 0 && out.length; k--) {
      out[rng.int(out.length)] = rng.next() & 0xff;
    }
    return out;
  }],
  ["byte deletion", (rng, s) => {
    const at = rng.int(s.length + 1);
    return concat(s.subarray(0, at), s.subarray(Math.min(s.length, at + 1 + rng.int(8))));
  }],
  ["byte insertion", (rng, s) => {
    const at = rng.int(s.length + 1);
    return concat(s.subarray(0, at), rng.bytes(1 + rng.int(8)), s.subarray(at));
  }],
  ["trailing bytes", (rng, s) => concat(s, rng.bytes(1 + rng.int(16)))],
  ["dictionary insertion", (rng, s, dict) => {
    if (!dict.length) return s;
    const at = rng.int(s.length + 1);
    return concat(s.subarray(0, at), rng.pick(dict), s.subarray(at));
  }],
  ["dictionary substitution", (rng, s, dict) => {
    if (!dict.length) return s;
    const token = rng.pick(dict);
    const at = rng.int(s.length + 1);
    return concat(s.subarray(0, at), token, s.subarray(Math.min(s.length, at + token.length)));
  }],
  ["region duplication or removal", (rng, s) => {
    // The seed spliced with itself at two random points: duplicates or drops a region.
    const a = rng.int(s.length + 1);
    const b = rng.int(s.length + 1);
    return concat(s.subarray(0, a), s.subarray(b));
  }],
];

/**
 * Fuzzes `parse` and throws an error describing the first bad case (with the seed, case
 * index and input bytes), or returns a summary. `name` labels the format; case `i` is parsed
 * under the file name `fuzz-<i>.<name>`.
 *
 * @example
 * ```ts ignore
 * const summary = fuzzParser("npy", [encodeNpy(...)], parseNpy, { cases: 3000, seed: 7 });
 * ```
 */
export function fuzzParser(
  name: string,
  seeds: Uint8Array[],
  parse: (bytes: Uint8Array, name: string) => unknown,
  options: FuzzOptions,
): FuzzSummary {
  if (!seeds.length) throw new Error("fuzzParser needs at least one seed input");
  const accept = options.accept ?? defaultAccept;
  const maxCaseMs = options.maxCaseMs ?? 250;
  const truncateUpTo = options.exhaustiveTruncationUpTo ?? 4096;
  const encoder = new TextEncoder();
  const dict = (options.dictionary ?? []).map((t) => encoder.encode(t));
  const generators: [string, (rng: Rng) => Uint8Array][] = (options.generators ?? []).map(
    (g, i) => [`generator ${g.name || i}`, g],
  );
  const summary: FuzzSummary = { cases: 0, parsed: 0, rejected: 0, kinds: {}, slowestMs: 0 };

  // Exhaustive stage: every seed truncated at every length.
  const fixed: [string, Uint8Array][] = [];
  for (const [s, seed] of seeds.entries()) {
    for (let len = 0; len <= Math.min(seed.length, truncateUpTo); len++) {
      fixed.push([`seed ${s} truncated to ${len} bytes`, seed.subarray(0, len)]);
    }
  }
  const total = fixed.length + options.cases;

  const runCase = (index: number): void => {
    let kind: string;
    let bytes: Uint8Array;
    if (index < fixed.length) {
      [kind, bytes] = fixed[index];
    } else {
      const rng = new Rng((options.seed ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0);
      const choice = rng.int(MUTATORS.length + generators.length);
      const seedIndex = rng.int(seeds.length);
      if (choice < MUTATORS.length) {
        const [label, mutate] = MUTATORS[choice];
        kind = `${label} of seed ${seedIndex}`;
        bytes = mutate(rng, seeds[seedIndex], dict);
      } else {
        const [label, generate] = generators[choice - MUTATORS.length];
        kind = label;
        bytes = generate(rng);
      }
    }
    const file = `fuzz-${index}.${name}`;
    const kindKey = kind.replace(/ (of )?seed \d+.*$/, "");
    summary.kinds[kindKey] = (summary.kinds[kindKey] ?? 0) + 1;
    const copy = bytes.slice(); // the parser may keep views; give each case its own buffer
    const report = (problem: string, cause?: unknown): never => {
      throw new Error(
        `Fuzzing ${name} failed at case ${index} (${kind}) with seed ${options.seed}: ` +
          `${problem}\n  replay with { seed: ${options.seed}, only: ${index} } (SOUP_FUZZ_SEED=${options.seed} SOUP_FUZZ_ONLY=${index} in tests that read them)` +
          `\n  input: ${hex(bytes)}`,
        { cause },
      );
    };
    const started = performance.now();
    let result: unknown;
    let ok = false;
    try {
      result = parse(copy, file);
      ok = true;
    } catch (err) {
      if (!accept(err, file)) {
        const shown = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
        report(`it threw an unexpected error: ${shown}`, err);
      }
    }
    const ms = performance.now() - started;
    summary.slowestMs = Math.max(summary.slowestMs, ms);
    if (ms > maxCaseMs) report(`it took ${ms.toFixed(1)} ms (limit ${maxCaseMs} ms)`);
    if (ok) {
      try {
        const problem = options.check?.(result, bytes);
        if (typeof problem === "string") report(`the parse result is wrong: ${problem}`);
      } catch (err) {
        if (err instanceof Error && err.message.startsWith(`Fuzzing ${name} failed`)) throw err;
        report(`the parse result is wrong: ${err instanceof Error ? err.message : err}`, err);
      }
      summary.parsed++;
    } else {
      summary.rejected++;
    }
    summary.cases++;
  };

  if (options.only !== undefined) runCase(options.only);
  else for (let i = 0; i < total; i++) runCase(i);
  return summary;
}

/**
 * One row of the table `deno task fuzz` prints: the parser, cases, parsed, rejected, slowest
 * case and seed.
 */
export function fuzzSummaryLine(name: string, summary: FuzzSummary, seed: number): string {
  const n = (x: number) => String(x).padStart(6);
  return `fuzz ${name.padEnd(12)} cases ${n(summary.cases)}  parsed ${n(summary.parsed)}  ` +
    `rejected ${n(summary.rejected)}  slowest ${summary.slowestMs.toFixed(1)} ms  (seed ${seed})`;
}
