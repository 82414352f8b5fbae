/**
 * Reads Hugging Face safetensors checkpoints: one `model.safetensors`, or shards listed by
 * `model.safetensors.index.json`. Only headers are read up front; tensors are read by offset on
 * demand, so an 11 GB checkpoint never has to fit in memory at once.
 *
 * File layout: 8-byte little-endian header length N, N bytes of JSON
 * `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__"?: {...}}`, then the data;
 * offsets are relative to the first byte after the header.
 *
 * @module
 */

import { FormatError, NotFoundError } from "../util/errors.ts";
import { parseJsonText, showValue } from "../util/json.ts";
import { decodeBfloat16, decodeFloat16 } from "../util/float16.ts";

/** Element types of safetensors and their sizes in bytes. */
export const SAFETENSORS_DTYPE_SIZES = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U64: 8,
  U32: 4,
  U16: 2,
  U8: 1,
  BOOL: 1,
  F8_E4M3: 1,
  F8_E5M2: 1,
} as const;

/** A safetensors element type name. */
export type SafetensorsDtype = keyof typeof SAFETENSORS_DTYPE_SIZES;

/** Where one tensor lives. */
export interface TensorInfo {
  /** Tensor name, e.g. `backbone.layers.0.mixer.A_log`. */
  readonly name: string;
  /** Element type. */
  readonly dtype: SafetensorsDtype;
  /** Shape, C order. */
  readonly shape: readonly number[];
  /** Path of the file that holds it. */
  readonly file: string;
  /** Absolute byte offset of its first element in `file` (8 + N + begin). */
  readonly offset: number;
  /** Number of bytes. */
  readonly byteLength: number;
}

/** A parsed safetensors header. */
export interface SafetensorsHeader {
  /** Tensors in file order. */
  readonly tensors: TensorInfo[];
  /** The `__metadata__` strings. */
  readonly metadata: Record<string, string>;
  /** Byte offset where the data region starts (8 + N). */
  readonly dataStart: number;
}

/** Headers larger than this are refused (the format's own readers use 100 MB). */
const MAX_HEADER_BYTES = 100_000_000;

/**
 * Validates the header of a safetensors file: the bytes from the start of the file through
 * the end of the header, and the total size of the file. Checks that offsets lie in the file,
 * that tensors do not overlap and that each shape matches its byte count.
 *
 * @example
 * ```ts
 * import { parseSafetensorsHeader } from "./safetensors.ts";
 * const json = new TextEncoder().encode('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}');
 * const bytes = new Uint8Array(8 + json.length);
 * new DataView(bytes.buffer).setBigUint64(0, BigInt(json.length), true);
 * bytes.set(json, 8);
 * const h = parseSafetensorsHeader(bytes, bytes.length + 8, "a.safetensors");
 * if (h.tensors[0].offset !== 8 + json.length) throw new Error("offset");
 * ```
 */
export function parseSafetensorsHeader(
  head: Uint8Array,
  fileSize: number,
  file: string,
): SafetensorsHeader {
  const bad = (problem: string): never => {
    throw FormatError.at(file, problem);
  };
  if (fileSize < 8 || head.length < 8) bad(`file is ${fileSize} bytes, too short for a header`);
  const n = new DataView(head.buffer, head.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(fileSize - 8)) {
    bad(`header length ${n} runs past the end of the ${fileSize}-byte file`);
  }
  if (n > BigInt(MAX_HEADER_BYTES)) bad(`header length ${n} exceeds ${MAX_HEADER_BYTES} bytes`);
  const headerLength = Number(n);
  if (head.length < 8 + headerLength) bad(`truncated header`);
  let json: unknown;
  try {
    const text = new TextDecoder("utf-8", { fatal: true }).decode(
      head.subarray(8, 8 + headerLength),
    );
    json = JSON.parse(text);
  } catch (err) {
    bad(`header is not valid UTF-8 JSON (${(err as Error).message})`);
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    bad("header is not a JSON object");
  }
  const dataStart = 8 + headerLength;
  const dataSize = fileSize - dataStart;
  const tensors: TensorInfo[] = [];
  let metadata: Record<string, string> = {};
  for (const [name, value] of Object.entries(json as Record<string, unknown>)) {
    if (name === "__metadata__") {
      if (typeof value !== "object" || value === null || Array.isArray(value)) {
        bad(`"__metadata__" is not an object`);
      }
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        if (typeof v !== "string") bad(`"__metadata__" value of "${k}" is not a string`);
      }
      metadata = value as Record<string, string>;
      continue;
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      bad(`entry "${name}" is not an object`);
    }
    const { dtype, shape, data_offsets: offsets } = value as Record<string, unknown>;
    if (typeof dtype !== "string" || !(dtype in SAFETENSORS_DTYPE_SIZES)) {
      bad(`tensor "${name}" has unknown dtype ${JSON.stringify(dtype)}`);
    }
    if (
      !Array.isArray(shape) ||
      !shape.every((d) => typeof d === "number" && Number.isSafeInteger(d) && d >= 0)
    ) {
      bad(`tensor "${name}" has an invalid shape ${JSON.stringify(shape)}`);
    }
    if (
      !Array.isArray(offsets) || offsets.length !== 2 ||
      !offsets.every((o) => typeof o === "number" && Number.isSafeInteger(o) && o >= 0)
    ) {
      bad(`tensor "${name}" has invalid data_offsets ${JSON.stringify(offsets)}`);
    }
    const [begin, end] = offsets as number[];
    if (begin > end) bad(`tensor "${name}" has data_offsets [${begin}, ${end}] with begin > end`);
    if (end > dataSize) {
      bad(`tensor "${name}" ends at data byte ${end} but the data region holds ${dataSize} bytes`);
    }
    const itemSize = SAFETENSORS_DTYPE_SIZES[dtype as SafetensorsDtype];
    const count = (shape as number[]).reduce((a, b) => a * b, 1);
    if (count * itemSize !== end - begin) {
      bad(
        `tensor "${name}" of shape [${shape}] and dtype ${dtype} needs ${
          count * itemSize
        } bytes but data_offsets span ${end - begin}`,
      );
    }
    tensors.push({
      name,
      dtype: dtype as SafetensorsDtype,
      shape: Object.freeze([...(shape as number[])]),
      file,
      offset: dataStart + begin,
      byteLength: end - begin,
    });
  }
  const sorted = [...tensors].sort((a, b) => a.offset - b.offset || a.byteLength - b.byteLength);
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1];
    if (sorted[i].offset < prev.offset + prev.byteLength) {
      bad(`tensors "${prev.name}" and "${sorted[i].name}" overlap`);
    }
  }
  return { tensors: sorted, metadata, dataStart };
}

/** Reads exactly `length` bytes at `offset` of an open file. */
async function readAt(
  handle: Deno.FsFile,
  offset: number,
  length: number,
  file: string,
): Promise<Uint8Array> {
  const out = new Uint8Array(length);
  await handle.seek(offset, Deno.SeekMode.Start);
  let got = 0;
  while (got < length) {
    const n = await handle.read(out.subarray(got));
    if (n === null) throw FormatError.at(file, `unexpected end of file at byte ${offset + got}`);
    got += n;
  }
  return out;
}

/** Reads the header of one safetensors file. */
export async function readSafetensorsHeader(file: string): Promise<SafetensorsHeader> {
  const handle = await openFile(file);
  try {
    const size = (await handle.stat()).size;
    if (size < 8) throw FormatError.at(file, `file is ${size} bytes, too short for a header`);
    const first = await readAt(handle, 0, 8, file);
    const n = new DataView(first.buffer).getBigUint64(0, true);
    if (n > BigInt(Math.min(size - 8, MAX_HEADER_BYTES))) {
      // Let the parser word the error.
      return parseSafetensorsHeader(first, size, file);
    }
    const head = new Uint8Array(8 + Number(n));
    head.set(first);
    head.set(await readAt(handle, 8, Number(n), file), 8);
    return parseSafetensorsHeader(head, size, file);
  } finally {
    handle.close();
  }
}

async function openFile(file: string): Promise<Deno.FsFile> {
  try {
    return await Deno.open(file, { read: true });
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new NotFoundError(`Cannot read "${file}": no such file`, { file, cause: err });
    }
    throw FormatError.at(file, String(err), err);
  }
}

/** File names a HF checkpoint directory may hold its weights under. */
export const SAFETENSORS_SINGLE = "model.safetensors";
/** The index of a sharded checkpoint. */
export const SAFETENSORS_INDEX = "model.safetensors.index.json";

/** What a sharded checkpoint's index says: its shard files and which tensor each holds. */
export interface SafetensorsIndex {
  /** The shard files, in order of first mention. */
  shards: string[];
  /** Tensor name -> shard file. */
  weightMap: Record<string, string>;
}

/**
 * Parses a `model.safetensors.index.json` (its bytes) read from `indexFile`: UTF-8 JSON whose
 * `weight_map` names, for each tensor, a shard that is a plain file name beside the index. A
 * name with a slash or backslash, "." or "..", or one that is empty or not a string is a
 * one-line {@link FormatError}, so no index can make this tool read or download a file outside
 * the checkpoint's folder.
 *
 * @example
 * ```ts
 * import { parseSafetensorsIndex } from "./safetensors.ts";
 * const bytes = (o: unknown) => new TextEncoder().encode(JSON.stringify(o));
 * const index = parseSafetensorsIndex(
 *   bytes({ weight_map: { a: "s1.safetensors", b: "s1.safetensors" } }),
 *   "i.json",
 * );
 * if (index.shards.join() !== "s1.safetensors") throw new Error();
 * let refused = false;
 * try {
 *   parseSafetensorsIndex(bytes({ weight_map: { a: "../../etc/passwd" } }), "i.json");
 * } catch {
 *   refused = true;
 * }
 * if (!refused) throw new Error("a path outside the folder was accepted");
 * ```
 */
export function parseSafetensorsIndex(bytes: Uint8Array, indexFile: string): SafetensorsIndex {
  const json = parseJsonText(bytes, indexFile);
  const weightMap = (json as { weight_map?: unknown } | null)?.weight_map;
  if (typeof weightMap !== "object" || weightMap === null || Array.isArray(weightMap)) {
    throw FormatError.at(indexFile, `"weight_map" is missing or not an object`);
  }
  const names: string[] = [];
  for (const [name, shard] of Object.entries(weightMap as Record<string, unknown>)) {
    if (
      typeof shard !== "string" || shard === "" || shard === "." || shard === ".." ||
      shard.includes("/") || shard.includes("\\") || shard.includes("\0")
    ) {
      throw FormatError.at(
        indexFile,
        `weight_map entry ${showValue(name)} names an invalid shard ${showValue(shard)} (a ` +
          `file name beside the index)`,
      );
    }
    if (!names.includes(shard)) names.push(shard);
  }
  if (names.length === 0) throw FormatError.at(indexFile, `"weight_map" names no shard`);
  return { shards: names, weightMap: weightMap as Record<string, string> };
}

/**
 * The tensors of a checkpoint, single-file or sharded, readable one at a time.
 * Call {@link SafetensorsCheckpoint.close} when done (or use `using`).
 */
export class SafetensorsCheckpoint implements Disposable {
  /** Every tensor by name. */
  readonly tensors: ReadonlyMap<string, TensorInfo>;
  /** The safetensors files, in index order. */
  readonly files: readonly string[];
  /** `__metadata__` of the first file. */
  readonly metadata: Record<string, string>;
  #handles = new Map<string, Deno.FsFile>();

  private constructor(
    tensors: Map<string, TensorInfo>,
    files: string[],
    metadata: Record<string, string>,
  ) {
    this.tensors = tensors;
    this.files = files;
    this.metadata = metadata;
  }

  /**
   * Opens `path`: a `.safetensors` file, a `model.safetensors.index.json`, or a checkpoint
   * directory holding one of them.
   *
   * @example
   * ```ts ignore
   * using ckpt = await SafetensorsCheckpoint.open("/models/mamba-130m-hf");
   * const aLog = await ckpt.readFloat32("backbone.layers.0.mixer.A_log");
   * ```
   */
  static async open(path: string): Promise<SafetensorsCheckpoint> {
    let target = path;
    const info = await Deno.stat(path).catch(() => undefined);
    if (info === undefined) {
      throw new NotFoundError(`Cannot read "${path}": no such file or directory`, { file: path });
    }
    if (info.isDirectory) {
      const dir = path.replace(/\/$/, "");
      const single = `${dir}/${SAFETENSORS_SINGLE}`;
      const index = `${dir}/${SAFETENSORS_INDEX}`;
      if (await exists(single)) target = single;
      else if (await exists(index)) target = index;
      else {
        throw new NotFoundError(
          `Cannot read "${dir}": it holds neither ${SAFETENSORS_SINGLE} nor ${SAFETENSORS_INDEX}`,
          { file: dir },
        );
      }
    }
    if (target.endsWith(".json")) return await SafetensorsCheckpoint.#openIndex(target);
    const header = await readSafetensorsHeader(target);
    return new SafetensorsCheckpoint(
      new Map(header.tensors.map((t) => [t.name, t])),
      [target],
      header.metadata,
    );
  }

  static async #openIndex(indexFile: string): Promise<SafetensorsCheckpoint> {
    let bytes: Uint8Array;
    try {
      bytes = await Deno.readFile(indexFile);
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) {
        throw new NotFoundError(`Cannot read "${indexFile}": no such file`, { file: indexFile });
      }
      throw err;
    }
    const { shards: shardNames, weightMap } = parseSafetensorsIndex(bytes, indexFile);
    const dir = indexFile.includes("/") ? indexFile.slice(0, indexFile.lastIndexOf("/")) : ".";
    const tensors = new Map<string, TensorInfo>();
    let metadata: Record<string, string> = {};
    const files = shardNames.map((s) => `${dir}/${s}`);
    for (const [i, file] of files.entries()) {
      const header = await readSafetensorsHeader(file);
      if (i === 0) metadata = header.metadata;
      for (const t of header.tensors) {
        if (tensors.has(t.name)) {
          throw FormatError.at(
            file,
            `tensor "${t.name}" also appears in "${tensors.get(t.name)!.file}"`,
          );
        }
        tensors.set(t.name, t);
      }
    }
    for (const [name, shard] of Object.entries(weightMap)) {
      const t = tensors.get(name);
      if (t === undefined || t.file !== `${dir}/${shard}`) {
        throw FormatError.at(
          indexFile,
          `weight_map says ${showValue(name)} is in ${showValue(shard)} but it is not`,
        );
      }
    }
    return new SafetensorsCheckpoint(tensors, files, metadata);
  }

  /** The tensor's info, or a clear error naming the checkpoint when it is absent. */
  info(name: string): TensorInfo {
    const t = this.tensors.get(name);
    if (t === undefined) {
      throw FormatError.at(this.files.join(", "), `tensor "${name}" is missing`);
    }
    return t;
  }

  /** Raw little-endian bytes of a tensor. */
  async readBytes(name: string): Promise<Uint8Array> {
    const t = this.info(name);
    let handle = this.#handles.get(t.file);
    if (handle === undefined) {
      handle = await openFile(t.file);
      this.#handles.set(t.file, handle);
    }
    return await readAt(handle, t.offset, t.byteLength, t.file);
  }

  /** A floating-point tensor (F32, F16, BF16 or F64) converted to float32, C order. */
  async readFloat32(name: string): Promise<Float32Array> {
    const t = this.info(name);
    const bytes = await this.readBytes(name);
    const count = t.shape.reduce((a, b) => a * b, 1);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const out = new Float32Array(count);
    switch (t.dtype) {
      case "F32":
        if (bytes.byteOffset % 4 === 0) out.set(new Float32Array(bytes.buffer, 0, count));
        else for (let i = 0; i < count; i++) out[i] = view.getFloat32(4 * i, true);
        break;
      case "F64":
        for (let i = 0; i < count; i++) out[i] = view.getFloat64(8 * i, true);
        break;
      case "F16":
        return decodeFloat16(new Uint16Array(bytes.buffer, 0, count));
      case "BF16":
        return decodeBfloat16(new Uint16Array(bytes.buffer, 0, count));
      default:
        throw FormatError.at(t.file, `tensor "${name}" has dtype ${t.dtype}, not a float type`);
    }
    return out;
  }

  /** Closes the open file handles. */
  close(): void {
    for (const h of this.#handles.values()) h.close();
    this.#handles.clear();
  }

  /** Same as {@link close}, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}
