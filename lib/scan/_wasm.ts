/**
 * A small WebAssembly encoder: one module that imports a memory and exports functions whose
 * parameters are i32 and whose locals are i32, f32 or v128. Enough to write the selective-scan
 * kernel in TypeScript, the way `lib/onnx/graph_builder.ts` writes ONNX.
 *
 * @module
 */

/** Value types. */
export const T = { i32: 0x7f, f32: 0x7d, v128: 0x7b } as const;
/** A value type of {@link T}. */
export type ValType = (typeof T)[keyof typeof T];

const uleb = (n: number): number[] => {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
};

const sleb = (n: number): number[] => {
  const out: number[] = [];
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    const done = (n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0);
    out.push(done ? byte : byte | 0x80);
    if (done) return out;
  }
};

const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
const name = (s: string): number[] => {
  const bytes = [...new TextEncoder().encode(s)];
  return [...uleb(bytes.length), ...bytes];
};
const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];

/** SIMD opcodes used (after the 0xfd prefix), from the WebAssembly 2.0 binary format. */
const SIMD = {
  load: 0,
  load32_splat: 9,
  store: 11,
  const: 12,
  shuffle: 13,
  f32x4_extract_lane: 31,
  i32x4_shl: 171,
  f32x4_abs: 224,
  f32x4_add: 228,
  f32x4_sub: 229,
  f32x4_mul: 230,
  f32x4_div: 231,
  f32x4_pmin: 234,
  f32x4_pmax: 235,
  f32x4_relaxed_madd: 261,
} as const;

/** Emits one function body; locals are declared as they are asked for. */
export class Code {
  readonly bytes: number[] = [];
  readonly #params: number;
  readonly #locals: ValType[] = [];

  constructor(params: number) {
    this.#params = params;
  }

  /** A new local of `type`; returns its index. */
  local(type: ValType): number {
    this.#locals.push(type);
    return this.#params + this.#locals.length - 1;
  }

  /** The encoded body (locals and code). */
  body(): number[] {
    const groups: number[][] = this.#locals.map((t) => [1, t]);
    const b = [...vec(groups), ...this.bytes, 0x0b];
    return [...uleb(b.length), ...b];
  }

  #op(...bytes: number[]): this {
    this.bytes.push(...bytes);
    return this;
  }
  #simd(op: number, ...imm: number[]): this {
    return this.#op(0xfd, ...uleb(op), ...imm);
  }

  get(i: number): this {
    return this.#op(0x20, ...uleb(i));
  }
  set(i: number): this {
    return this.#op(0x21, ...uleb(i));
  }
  tee(i: number): this {
    return this.#op(0x22, ...uleb(i));
  }
  i32(n: number): this {
    return this.#op(0x41, ...sleb(n | 0));
  }
  f32(x: number): this {
    return this.#op(0x43, ...new Uint8Array(Float32Array.of(x).buffer));
  }
  /** A v128 constant of four equal f32 lanes. */
  f32x4(x: number): this {
    const lanes = new Uint8Array(Float32Array.of(x, x, x, x).buffer);
    return this.#simd(SIMD.const, ...lanes);
  }
  i32Add(): this {
    return this.#op(0x6a);
  }
  i32Mul(): this {
    return this.#op(0x6c);
  }
  i32Sub(): this {
    return this.#op(0x6b);
  }
  i32LtS(): this {
    return this.#op(0x48);
  }
  i32Eqz(): this {
    return this.#op(0x45);
  }
  /** `select`: the first of two values when the i32 on top is not 0, else the second. */
  select(): this {
    return this.#op(0x1b);
  }
  f32Add(): this {
    return this.#op(0x92);
  }
  /** i32.load at the address on the stack plus `offset` bytes. */
  i32Load(offset = 0): this {
    return this.#op(0x28, 2, ...uleb(offset));
  }
  /** f32.load at the address on the stack plus `offset` bytes. */
  f32Load(offset = 0): this {
    return this.#op(0x2a, 2, ...uleb(offset));
  }
  f32Store(offset = 0): this {
    return this.#op(0x38, 2, ...uleb(offset));
  }
  /** v128.load, alignment hint 1 (4-byte aligned data). */
  v128Load(offset = 0): this {
    return this.#simd(SIMD.load, 2, ...uleb(offset));
  }
  /** v128.load32_splat: the f32 at the address plus `offset` in all four lanes. */
  loadSplat(offset = 0): this {
    return this.#simd(SIMD.load32_splat, 2, ...uleb(offset));
  }
  v128Store(offset = 0): this {
    return this.#simd(SIMD.store, 2, ...uleb(offset));
  }
  /** i8x16.shuffle of the two v128 on the stack by f32 lane indices (0-3 first, 4-7 second). */
  shuffleF32(lanes: [number, number, number, number]): this {
    const bytes = lanes.flatMap((l) => [4 * l, 4 * l + 1, 4 * l + 2, 4 * l + 3]);
    return this.#simd(SIMD.shuffle, ...bytes);
  }
  extract(lane: number): this {
    return this.#simd(SIMD.f32x4_extract_lane, lane);
  }
  vAdd(): this {
    return this.#simd(SIMD.f32x4_add);
  }
  vSub(): this {
    return this.#simd(SIMD.f32x4_sub);
  }
  vMul(): this {
    return this.#simd(SIMD.f32x4_mul);
  }
  /** f32x4.relaxed_madd: a * b + c for a, b, c on the stack, fused or not (relaxed SIMD). */
  vMadd(): this {
    return this.#simd(SIMD.f32x4_relaxed_madd);
  }
  vDiv(): this {
    return this.#simd(SIMD.f32x4_div);
  }
  vAbs(): this {
    return this.#simd(SIMD.f32x4_abs);
  }
  /** Lane-wise `a < b ? b : a` for a, b on the stack (a first). */
  vPmax(): this {
    return this.#simd(SIMD.f32x4_pmax);
  }
  /** Lane-wise `b < a ? b : a` for a, b on the stack (a first). */
  vPmin(): this {
    return this.#simd(SIMD.f32x4_pmin);
  }
  /** i32x4.shl by the i32 on the stack. */
  iShl(): this {
    return this.#simd(SIMD.i32x4_shl);
  }

  /** A structured instruction (`opcode` ... `end`) with a void result; `fn` emits the inside. */
  #nest(opcode: number, fn: () => void): this {
    this.#op(opcode, 0x40);
    fn();
    return this.#op(0x0b);
  }
  /** `block ... end`. */
  block(fn: () => void): this {
    return this.#nest(0x02, fn);
  }
  /** `if ... end`, on the i32 on the stack (not 0: run `fn`). */
  if(fn: () => void): this {
    return this.#nest(0x04, fn);
  }
  /** `loop ... end`. */
  loop(fn: () => void): this {
    return this.#nest(0x03, fn);
  }
  /** `br_if depth`. */
  brIf(depth: number): this {
    return this.#op(0x0d, ...uleb(depth));
  }
  /** `br depth`. */
  br(depth: number): this {
    return this.#op(0x0c, ...uleb(depth));
  }

  /**
   * `for (i = from; i < to; i += step) body()`, with `from`, `to` emitted by the callers
   * (each pushes one i32). Runs no iteration when `from >= to`.
   */
  for(i: number, from: () => void, to: () => void, body: () => void, step = 1): this {
    from();
    this.set(i);
    return this.block(() => {
      this.loop(() => {
        this.get(i);
        to();
        this.i32LtS();
        this.i32Eqz();
        this.brIf(1);
        body();
        this.get(i).i32(step).i32Add().set(i);
        this.br(0);
      });
    });
  }
}

/** One exported function of `params` i32 parameters and no result. */
export interface WasmFunction {
  /** Export name. */
  name: string;
  /** Number of i32 parameters. */
  params: number;
  /** The body, built on a {@link Code} for that many parameters. */
  code: Code;
}

/**
 * Encodes a module that imports memory `env.memory` (shared when `shared`, with `maxPages`
 * pages of 64 KiB at most) and exports `functions`.
 */
export function encodeModule(
  functions: WasmFunction[],
  memory: { shared: boolean; maxPages: number },
): Uint8Array<ArrayBuffer> {
  const types = functions.map((
    f,
  ) => [0x60, ...vec(Array.from({ length: f.params }, () => [T.i32])), 0]);
  const limits = memory.shared
    ? [0x03, 1, ...uleb(memory.maxPages)]
    : [0x01, 1, ...uleb(memory.maxPages)];
  const bytes = [
    0x00,
    0x61,
    0x73,
    0x6d,
    0x01,
    0x00,
    0x00,
    0x00,
    ...section(1, vec(types)),
    ...section(2, vec([[...name("env"), ...name("memory"), 0x02, ...limits]])),
    ...section(3, vec(functions.map((_, i) => uleb(i)))),
    ...section(7, vec(functions.map((f, i) => [...name(f.name), 0x00, ...uleb(i)]))),
    ...section(10, vec(functions.map((f) => f.code.body()))),
  ];
  return new Uint8Array(bytes);
}
