/**
 * Reading JSON files a user hands over, with every problem a one-line {@link FormatError} naming
 * the file, and showing parts of such input in messages without letting it break them: no
 * newline, no unbounded length, no stack overflow on deep nesting.
 *
 * @module
 */

import { FormatError } from "./errors.ts";

/** Longest piece of input quoted in a message, in characters. */
const MAX_SHOWN = 60;

/**
 * `text` on one line and at most `max` characters: line breaks and other control characters
 * become spaces (runs of them one space), and a longer text ends in "...".
 *
 * @example
 * ```ts
 * import { oneLine } from "./json.ts";
 * if (oneLine("a\nb\r\n\tc") !== "a b c") throw new Error(oneLine("a\nb"));
 * ```
 */
export function oneLine(text: string, max = 200): string {
  // deno-lint-ignore no-control-regex
  const flat = text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, " ");
  return flat.length > max ? `${flat.slice(0, max - 3)}...` : flat;
}

/**
 * A short, one-line rendering of a value parsed from JSON, for messages: JSON for small values,
 * the start of it for long ones, never deeper than a few levels (so a deeply nested or huge value
 * costs no more than its first few items).
 *
 * @example
 * ```ts
 * import { showValue } from "./json.ts";
 * if (showValue("a\nb") !== '"a\\nb"') throw new Error(showValue("a\nb"));
 * if (showValue(Infinity) !== "Infinity") throw new Error();
 * if (showValue(undefined) !== "nothing") throw new Error();
 * ```
 */
export function showValue(value: unknown, max = MAX_SHOWN): string {
  if (value === undefined) return "nothing";
  let budget = max + 1;
  const render = (v: unknown, depth: number): string => {
    if (budget <= 0) return "";
    let out: string;
    if (typeof v === "number") out = String(v); // JSON.stringify writes Infinity as null
    else if (v === null || typeof v === "boolean") out = String(v);
    else if (typeof v === "string") {
      out = JSON.stringify(v.length > budget ? v.slice(0, budget) : v);
    } else if (Array.isArray(v)) {
      if (depth >= 3) out = v.length ? "[...]" : "[]";
      else {
        const parts: string[] = [];
        for (const item of v) {
          if (budget <= 0) break;
          parts.push(render(item, depth + 1));
        }
        out = `[${parts.join(",")}]`;
      }
    } else if (typeof v === "object") {
      const keys = Object.keys(v as object);
      if (depth >= 3) out = keys.length ? "{...}" : "{}";
      else {
        const parts: string[] = [];
        for (const k of keys) {
          if (budget <= 0) break;
          const key = JSON.stringify(k.length > budget ? k.slice(0, budget) : k);
          budget -= key.length + 1;
          parts.push(`${key}:${render((v as Record<string, unknown>)[k], depth + 1)}`);
        }
        out = `{${parts.join(",")}}`;
      }
      return out;
    } else out = String(v);
    budget -= out.length;
    return out;
  };
  return oneLine(render(value, 0), max);
}

/**
 * Parses JSON text (or UTF-8 bytes, a byte-order mark skipped) from `file`; bytes that are not
 * UTF-8 (JSON files are UTF-8, RFC 8259) and malformed JSON are a one-line {@link FormatError}
 * naming it.
 *
 * @example
 * ```ts
 * import { parseJsonText } from "./json.ts";
 * try {
 *   parseJsonText("{\n  x", "a.json");
 *   throw new Error("parsed");
 * } catch (e) {
 *   if (!/^Cannot read "a\.json": malformed JSON \([^\n]*\)$/.test((e as Error).message)) throw e;
 * }
 * ```
 */
export function parseJsonText(text: string | Uint8Array, file: string): unknown {
  const decoded = typeof text === "string" ? text : decodeUtf8(text, file);
  try {
    return JSON.parse(decoded);
  } catch (err) {
    throw FormatError.at(file, `malformed JSON (${oneLine(errorText(err))})`, err);
  }
}

/** `bytes` as UTF-8 text (a byte-order mark skipped); anything else is a FormatError naming `file`. */
export function decodeUtf8(bytes: Uint8Array, file: string): string {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch (err) {
    throw FormatError.at(file, "not UTF-8 text", err);
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
