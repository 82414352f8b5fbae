/**
 * Private helpers: the sha256 of a file's bytes and the checked parse of a task file.
 *
 * @module
 */

import { FormatError } from "../util/errors.ts";
import { parseJsonText } from "../util/json.ts";
import type { TaskItem } from "./types.ts";

export { sha256Hex } from "../util/sha256.ts";

/**
 * The pairs of a task file: a JSON array of objects with string `input` and `output` (other
 * keys are ignored). Anything else is a {@linkcode FormatError} naming `file`.
 */
export function parseTaskItems(file: string, bytes: Uint8Array): TaskItem[] {
  const json = parseJsonText(bytes, file);
  if (!Array.isArray(json)) {
    throw FormatError.at(
      file,
      `expected a JSON array of {input, output} objects, got ${kindOf(json)}`,
    );
  }
  return json.map((entry: unknown, i: number) => {
    if (typeof entry !== "object" || entry === null || Array.isArray(entry)) {
      throw FormatError.at(file, `entry ${i} is ${kindOf(entry)}, not an {input, output} object`);
    }
    const { input, output } = entry as Record<string, unknown>;
    for (const [key, value] of [["input", input], ["output", output]] as const) {
      if (typeof value !== "string") {
        throw FormatError.at(file, `entry ${i} has ${kindOf(value)} as "${key}", not a string`);
      }
    }
    return { input: input as string, output: output as string };
  });
}

function kindOf(v: unknown): string {
  if (v === undefined) return "no value";
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  return typeof v === "object" ? "an object" : `a ${typeof v}`;
}
