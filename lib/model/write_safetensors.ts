/**
 * Writes safetensors files (atomically), as the reference `safetensors` library lays them out:
 * tensors in the order given, header padded with spaces to a multiple of 8 bytes.
 *
 * @module
 */

import { atomicWrite } from "../util/atomic_write.ts";
import { SoupError } from "../util/errors.ts";
import { concat } from "../util/concat.ts";
import { encodeBfloat16, encodeFloat16 } from "../util/float16.ts";

/** One tensor to write: float32 values converted to `dtype` on the way out. */
export interface TensorToWrite {
  /** Tensor name. */
  name: string;
  /** Shape, C order; its product must equal `data.length`. */
  shape: readonly number[];
  /** Values. */
  data: Float32Array;
  /** Stored element type. @default "F32" */
  dtype?: "F32" | "F16" | "BF16";
}

/**
 * Encodes tensors as the bytes of a safetensors file.
 *
 * @example
 * ```ts
 * import { encodeSafetensors } from "./write_safetensors.ts";
 * import { parseSafetensorsHeader } from "./safetensors.ts";
 * const bytes = encodeSafetensors([{ name: "w", shape: [2, 2], data: new Float32Array(4) }]);
 * const h = parseSafetensorsHeader(bytes, bytes.length, "mem");
 * if (h.tensors[0].byteLength !== 16 || h.dataStart % 8 !== 0) throw new Error("layout");
 * ```
 */
export function encodeSafetensors(
  tensors: readonly TensorToWrite[],
  metadata: Record<string, string> = { format: "pt" },
): Uint8Array {
  return concat(safetensorsParts(tensors, metadata));
}

/** The bytes of a safetensors file in pieces: the length and header, then each tensor's data. */
export function safetensorsParts(
  tensors: readonly TensorToWrite[],
  metadata: Record<string, string> = { format: "pt" },
): Uint8Array[] {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  const encoded: Uint8Array[] = [];
  for (const t of tensors) {
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (count !== t.data.length) {
      throw new SoupError(
        `Cannot write tensor "${t.name}": shape [${t.shape}] holds ${count} values but data has ${t.data.length}`,
      );
    }
    if (t.name in header) throw new SoupError(`Cannot write tensor "${t.name}": duplicate name`);
    const dtype = t.dtype ?? "F32";
    const bytes = encodeValues(t.data, dtype);
    header[t.name] = { dtype, shape: [...t.shape], data_offsets: [offset, offset + bytes.length] };
    offset += bytes.length;
    encoded.push(bytes);
  }
  let json = JSON.stringify(header);
  json += " ".repeat((8 - (new TextEncoder().encode(json).length % 8)) % 8);
  const head = new TextEncoder().encode(json);
  const first = new Uint8Array(8 + head.length);
  new DataView(first.buffer).setBigUint64(0, BigInt(head.length), true);
  first.set(head, 8);
  return [first, ...encoded];
}

function encodeValues(data: Float32Array, dtype: "F32" | "F16" | "BF16"): Uint8Array {
  if (dtype === "F32") return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const bits = dtype === "F16" ? encodeFloat16(data) : encodeBfloat16(data);
  return new Uint8Array(bits.buffer);
}

/** Writes a safetensors file atomically (temporary file, then rename). */
export async function writeSafetensors(
  path: string,
  tensors: readonly TensorToWrite[],
  metadata?: Record<string, string>,
): Promise<void> {
  await atomicWrite(path, safetensorsParts(tensors, metadata));
}
