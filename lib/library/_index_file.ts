/**
 * Private: reading, checking and writing a skill library's `index.json`.
 *
 * ```json
 * { "format": "state-soup skill library", "version": 1, "entries": [
 *   { "id": "antonym-k5-seed0", "folder": "states/antonym-k5-seed0", "task": "antonym", "k": 5,
 *     "seed": 0, "model": "state-spaces/mamba-2.8b-hf", "configHash": "…",
 *     "shape": { "layers": 64, "dInner": 5120, "convKernel": 4, "stateSize": 16, "vocab": 50280 },
 *     "created": "2026-11-24T09:00:00.000Z" } ] }
 * ```
 *
 * @module
 */

import { atomicWrite } from "../util/atomic_write.ts";
import { FormatError, NotFoundError } from "../util/errors.ts";
import { oneLine, parseJsonText, showValue } from "../util/json.ts";
import { boundedShape, SHAPE_BOUNDS, SHAPE_KEYS, type StateMeta } from "../states/state_dir.ts";
import { SKILL_ID_PATTERN } from "./sanitize_skill_id.ts";
import type { SkillEntry } from "./skill_library.ts";

/** `format` of every index.json. */
export const INDEX_FORMAT = "state-soup skill library";
/** The only `version` written and read. */
export const INDEX_VERSION = 1;
/** The dims recorded per entry, in order. */
export { SHAPE_KEYS };

/** Whether two state shapes are the same dims. */
export function sameShape(a: StateMeta["shape"], b: StateMeta["shape"]): boolean {
  return SHAPE_KEYS.every((k) => a[k] === b[k]);
}

/** A shape as `(layers 2, d_in 32, K 4, n 4, vocab 64)`. */
export function showShape(s: StateMeta["shape"]): string {
  return `(layers ${s.layers}, d_in ${s.dInner}, K ${s.convKernel}, n ${s.stateSize}, vocab ${s.vocab})`;
}

/** Reads and checks `path`; every problem is a FormatError naming it. */
export async function readIndex(path: string): Promise<SkillEntry[]> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new NotFoundError(`Cannot read "${path}": no such file`, { file: path, cause: err });
    }
    throw FormatError.at(path, String(err), err);
  }
  return parseIndexText(bytes, path);
}

/**
 * Parses and checks the text (or UTF-8 bytes) of an index.json read from `path`; every problem
 * is a one-line FormatError naming it.
 */
export function parseIndexText(text: string | Uint8Array, path: string): SkillEntry[] {
  return parseIndex(
    parseJsonText(text, path),
    path,
  );
}

/** Checks a parsed index.json and returns its entries. */
export function parseIndex(json: unknown, path: string): SkillEntry[] {
  const fail = (problem: string): never => {
    throw FormatError.at(path, problem);
  };
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    return fail('expected a JSON object with "entries"');
  }
  const raw = json as Record<string, unknown>;
  if (raw.format !== INDEX_FORMAT) {
    fail(`"format" is ${showValue(raw.format)}, expected "${INDEX_FORMAT}"`);
  }
  if (raw.version !== INDEX_VERSION) {
    fail(`"version" ${showValue(raw.version)} is not supported (expected ${INDEX_VERSION})`);
  }
  if (!Array.isArray(raw.entries)) fail(`"entries" must be an array`);
  const entries: SkillEntry[] = [];
  const seen = new Map<string, number>();
  for (const [i, e] of (raw.entries as unknown[]).entries()) {
    const at = `entry ${i}`;
    if (typeof e !== "object" || e === null || Array.isArray(e)) fail(`${at} is not an object`);
    const r = e as Record<string, unknown>;
    const str = (key: string) => {
      if (typeof r[key] !== "string" || r[key] === "") {
        fail(`${at}: "${key}" must be a non-empty string, got ${showValue(r[key])}`);
      }
      return r[key] as string;
    };
    const int = (key: string, min: number, nullable = false) => {
      const v = r[key];
      if (nullable && v === null) return null;
      if (typeof v !== "number" || !Number.isInteger(v) || v < min) {
        fail(`${at}: "${key}" must be an integer >= ${min}, got ${showValue(v)}`);
      }
      return v as number;
    };
    const id = str("id");
    if (!SKILL_ID_PATTERN.test(id)) fail(`${at}: id ${showValue(id)} is not a safe skill id`);
    const folder = str("folder");
    if (
      folder.startsWith("/") || folder.includes("\\") ||
      folder.split("/").some((part) => part === "" || part === "." || part === "..")
    ) {
      fail(`${at} ("${id}"): folder ${showValue(folder)} is not a path inside the library`);
    }
    // The bounds of a model's config.json, so no size read here is absurd.
    const shape = boundedShape(r.shape) ??
      fail(
        `${at} ("${id}"): "shape" must give positive layers, dInner, convKernel, stateSize, vocab` +
          ` ${SHAPE_BOUNDS}`,
      );
    const entry: SkillEntry = {
      id,
      folder,
      task: str("task"),
      k: int("k", 0)!,
      seed: int("seed", Number.MIN_SAFE_INTEGER, true),
      model: str("model"),
      configHash: str("configHash"),
      shape,
      created: str("created"),
    };
    const key = id.toLowerCase();
    if (seen.has(key)) {
      fail(
        `${at} repeats the id "${id}" of entry ${seen.get(key)} (ids are unique, ignoring case)`,
      );
    }
    seen.set(key, i);
    const first = entries[0];
    if (first && (first.configHash !== entry.configHash || !sameShape(first.shape, entry.shape))) {
      fail(
        `${at} ("${id}") is of model ${showValue(entry.model)} (config ${
          oneLine(entry.configHash, 80)
        }, shape ${showShape(entry.shape)}) but entry 0 ("${first.id}") of model ${
          showValue(first.model)
        } (config ${oneLine(first.configHash, 80)}, shape ${showShape(first.shape)})`,
      );
    }
    entries.push(entry);
  }
  return entries;
}

/** Writes the index atomically (temporary file renamed over index.json). */
export async function writeIndex(path: string, entries: readonly SkillEntry[]): Promise<void> {
  const json = { format: INDEX_FORMAT, version: INDEX_VERSION, entries };
  await atomicWrite(path, new TextEncoder().encode(JSON.stringify(json, null, 2) + "\n"));
}
