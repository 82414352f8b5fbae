/**
 * Lowercase hex SHA-256 of bytes or of a string's UTF-8 encoding.
 *
 * @example
 * ```ts
 * import { sha256Hex } from "./sha256.ts";
 * const h = await sha256Hex("abc");
 * if (!h.startsWith("ba7816bf8f01cfea")) throw new Error(h);
 * ```
 *
 * @module
 */

/** The digest as 64 lowercase hex characters. */
export async function sha256Hex(data: Uint8Array | string): Promise<string> {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const digest = await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}
