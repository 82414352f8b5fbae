/**
 * The `.npy` preamble and header dict (private to the `.npy` module): parsing NumPy's Python
 * literal header and writing it byte for byte as NumPy does.
 *
 * Layout: `\x93NUMPY`, major and minor version bytes, the header length (u16 little-endian in
 * version 1.0, u32 in 2.0 and 3.0), then the header: a Python dict literal such as
 * `{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }`, padded with spaces and a
 * final `\n` so that the data starts at a multiple of 64 bytes. Versions 1.0 and 2.0 hold an
 * ASCII header, 3.0 a UTF-8 one.
 *
 * @module
 */

import { FormatError } from "../util/errors.ts";
import type { NpyDtype } from "./types.ts";

/**
 * The six bytes every `.npy` file starts with: `\x93NUMPY`.
 *
 * @example
 * ```ts
 * import { NPY_MAGIC } from "./_header.ts";
 * if (NPY_MAGIC[1] !== "N".charCodeAt(0)) throw new Error("magic is \\x93NUMPY");
 * ```
 */
export const NPY_MAGIC: Uint8Array = Uint8Array.of(0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59);

/** Data starts at a multiple of this many bytes (NumPy's `ARRAY_ALIGN`). */
const ARRAY_ALIGN = 64;
/** Spare spaces NumPy leaves after the dict so the growth axis can be rewritten in place. */
const GROWTH_AXIS_MAX_DIGITS = 21;
/** Nesting deeper than this in a header is rejected (real headers nest 2 levels). */
const MAX_DEPTH = 32;

/**
 * How one dtype is stored: its canonical descr and the size of one element in bytes.
 *
 * @example
 * ```ts
 * import { DTYPE_INFO, type DtypeInfo } from "./_header.ts";
 * const f4: DtypeInfo = DTYPE_INFO.float32;
 * if (f4.itemsize !== 4) throw new Error("float32 is 4 bytes");
 * ```
 */
export interface DtypeInfo {
  /** The dtype name. */
  dtype: NpyDtype;
  /** The descr NumPy writes for it, e.g. `<f4` or `|u1`. */
  descr: string;
  /** Bytes per element. */
  itemsize: number;
}

/**
 * The storage of every supported dtype.
 *
 * @example
 * ```ts
 * import { DTYPE_INFO } from "./_header.ts";
 * if (DTYPE_INFO.bool.descr !== "|b1") throw new Error(DTYPE_INFO.bool.descr);
 * ```
 */
export const DTYPE_INFO: Readonly<Record<NpyDtype, DtypeInfo>> = Object.freeze({
  float16: { dtype: "float16", descr: "<f2", itemsize: 2 },
  float32: { dtype: "float32", descr: "<f4", itemsize: 4 },
  float64: { dtype: "float64", descr: "<f8", itemsize: 8 },
  int32: { dtype: "int32", descr: "<i4", itemsize: 4 },
  int64: { dtype: "int64", descr: "<i8", itemsize: 8 },
  uint8: { dtype: "uint8", descr: "|u1", itemsize: 1 },
  bool: { dtype: "bool", descr: "|b1", itemsize: 1 },
});

const BY_CODE: ReadonlyMap<string, DtypeInfo> = new Map(
  Object.values(DTYPE_INFO).map((info) => [info.descr.slice(1), info]),
);

const SUPPORTED = Object.values(DTYPE_INFO).map((i) => i.descr).join(", ");

/**
 * What the header of a `.npy` file declares.
 *
 * @example
 * ```ts
 * import { DTYPE_INFO, type NpyHeader } from "./_header.ts";
 * const h: NpyHeader = {
 *   version: [1, 0], descr: "<f4", info: DTYPE_INFO.float32,
 *   fortranOrder: false, shape: [2], dataOffset: 64,
 * };
 * if (h.dataOffset % 64 !== 0) throw new Error("NumPy aligns data to 64 bytes");
 * ```
 */
export interface NpyHeader {
  /** Format version `[major, minor]`: `[1, 0]`, `[2, 0]` or `[3, 0]`. */
  version: [number, number];
  /** The descr exactly as the file spells it (e.g. `<f4`), for messages. */
  descr: string;
  /** The dtype it maps to. */
  info: DtypeInfo;
  /** Whether the data is stored in Fortran (column-major) order. */
  fortranOrder: boolean;
  /** The shape; `[]` for a scalar. */
  shape: number[];
  /** Where the data starts, in bytes from the start of the file. */
  dataOffset: number;
}

/**
 * Formats a shape as Python prints a tuple: `()`, `(5,)`, `(3, 4)`.
 *
 * @example
 * ```ts
 * import { formatShape } from "./_header.ts";
 * if (formatShape([5]) !== "(5,)") throw new Error(formatShape([5]));
 * if (formatShape([3, 4]) !== "(3, 4)") throw new Error(formatShape([3, 4]));
 * ```
 */
export function formatShape(shape: readonly (number | string)[]): string {
  return shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(", ")})`;
}

/**
 * Looks a descr up, rejecting big-endian, structured and unsupported ones with a clear
 * {@linkcode FormatError}. One-byte types accept any byte-order mark (it is meaningless for
 * them); multi-byte types need `<`.
 *
 * @example
 * ```ts
 * import { dtypeFromDescr } from "./_header.ts";
 * if (dtypeFromDescr("<f8", "x.npy").dtype !== "float64") throw new Error("<f8 is float64");
 * let msg = "";
 * try { dtypeFromDescr(">f4", "x.npy"); } catch (e) { msg = (e as Error).message; }
 * if (!msg.includes("big-endian")) throw new Error(msg);
 * ```
 */
export function dtypeFromDescr(descr: string, name: string): DtypeInfo {
  const order = descr.slice(0, 1);
  const info = BY_CODE.get(descr.slice(1));
  if (!info || !"<>|=".includes(order) || order === "") {
    throw FormatError.at(
      name,
      `unsupported dtype ${pyRepr(descr)} (supported: ${SUPPORTED})`,
    );
  }
  if (info.itemsize === 1 || order === "<") return info;
  if (order === ">") {
    throw FormatError.at(
      name,
      `big-endian dtype ${pyRepr(descr)} is not supported; ` +
        `save it little-endian in NumPy with arr.astype('<${descr.slice(1)}')`,
    );
  }
  throw FormatError.at(
    name,
    `dtype ${pyRepr(descr)} does not state little-endian byte order (expected '<${
      descr.slice(1)
    }')`,
  );
}

// ---------------------------------------------------------------------------------------------
// Python literal parsing

type PyValue =
  | { t: "dict"; entries: [PyValue, PyValue][] }
  | { t: "tuple"; items: PyValue[] }
  | { t: "list"; items: PyValue[] }
  | { t: "str"; v: string }
  | { t: "num"; text: string }
  | { t: "bool"; v: boolean }
  | { t: "none" };

/** Quotes a string as Python's repr would (close enough for messages), truncating long ones. */
function pyRepr(s: string): string {
  const short = s.length > 40 ? `${s.slice(0, 40)}...` : s;
  let out = "'";
  for (const c of short) {
    const code = c.charCodeAt(0);
    if (c === "\\" || c === "'") out += `\\${c}`;
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, "0")}`;
    else out += c;
  }
  return `${out}'`;
}

/** Shows a parsed value in messages, in Python syntax, truncated. */
function show(v: PyValue): string {
  let s: string;
  switch (v.t) {
    case "dict":
      s = `{${v.entries.map(([k, x]) => `${show(k)}: ${show(x)}`).join(", ")}}`;
      break;
    case "tuple":
      s = formatShape(v.items.map(show));
      break;
    case "list":
      s = `[${v.items.map(show).join(", ")}]`;
      break;
    case "str":
      s = pyRepr(v.v);
      break;
    case "num":
      s = v.text;
      break;
    case "bool":
      s = v.v ? "True" : "False";
      break;
    case "none":
      s = "None";
      break;
  }
  return s.length > 80 ? `${s.slice(0, 80)}...` : s;
}

const NUMBER = /[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?[lLjJ]?/y;
const NAME = /[A-Za-z_][A-Za-z0-9_]*/y;

/**
 * A recursive-descent parser for the Python literals a `.npy` header may contain: dicts,
 * tuples, lists, strings (with `u`/`b` prefixes and escapes), numbers (with Python 2's `L`
 * suffix), `True`, `False` and `None`.
 */
class LiteralParser {
  pos = 0;
  constructor(readonly src: string, readonly name: string) {}

  fail(problem: string): never {
    throw FormatError.at(
      this.name,
      `header is not a valid Python literal: ${problem} at character ${this.pos}`,
    );
  }

  skipSpace(): void {
    while (this.pos < this.src.length && " \t\n\r\f\v".includes(this.src[this.pos])) this.pos++;
  }

  peek(): string {
    this.skipSpace();
    return this.src[this.pos] ?? "";
  }

  expect(ch: string): void {
    if (this.peek() !== ch) this.fail(`expected '${ch}' but found ${this.found()}`);
    this.pos++;
  }

  found(): string {
    return this.pos < this.src.length ? pyRepr(this.src[this.pos]) : "the end of the header";
  }

  parseTop(): PyValue {
    const v = this.value(0);
    if (this.peek() !== "") this.fail(`unexpected ${this.found()} after the literal`);
    return v;
  }

  value(depth: number): PyValue {
    if (depth > MAX_DEPTH) this.fail(`nesting deeper than ${MAX_DEPTH} levels`);
    const c = this.peek();
    if (c === "{") return this.dict(depth);
    if (c === "(") return this.seq(depth, "(", ")");
    if (c === "[") return this.seq(depth, "[", "]");
    if (c === "'" || c === '"') return this.str(false);
    NUMBER.lastIndex = this.pos;
    const num = NUMBER.exec(this.src);
    if (num) {
      this.pos += num[0].length;
      return { t: "num", text: num[0] };
    }
    NAME.lastIndex = this.pos;
    const word = NAME.exec(this.src);
    if (word) {
      const w = word[0];
      const next = this.src[this.pos + w.length];
      if ((next === "'" || next === '"') && /^[uUbBrR]{1,2}$/.test(w)) {
        this.pos += w.length;
        return this.str(/[rR]/.test(w));
      }
      this.pos += w.length;
      if (w === "True") return { t: "bool", v: true };
      if (w === "False") return { t: "bool", v: false };
      if (w === "None") return { t: "none" };
      this.pos -= w.length;
      this.fail(`unexpected name ${pyRepr(w)}`);
    }
    return this.fail(`unexpected ${this.found()}`);
  }

  dict(depth: number): PyValue {
    this.expect("{");
    const entries: [PyValue, PyValue][] = [];
    while (this.peek() !== "}") {
      const key = this.value(depth + 1);
      this.expect(":");
      entries.push([key, this.value(depth + 1)]);
      if (this.peek() !== ",") break;
      this.pos++;
    }
    this.expect("}");
    return { t: "dict", entries };
  }

  seq(depth: number, open: string, close: string): PyValue {
    this.expect(open);
    const items: PyValue[] = [];
    let comma = false;
    while (this.peek() !== close) {
      items.push(this.value(depth + 1));
      comma = this.peek() === ",";
      if (!comma) break;
      this.pos++;
    }
    this.expect(close);
    if (open === "[") return { t: "list", items };
    // `(x)` is just x in parentheses; `(x,)` and `()` are tuples.
    if (items.length === 1 && !comma) return items[0];
    return { t: "tuple", items };
  }

  str(raw: boolean): PyValue {
    const quote = this.src[this.pos++];
    let out = "";
    for (;;) {
      if (this.pos >= this.src.length || this.src[this.pos] === "\n") {
        this.fail("unterminated string");
      }
      const c = this.src[this.pos++];
      if (c === quote) return { t: "str", v: out };
      if (c !== "\\" || raw) {
        out += c;
        continue;
      }
      const e = this.src[this.pos++] ?? "";
      const simple: Record<string, string> = {
        "\\": "\\",
        "'": "'",
        '"': '"',
        n: "\n",
        r: "\r",
        t: "\t",
        "0": "\0",
        a: "\x07",
        b: "\b",
        f: "\f",
        v: "\v",
        "\n": "",
      };
      if (e in simple) out += simple[e];
      else if (e === "x" || e === "u" || e === "U") {
        const n = e === "x" ? 2 : e === "u" ? 4 : 8;
        const hex = this.src.slice(this.pos, this.pos + n);
        const code = /^[0-9a-fA-F]+$/.test(hex) && hex.length === n ? parseInt(hex, 16) : -1;
        if (code < 0 || code > 0x10ffff) this.fail(`bad escape \\${e}${hex}`);
        this.pos += n;
        out += String.fromCodePoint(code);
      } else out += `\\${e}`;
    }
  }
}

/** Converts one dimension of a parsed shape tuple, or throws naming the whole shape. */
function dimension(v: PyValue, shapeText: string, name: string): number {
  if (v.t !== "num") {
    throw FormatError.at(name, `shape ${shapeText} is not a tuple of integers`);
  }
  const text = v.text.replace(/[lL]$/, "");
  if (!/^[+-]?\d+$/.test(text)) {
    throw FormatError.at(name, `shape ${shapeText} has a non-integer dimension ${v.text}`);
  }
  const big = BigInt(text);
  if (big < 0n) {
    throw FormatError.at(name, `shape ${shapeText} has a negative dimension ${v.text}`);
  }
  if (big > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw FormatError.at(name, `shape ${shapeText} has a dimension ${v.text} that is too large`);
  }
  return Number(big);
}

/**
 * Parses the preamble and header dict of a `.npy` file, validating magic, version, header
 * length, encoding, keys and values. It does not look at the data.
 *
 * @example
 * ```ts
 * import { encodeHeader, parseHeader } from "./_header.ts";
 * const h = parseHeader(encodeHeader("<i4", [3, 4]), "x.npy");
 * if (h.info.dtype !== "int32" || h.shape.join() !== "3,4" || h.dataOffset !== 128) {
 *   throw new Error(JSON.stringify(h));
 * }
 * ```
 */
export function parseHeader(bytes: Uint8Array, name: string): NpyHeader {
  for (let i = 0; i < NPY_MAGIC.length && i < bytes.length; i++) {
    if (bytes[i] !== NPY_MAGIC[i]) {
      throw FormatError.at(name, "not a .npy file: it does not start with \\x93NUMPY");
    }
  }
  if (bytes.length < 10) {
    throw FormatError.at(
      name,
      `truncated: the file holds ${bytes.length} bytes, less than a .npy preamble`,
    );
  }
  const major = bytes[6];
  const minor = bytes[7];
  if (major < 1 || major > 3 || minor !== 0) {
    throw FormatError.at(
      name,
      `unsupported .npy format version ${major}.${minor} (this reader handles 1.0, 2.0 and 3.0)`,
    );
  }
  const lenSize = major === 1 ? 2 : 4;
  const start = 8 + lenSize;
  if (bytes.length < start) {
    throw FormatError.at(
      name,
      `truncated: the file holds ${bytes.length} bytes, less than a version ${major}.0 preamble`,
    );
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = lenSize === 2 ? dv.getUint16(8, true) : dv.getUint32(8, true);
  const end = start + headerLen;
  if (end > bytes.length) {
    throw FormatError.at(
      name,
      `header length ${headerLen} goes beyond the end of the file ` +
        `(${bytes.length - start} bytes follow the preamble)`,
    );
  }
  const raw = bytes.subarray(start, end);
  let text: string;
  if (major === 3) {
    try {
      text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(raw);
    } catch (err) {
      throw FormatError.at(name, "header of a version 3.0 file is not valid UTF-8", err);
    }
  } else {
    const bad = raw.findIndex((b) => b > 0x7f);
    if (bad >= 0) {
      throw FormatError.at(
        name,
        `header of a version ${major}.0 file holds the non-ASCII byte 0x${
          raw[bad].toString(16)
        } at offset ${start + bad}`,
      );
    }
    text = new TextDecoder("latin1").decode(raw);
  }

  const dict = new LiteralParser(text, name).parseTop();
  if (dict.t !== "dict") {
    throw FormatError.at(name, `header is not a dict but ${show(dict)}`);
  }
  const fields = new Map<string, PyValue>();
  for (const [k, v] of dict.entries) {
    if (k.t !== "str") throw FormatError.at(name, `header has a non-string key ${show(k)}`);
    if (!["descr", "fortran_order", "shape"].includes(k.v)) {
      throw FormatError.at(name, `header has an unexpected key ${pyRepr(k.v)}`);
    }
    fields.set(k.v, v);
  }
  for (const key of ["descr", "fortran_order", "shape"]) {
    if (!fields.has(key)) throw FormatError.at(name, `header lacks the key '${key}'`);
  }

  const descr = fields.get("descr")!;
  if (descr.t === "list") {
    throw FormatError.at(name, "structured dtypes (a list descr) are not supported");
  }
  if (descr.t !== "str") {
    throw FormatError.at(name, `header 'descr' is not a string but ${show(descr)}`);
  }
  const info = dtypeFromDescr(descr.v, name);

  const fortran = fields.get("fortran_order")!;
  if (fortran.t !== "bool") {
    throw FormatError.at(name, `header 'fortran_order' is not True or False but ${show(fortran)}`);
  }

  const shapeValue = fields.get("shape")!;
  if (shapeValue.t !== "tuple") {
    throw FormatError.at(name, `header 'shape' is not a tuple but ${show(shapeValue)}`);
  }
  const shapeText = show(shapeValue);
  const shape = shapeValue.items.map((v) => dimension(v, shapeText, name));

  return {
    version: [major, minor],
    descr: descr.v,
    info,
    fortranOrder: fortran.v,
    shape,
    dataOffset: end,
  };
}

/**
 * Builds the preamble and header NumPy's `np.save` writes for a C-ordered array: the sorted
 * dict, the spare spaces for the growth axis, padding to 64 bytes and `\n`. Version 1.0 unless
 * the header does not fit a 16-bit length, then 2.0.
 *
 * @example
 * ```ts
 * import { encodeHeader } from "./_header.ts";
 * const h = encodeHeader("<f4", [3, 4]);
 * const text = new TextDecoder().decode(h.subarray(10));
 * if (h.length !== 128 || !text.startsWith("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }")) {
 *   throw new Error(text);
 * }
 * if (!text.endsWith(" \n")) throw new Error("header ends in a newline");
 * ```
 */
export function encodeHeader(descr: string, shape: readonly number[]): Uint8Array {
  let dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${formatShape(shape)}, }`;
  if (shape.length > 0) {
    dict += " ".repeat(Math.max(0, GROWTH_AXIS_MAX_DIGITS - String(shape[0]).length));
  }
  const text = new TextEncoder().encode(dict);
  const hlen = text.length + 1;
  let lenSize = 2;
  let padlen = ARRAY_ALIGN - ((8 + lenSize + hlen) % ARRAY_ALIGN);
  if (hlen + padlen > 0xffff) {
    lenSize = 4;
    padlen = ARRAY_ALIGN - ((8 + lenSize + hlen) % ARRAY_ALIGN);
  }
  const total = 8 + lenSize + hlen + padlen;
  const out = new Uint8Array(total);
  out.set(NPY_MAGIC);
  out[6] = lenSize === 2 ? 1 : 2;
  out[7] = 0;
  const dv = new DataView(out.buffer);
  if (lenSize === 2) dv.setUint16(8, hlen + padlen, true);
  else dv.setUint32(8, hlen + padlen, true);
  out.set(text, 8 + lenSize);
  out.fill(0x20, 8 + lenSize + text.length, total - 1);
  out[total - 1] = 0x0a;
  return out;
}
