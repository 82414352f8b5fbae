/**
 * Mamba-1's mixer between its matrix products as WebAssembly SIMD kernels, written in
 * TypeScript for one (d_in, n, K) shape: the causal depthwise conv with its SiLU (`conv`) and
 * the selective scan (`scan`). onnxruntime's CPU `LinearAttention` computes one scalar `exp`
 * per token, channel and state element; `scan` computes them four at a time and fuses the
 * softplus of delta, the D skip term and the gate (and its SiLU), which onnxruntime would run
 * as separate passes over memory. Both work on token-major (rows, tokens, d_in) arrays, the
 * layout of the matrix products, so nothing is transposed.
 *
 * `scan`, for each row `r` (its first `len[r]` of `T` tokens), channel `c` in `[c0, c1)`,
 * token `t`:
 *
 *   delta   = softplus(dt[r, t, c])                      (dt includes dt_proj's bias)
 *   h[s]    = exp(delta A[c, s]) h[s] + delta u[r, t, c] B[r, t, s]
 *   y[r,t,c]= (sum_s C[r, t, s] h[s] + D[c] u[r, t, c]) g
 *   deltaSum[r, c] += delta
 *
 * with g = gate[r, t, c], or SiLU(gate[r, t, c]) when `siluGate` is not 0, h starting from
 * and ending in `h[r, c, :]`; padded tokens (t >= len[r]) get y = 0. It works in blocks of
 * tokens and groups of four channels whose delta, delta u and decays stay in the scratch
 * memory, so each input is read once and y written once.
 *
 * `conv`, for each row `r`, token `t < T`, channel `c` in `[c0, c1)`:
 *
 *   u[r, t, c] = SiLU(bias[c] + sum_{j < K} w[j, c] xw[r, t + 1 + j, c])
 *
 * where `xw` (rows, K + T, d_in) holds the K inputs before this call (the conv state,
 * transposed) and then the T new ones. SiLU(a) = (max(a, 0) + min(a, 0) e) / (1 + e) with
 * e = exp(-|a|), which no input overflows.
 *
 * Arrays are float32, C order; the state axis of A, B, C and h is padded to `nPad`
 * (a multiple of 4) with zeros. exp(x) is computed as 2^(x log2 e): 2^round by the exponent
 * bits, 2^fraction by a degree-6 polynomial (error 2e-9 before float32 rounding; inputs below
 * 2^-126 give 2^-126, the smallest normal float32); log1p(e) for the softplus is
 * 2 atanh(e / (2 + e)) summed to s^15 (error < 2e-9 before rounding). Multiply-adds are
 * relaxed-SIMD fused ones where the engine has them (`fma`), else a multiply and an add.
 *
 * @module
 */

import { Code, encodeModule, T } from "./_wasm.ts";

/**
 * The state axis padded to whole SIMD vectors.
 *
 * @example
 * ```ts
 * import { padState } from "./scan_kernel.ts";
 * if (padState(16) !== 16 || padState(7) !== 8) throw new Error("padState");
 * ```
 */
export const padState = (n: number): number => Math.ceil(n / 4) * 4;

/** Parameter order of the exported `scan` function (all i32: counts and byte addresses). */
export const SCAN_PARAMS = [
  "rows",
  "tokens",
  "lens",
  "dt",
  "u",
  "gate",
  "siluGate",
  "b",
  "c",
  "a",
  "d",
  "h",
  "y",
  "deltaSum",
  "scratch",
  "c0",
  "c1",
] as const;

/** Parameter order of the exported `conv` function (all i32: counts and byte addresses). */
export const CONV_PARAMS = ["rows", "tokens", "xw", "w", "bias", "u", "c0", "c1"] as const;

const LOG2E = Math.LOG2E;
/** Lowest power of two computed (2^-126, the smallest normal float32); lower inputs give it. */
const EXP2_MIN = -126;
/** Tokens per block of the recurrence (and of the conv). */
const TOKEN_BLOCK = 8;
/**
 * Scratch layout of one `scan` call, in bytes: per token of a block the four C h vectors of a
 * group of channels, the group's delta and delta u, and one channel's decays.
 */
const SCRATCH = { acc: 0, delta: TOKEN_BLOCK * 64, du: TOKEN_BLOCK * 80, decay: TOKEN_BLOCK * 96 };
/** Bytes of scratch memory one `scan` call needs (its `scratch` parameter). */
export const scratchBytes = (nPad: number): number => SCRATCH.decay + TOKEN_BLOCK * 4 * nPad;
/**
 * 1.5 * 2^23 + 127: adding it to x in [-126, 0] rounds x to an integer (float32 spacing is 1
 * there) and leaves 127 + round(x), the biased exponent of 2^round(x), in the low bits.
 */
const MAGIC = 1.5 * 2 ** 23 + 127;
/**
 * 2^f for |f| <= 1/2 as a degree-6 polynomial, highest power first: a least-squares fit of the
 * relative error on Chebyshev nodes, reweighted towards minimax (max relative error 1.9e-9,
 * below float32 rounding; `scan_kernel_test.ts` checks the kernel's exp against Math.exp).
 */
const EXP2_COEFS = [
  0.00015345811696522863,
  0.0013399931216904783,
  0.009618488958256649,
  0.05550328776972441,
  0.2402264689062354,
  0.6931472057372643,
  1.0000000005541685,
];
/** log1p(e) = 2 atanh(s) = 2 s sum s^(2i) / (2i + 1), s = e / (2 + e), i <= 7, highest first. */
const LOG1P_COEFS = [1 / 15, 1 / 13, 1 / 11, 1 / 9, 1 / 7, 1 / 5, 1 / 3, 1];

/** v128 locals holding the constants, set once before the loops. */
type Consts = Record<string, number>;

function emitConsts(c: Code): Consts {
  const floats: Record<string, number> = {
    min: EXP2_MIN,
    log2e: LOG2E,
    nlog2e: -LOG2E,
    magic: MAGIC,
    zero: 0,
    one: 1,
    two: 2,
    ...Object.fromEntries(EXP2_COEFS.map((v, i) => [`e${i}`, v])),
    ...Object.fromEntries(LOG1P_COEFS.map((v, i) => [`l${i}`, v])),
  };
  const k: Consts = {};
  for (const [name, value] of Object.entries(floats)) {
    k[name] = c.local(T.v128);
    c.f32x4(value).set(k[name]);
  }
  return k;
}

/**
 * Emits a * b + c, each operand emitted by its function: one relaxed multiply-add where the
 * engine has relaxed SIMD (`fma`), else a multiply and an add.
 */
function madd(c: Code, fma: boolean, a: () => void, b: () => void, add: () => void): void {
  a();
  b();
  if (fma) {
    add();
    c.vMadd();
  } else {
    c.vMul();
    add();
    c.vAdd();
  }
}

/** Leaves 2^x on the stack for the v128 in local `x` (lanes <= 0 expected). */
function emitExp2(
  c: Code,
  x: number,
  k: Consts,
  tmp: { j: number; f: number; xc: number },
  fma: boolean,
): void {
  c.get(x).get(k.min).vPmax().tee(tmp.xc); // a < b ? b : a  -> max(x, -126)
  c.get(k.magic).vAdd().tee(tmp.j); // MAGIC + round(x), exactly
  c.get(k.magic).vSub().set(tmp.f); // round(x)
  c.get(tmp.xc).get(tmp.f).vSub().set(tmp.f); // f = x - round(x), exact, |f| <= 1/2
  c.get(k.e0);
  for (let i = 1; i < EXP2_COEFS.length; i++) {
    const coef = k[`e${i}`];
    if (fma) c.get(tmp.f).get(coef).vMadd();
    else c.get(tmp.f).vMul().get(coef).vAdd();
  }
  // 2^round(x): the low bits of MAGIC + round(x) are 127 + round(x), the biased exponent;
  // shifted into the exponent field (the high bits of MAGIC shift out).
  c.get(tmp.j).i32(23).iShl();
  c.vMul();
}

/** Locals the emitters share. */
interface Scope {
  c: Code;
  k: Consts;
  tmp: { j: number; f: number; xc: number };
  fma: boolean;
}

/** Leaves softplus(x) on the stack for the v128 in local `x`; `e`, `s`, `s2` are scratch. */
function emitSoftplus(sc: Scope, x: number, e: number, s: number, s2: number): void {
  const { c, k, tmp, fma } = sc;
  c.get(x).vAbs().get(k.nlog2e).vMul().set(e);
  emitExp2(c, e, k, tmp, fma); // e^-|x|
  c.set(e);
  // log1p(e) = 2 atanh(s), s = e / (2 + e); softplus(x) = max(x, 0) + log1p(e^-|x|)
  c.get(e).get(e).get(k.two).vAdd().vDiv().tee(s).get(s).vMul().set(s2);
  c.get(k.l0);
  for (let i = 1; i < LOG1P_COEFS.length; i++) c.get(s2).vMul().get(k[`l${i}`]).vAdd();
  c.get(s).vMul().get(k.two).vMul(); // 2 s (1 + s^2/3 + ...)
  c.get(x).get(k.zero).vPmax().vAdd();
}

/** Leaves SiLU(a) on the stack for the v128 in local `a`; `e` is scratch. */
function emitSilu(sc: Scope, a: number, e: number): void {
  const { c, k, tmp, fma } = sc;
  c.get(a).vAbs().get(k.nlog2e).vMul().set(e);
  emitExp2(c, e, k, tmp, fma); // e^-|a|
  c.set(e);
  // (max(a, 0) + min(a, 0) e) / (1 + e)
  madd(
    c,
    fma,
    () => c.get(a).get(k.zero).vPmin(),
    () => c.get(e),
    () => c.get(a).get(k.zero).vPmax(),
  );
  c.get(k.one).get(e).vAdd().vDiv();
}

/**
 * Stores the v128 in local `v` at the address in local `at`, all four lanes when the group of
 * channels [g, gEnd) is whole, else only its lanes (a vector past the last channel would write
 * the next token's first channels).
 */
function emitGroupStore(c: Code, at: number, v: number, g: number, gEnd: number, partial: number) {
  c.get(gEnd).get(g).i32Sub().i32(4).i32LtS().tee(partial).if(() => {
    c.get(at).get(v).extract(0).f32Store();
    for (let j = 1; j < 4; j++) {
      c.get(g).i32(j).i32Add().get(gEnd).i32LtS().if(() =>
        c.get(at).get(v).extract(j).f32Store(4 * j)
      );
    }
  });
  c.get(partial).i32Eqz().if(() => c.get(at).get(v).v128Store());
}

/** Each parameter's local index, by name. */
function paramIndex<N extends string>(names: readonly N[]): Record<N, number> {
  return Object.fromEntries(names.map((name, i) => [name, i])) as Record<N, number>;
}

/** The `scan` function's body (see the module doc). */
function scanCode(dIn: number, n: number, fma: boolean): Code {
  const nPad = padState(n);
  const q = nPad / 4;
  const p = paramIndex(SCAN_PARAMS);
  const c = new Code(SCAN_PARAMS.length);
  const i32 = () => c.local(T.i32);
  const v128 = () => c.local(T.v128);
  const row = i32(), t = i32(), ch = i32(), len = i32(), off = i32(), bc = i32(), base = i32();
  const tb = i32(), tEnd = i32(), deltaSumAt = i32(), g = i32(), gEnd = i32(), sc = i32();
  const partial = i32(), dp = i32(), ep = i32(), lane = i32();
  const tmp = { j: v128(), f: v128(), xc: v128() };
  const k = emitConsts(c);
  const scope: Scope = { c, k, tmp, fma };
  const x = v128(), e = v128(), s = v128(), s2 = v128(), dv = v128(), duv = v128(), acc = v128();
  const dsv = v128(), gv = v128();
  const hs = Array.from({ length: q }, () => v128());
  const as = Array.from({ length: q }, () => v128());

  /** Pushes the byte offset of element (row, t, channel) of a (rows, T, dIn) array. */
  const at3 = (channel: number) =>
    c.get(row).get(p.tokens).i32Mul().get(t).i32Add().i32(dIn).i32Mul().get(channel).i32Add()
      .i32(4).i32Mul();
  const scratch = (part: number) => c.get(p.scratch).i32(part).i32Add();
  /** `for (t = tb; t < tEnd; t++)`, each step adding `steps[local]` bytes to those locals. */
  const tokens = (steps: [number, number][], body: () => void) =>
    c.for(t, () => c.get(tb), () => c.get(tEnd), () => {
      body();
      for (const [local, bytes] of steps) c.get(local).i32(bytes).i32Add().set(local);
    });

  c.for(row, () => c.i32(0), () => c.get(p.rows), () => {
    c.get(p.lens).get(row).i32(4).i32Mul().i32Add().i32Load().set(len);
    c.for(ch, () => c.get(p.c0), () => c.get(p.c1), () => {
      c.get(row).i32(dIn).i32Mul().get(ch).i32Add().i32(4).i32Mul().get(p.deltaSum).i32Add();
      c.f32(0).f32Store();
    });
    c.for(tb, () => c.i32(0), () => c.get(len), () => {
      c.get(tb).i32(TOKEN_BLOCK).i32Add().tee(tEnd).get(len).get(tEnd).get(len).i32LtS().select();
      c.set(tEnd);
      c.for(g, () => c.get(p.c0), () => c.get(p.c1), () => {
        c.get(g).i32(4).i32Add().tee(gEnd).get(p.c1).get(gEnd).get(p.c1).i32LtS().select();
        c.set(gEnd);
        // delta = softplus(dt) and delta u of the group's four channels, per token. Lanes past
        // c1 read the next channels (or the arrays' slack) and are not used.
        c.get(tb).set(t);
        at3(g).set(off);
        scratch(SCRATCH.delta).set(dp);
        tokens([[off, dIn * 4], [dp, 16]], () => {
          c.get(p.dt).get(off).i32Add().v128Load().set(x);
          c.get(dp);
          emitSoftplus(scope, x, e, s, s2);
          c.tee(dv).v128Store();
          c.get(dp).get(dv).get(p.u).get(off).i32Add().v128Load().vMul()
            .v128Store(SCRATCH.du - SCRATCH.delta);
        });
        // One channel at a time, its n states in q vectors: first the decays
        // 2^(delta A log2 e) of the block's tokens (independent of each other), then the
        // recurrence, which leaves per token the vector whose lanes sum to C h.
        c.for(ch, () => c.get(g), () => c.get(gEnd), () => {
          c.get(ch).get(g).i32Sub().i32(4).i32Mul().set(lane);
          c.get(row).i32(dIn).i32Mul().get(ch).i32Add().i32(nPad * 4).i32Mul().get(p.h)
            .i32Add().set(base);
          for (let v = 0; v < q; v++) c.get(base).v128Load(16 * v).set(hs[v]);
          c.get(ch).i32(nPad * 4).i32Mul().get(p.a).i32Add().set(bc);
          for (let v = 0; v < q; v++) c.get(bc).v128Load(16 * v).get(k.log2e).vMul().set(as[v]);
          c.get(k.zero).set(dsv);
          scratch(SCRATCH.delta).get(lane).i32Add().set(dp);
          scratch(SCRATCH.decay).set(ep);
          tokens([[dp, 16], [ep, nPad * 4]], () => {
            c.get(dp).loadSplat().tee(dv);
            c.get(dsv).vAdd().set(dsv);
            for (let v = 0; v < q; v++) {
              c.get(ep);
              c.get(dv).get(as[v]).vMul().set(x);
              emitExp2(c, x, k, tmp, fma);
              c.v128Store(16 * v);
            }
          });
          scratch(SCRATCH.du).get(lane).i32Add().set(dp);
          scratch(SCRATCH.decay).set(ep);
          scratch(SCRATCH.acc).get(lane).i32(4).i32Mul().i32Add().set(sc); // 16 bytes a channel
          c.get(row).get(p.tokens).i32Mul().get(tb).i32Add().i32(nPad * 4).i32Mul().set(bc);
          tokens([[dp, 16], [ep, nPad * 4], [bc, nPad * 4], [sc, 64]], () => {
            c.get(dp).loadSplat().set(duv);
            for (let v = 0; v < q; v++) {
              // h = 2^(delta A log2 e) h + (delta u) B
              madd(
                c,
                fma,
                () => c.get(duv),
                () => c.get(p.b).get(bc).i32Add().v128Load(16 * v),
                () => c.get(ep).v128Load(16 * v).get(hs[v]).vMul(),
              );
              c.tee(hs[v]);
              // acc += C h
              c.get(p.c).get(bc).i32Add().v128Load(16 * v);
              if (v === 0) c.vMul();
              else if (fma) c.get(acc).vMadd();
              else c.vMul().get(acc).vAdd();
              c.set(acc);
            }
            c.get(sc).get(acc).v128Store();
          });
          for (let v = 0; v < q; v++) c.get(base).get(hs[v]).v128Store(16 * v);
          c.get(row).i32(dIn).i32Mul().get(ch).i32Add().i32(4).i32Mul().get(p.deltaSum).i32Add()
            .tee(deltaSumAt);
          c.get(deltaSumAt).f32Load().get(dsv).extract(0).f32Add().f32Store();
        });
        // y for the group's channels: the lane sums of the four scratch vectors of a token
        // (a 4 x 4 transpose), plus D u, times the gate (or its SiLU).
        scratch(SCRATCH.acc).set(sc);
        tokens([[sc, 64]], () => {
          const pair = (v0: number, v1: number) => {
            c.get(sc).v128Load(16 * v0).get(sc).v128Load(16 * v1).shuffleF32([0, 4, 1, 5]);
            c.get(sc).v128Load(16 * v0).get(sc).v128Load(16 * v1).shuffleF32([2, 6, 3, 7]);
            c.vAdd();
          };
          pair(0, 1);
          c.set(x); // [a0 02, a1 02, a0 13, a1 13] (lane sums by pairs)
          pair(2, 3);
          c.set(e);
          c.get(x).get(e).shuffleF32([0, 1, 4, 5]).get(x).get(e).shuffleF32([2, 3, 6, 7]).vAdd();
          c.set(acc);
          at3(g).set(off);
          c.get(p.gate).get(off).i32Add().v128Load().set(gv);
          c.get(p.siluGate).if(() => {
            emitSilu(scope, gv, e);
            c.set(gv);
          });
          madd(
            c,
            fma,
            () => c.get(p.d).get(g).i32(4).i32Mul().i32Add().v128Load(),
            () => c.get(p.u).get(off).i32Add().v128Load(),
            () => c.get(acc),
          );
          c.get(gv).vMul().set(acc);
          c.get(p.y).get(off).i32Add().set(off);
          emitGroupStore(c, off, acc, g, gEnd, partial);
        });
      }, 4);
    }, TOKEN_BLOCK);
    // Padded tokens: y = 0.
    c.for(t, () => c.get(len), () => c.get(p.tokens), () => {
      c.for(ch, () => c.get(p.c0), () => c.get(p.c1), () => {
        at3(ch).set(off);
        c.get(p.y).get(off).i32Add().f32(0).f32Store();
      });
    });
  });
  return c;
}

/** The `conv` function's body (see the module doc). */
function convCode(dIn: number, kernel: number, fma: boolean): Code {
  const p = paramIndex(CONV_PARAMS);
  const c = new Code(CONV_PARAMS.length);
  const i32 = () => c.local(T.i32);
  const v128 = () => c.local(T.v128);
  const row = i32(), t = i32(), tb = i32(), tEnd = i32(), g = i32(), gEnd = i32();
  const xo = i32(), uo = i32(), partial = i32();
  const tmp = { j: v128(), f: v128(), xc: v128() };
  const k = emitConsts(c);
  const scope: Scope = { c, k, tmp, fma };
  const acc = v128(), e = v128(), bias = v128();
  const ws = Array.from({ length: kernel }, () => v128());
  c.for(row, () => c.i32(0), () => c.get(p.rows), () => {
    c.for(tb, () => c.i32(0), () => c.get(p.tokens), () => {
      c.get(tb).i32(TOKEN_BLOCK).i32Add().tee(tEnd).get(p.tokens).get(tEnd).get(p.tokens)
        .i32LtS().select().set(tEnd);
      c.for(g, () => c.get(p.c0), () => c.get(p.c1), () => {
        c.get(g).i32(4).i32Add().tee(gEnd).get(p.c1).get(gEnd).get(p.c1).i32LtS().select();
        c.set(gEnd);
        c.get(g).i32(4).i32Mul().set(xo);
        for (let j = 0; j < kernel; j++) {
          c.get(p.w).get(xo).i32Add().v128Load(j * dIn * 4).set(ws[j]);
        }
        c.get(p.bias).get(xo).i32Add().v128Load().set(bias);
        // xw[row, tb + 1, g] and u[row, tb, g]
        c.get(row).get(p.tokens).i32(kernel).i32Add().i32Mul().get(tb).i32Add().i32(1).i32Add()
          .i32(dIn).i32Mul().get(g).i32Add().i32(4).i32Mul().get(p.xw).i32Add().set(xo);
        c.get(row).get(p.tokens).i32Mul().get(tb).i32Add().i32(dIn).i32Mul().get(g).i32Add()
          .i32(4).i32Mul().get(p.u).i32Add().set(uo);
        c.for(t, () => c.get(tb), () => c.get(tEnd), () => {
          c.get(bias).set(acc);
          for (let j = 0; j < kernel; j++) {
            madd(
              c,
              fma,
              () => c.get(ws[j]),
              () => c.get(xo).v128Load(j * dIn * 4),
              () => c.get(acc),
            );
            c.set(acc);
          }
          emitSilu(scope, acc, e);
          c.set(acc);
          emitGroupStore(c, uo, acc, g, gEnd, partial);
          c.get(xo).i32(dIn * 4).i32Add().set(xo);
          c.get(uo).i32(dIn * 4).i32Add().set(uo);
        });
      }, 4);
    }, TOKEN_BLOCK);
  });
  return c;
}

/**
 * Builds the kernel module for inner width `dIn`, state size `n` and conv width `kernel`: two
 * exported functions, `scan` with the i32 parameters of {@link SCAN_PARAMS} and `conv` with
 * those of {@link CONV_PARAMS}, on an imported memory `env.memory` (shared when `shared`, for
 * workers). {@link WasmScan} runs them.
 *
 * @example
 * ```ts
 * import { buildScanKernel } from "./scan_kernel.ts";
 * const bytes = buildScanKernel(1536, 16, { shared: false, fma: false });
 * if (!WebAssembly.validate(bytes)) throw new Error("invalid module");
 * ```
 */
export function buildScanKernel(
  dIn: number,
  n: number,
  options: { shared: boolean; fma: boolean; kernel?: number },
): Uint8Array<ArrayBuffer> {
  const { shared, fma } = options;
  return encodeModule([
    { name: "scan", params: SCAN_PARAMS.length, code: scanCode(dIn, n, fma) },
    { name: "conv", params: CONV_PARAMS.length, code: convCode(dIn, options.kernel ?? 4, fma) },
  ], { shared, maxPages: 65536 });
}
