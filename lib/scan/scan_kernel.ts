/**
 * Mamba-1's selective scan as a WebAssembly SIMD kernel, written in TypeScript for one
 * (d_in, n) shape. onnxruntime's CPU `LinearAttention` computes one scalar `exp` per token,
 * channel and state element; this kernel computes them four at a time and also fuses the
 * softplus of delta, the D skip term and the gate, which onnxruntime would run as separate
 * passes over memory.
 *
 * For each row `r` (its first `len[r]` of `T` tokens), channel `c` in `[c0, c1)`, token `t`:
 *
 *   delta   = softplus(dt[r, t, c])                      (dt includes dt_proj's bias)
 *   h[s]    = exp(delta A[c, s]) h[s] + delta u[r, t, c] B[r, t, s]
 *   y[r,t,c]= (sum_s C[r, t, s] h[s] + D[c] u[r, t, c]) gate[r, t, c]
 *   deltaSum[r, c] += delta
 *
 * with h starting from and ending in `h[r, c, :]`; padded tokens (t >= len[r]) get y = 0.
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
  "delta",
  "u",
  "gate",
  "b",
  "c",
  "a",
  "d",
  "h",
  "y",
  "deltaSum",
  "du",
  "scratch",
  "c0",
  "c1",
] as const;

const LOG2E = Math.LOG2E;
/** Lowest power of two computed (2^-126, the smallest normal float32); lower inputs give it. */
const EXP2_MIN = -126;
/** Tokens per block of the recurrence. */
const TOKEN_BLOCK = 16;
/** Bytes of scratch memory one call of the kernel needs (its `scratch` parameter). */
export const SCRATCH_BYTES = TOKEN_BLOCK * 64;
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

/**
 * Builds the kernel module for inner width `dIn` and state size `n`: one exported function
 * `scan` with the i32 parameters of {@link SCAN_PARAMS}, on an imported memory `env.memory`
 * (shared when `shared`, for workers). {@link WasmScan} runs it.
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
  options: { shared: boolean; fma: boolean },
): Uint8Array<ArrayBuffer> {
  const { shared, fma } = options;
  const nPad = padState(n);
  const q = nPad / 4;
  const p = Object.fromEntries(SCAN_PARAMS.map((name, i) => [name, i])) as Record<
    (typeof SCAN_PARAMS)[number],
    number
  >;
  const c = new Code(SCAN_PARAMS.length);
  const i32 = () => c.local(T.i32);
  const v128 = () => c.local(T.v128);
  const row = i32(), t = i32(), ch = i32(), len = i32(), off = i32(), bc = i32(), base = i32();
  const tb = i32(), tEnd = i32(), deltaSumAt = i32(), g = i32(), gEnd = i32(), sc = i32();
  const partial = i32();
  const tmp = { j: v128(), f: v128(), xc: v128() };
  const k = emitConsts(c);
  const x = v128(), e = v128(), s = v128(), s2 = v128(), dv = v128(), duv = v128(), acc = v128();
  const dsv = v128();
  const hs = Array.from({ length: q }, () => v128());
  const as = Array.from({ length: q }, () => v128());

  /** Pushes the byte offset of element (row, t, ch) of a (rows, T, dIn) array. */
  const at3 = (channel = ch) =>
    c.get(row).get(p.tokens).i32Mul().get(t).i32Add().i32(dIn).i32Mul().get(channel).i32Add()
      .i32(4).i32Mul();

  c.for(row, () => c.i32(0), () => c.get(p.rows), () => {
    c.get(p.lens).get(row).i32(4).i32Mul().i32Add().i32Load().set(len);

    // Pass 1: delta = softplus(dt) and delta u for this worker's channels, four at a time.
    // Vectors that run past c1 compute the same values their owner computes (same input,
    // same output).
    c.for(t, () => c.i32(0), () => c.get(len), () => {
      c.for(ch, () => c.get(p.c0), () => c.get(p.c1), () => {
        at3().set(off);
        c.get(p.dt).get(off).i32Add().v128Load().set(x);
        c.get(x).vAbs().get(k.nlog2e).vMul().set(e);
        emitExp2(c, e, k, tmp, fma); // e^-|x|
        c.set(e);
        c.get(e).get(e).get(k.two).vAdd().vDiv().tee(s).get(s).vMul().set(s2);
        c.get(k.l0);
        for (let i = 1; i < LOG1P_COEFS.length; i++) c.get(s2).vMul().get(k[`l${i}`]).vAdd();
        c.get(s).vMul().get(k.two).vMul(); // 2 s (1 + s^2/3 + ...)
        c.get(x).get(k.zero).vPmax().vAdd();
        c.set(e);
        c.get(p.delta).get(off).i32Add().get(e).v128Store();
        c.get(p.du).get(off).i32Add().get(e).get(p.u).get(off).i32Add().v128Load().vMul()
          .v128Store();
      }, 4);
    });

    // Pass 2: the recurrence in blocks of TOKEN_BLOCK tokens (so that the strided rows a
    // block touches stay in cache and in the TLB), in groups of four channels: one channel at
    // a time inside a group, its n states in q vectors, leaving per token the vector whose
    // lanes sum to C h in the scratch; then per token the four channels' sums at once, with
    // the D term and the gate.
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
        c.for(ch, () => c.get(g), () => c.get(gEnd), () => {
          // h for (row, ch), A for ch and the running delta sum into locals.
          c.get(row).i32(dIn).i32Mul().get(ch).i32Add().i32(nPad * 4).i32Mul().get(p.h)
            .i32Add().set(base);
          for (let v = 0; v < q; v++) c.get(base).v128Load(16 * v).set(hs[v]);
          c.get(ch).i32(nPad * 4).i32Mul().get(p.a).i32Add().set(bc);
          for (let v = 0; v < q; v++) c.get(bc).v128Load(16 * v).get(k.log2e).vMul().set(as[v]);
          c.get(k.zero).set(dsv);
          c.get(tb).set(t);
          at3().set(off);
          c.get(row).get(p.tokens).i32Mul().get(t).i32Add().i32(nPad * 4).i32Mul().set(bc);
          c.get(ch).get(g).i32Sub().i32(16).i32Mul().get(p.scratch).i32Add().set(sc);
          c.for(t, () => c.get(tb), () => c.get(tEnd), () => {
            c.get(p.delta).get(off).i32Add().loadSplat().tee(dv);
            c.get(dsv).vAdd().set(dsv);
            c.get(p.du).get(off).i32Add().loadSplat().set(duv);
            for (let v = 0; v < q; v++) {
              c.get(dv).get(as[v]).vMul().set(x);
              // h = 2^(delta A log2 e) h + (delta u) B
              madd(
                c,
                fma,
                () => c.get(duv),
                () => c.get(p.b).get(bc).i32Add().v128Load(16 * v),
                () => {
                  emitExp2(c, x, k, tmp, fma);
                  c.get(hs[v]).vMul();
                },
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
            // Next token: its (row, t, ch) element, its B and C rows, its scratch slot.
            c.get(off).i32(dIn * 4).i32Add().set(off);
            c.get(bc).i32(nPad * 4).i32Add().set(bc);
            c.get(sc).i32(64).i32Add().set(sc);
          });
          for (let v = 0; v < q; v++) c.get(base).get(hs[v]).v128Store(16 * v);
          c.get(row).i32(dIn).i32Mul().get(ch).i32Add().i32(4).i32Mul().get(p.deltaSum).i32Add()
            .tee(deltaSumAt);
          c.get(deltaSumAt).f32Load().get(dsv).extract(0).f32Add().f32Store();
        });
        // y for the group's channels: the lane sums of the four scratch vectors of a token
        // (a 4 x 4 transpose), plus D u, times the gate. Lanes past c1 are not stored.
        c.get(p.scratch).set(sc);
        c.for(t, () => c.get(tb), () => c.get(tEnd), () => {
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
          madd(
            c,
            fma,
            () => c.get(p.d).get(g).i32(4).i32Mul().i32Add().v128Load(),
            () => c.get(p.u).get(off).i32Add().v128Load(),
            () => c.get(acc),
          );
          c.get(p.gate).get(off).i32Add().v128Load().vMul().set(acc);
          c.get(p.y).get(off).i32Add().set(off);
          c.get(gEnd).get(g).i32Sub().i32(4).i32LtS().tee(partial).if(() => {
            c.get(off).get(acc).extract(0).f32Store();
            for (let j = 1; j < 4; j++) {
              c.get(g).i32(j).i32Add().get(gEnd).i32LtS().if(() =>
                c.get(off).get(acc).extract(j).f32Store(4 * j)
              );
            }
          });
          c.get(partial).i32Eqz().if(() => c.get(off).get(acc).v128Store());
          c.get(sc).i32(64).i32Add().set(sc);
        });
      }, 4);
    }, TOKEN_BLOCK);
    // Padded tokens: y = 0.
    c.for(t, () => c.get(len), () => c.get(p.tokens), () => {
      c.for(ch, () => c.get(p.c0), () => c.get(p.c1), () => {
        at3().set(off);
        c.get(p.y).get(off).i32Add().f32(0).f32Store();
      });
    });
  });
  return encodeModule([{ name: "scan", params: SCAN_PARAMS.length, code: c }], {
    shared,
    maxPages: 65536,
  });
}
