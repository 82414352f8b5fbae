import { assert, assertEquals, assertRejects } from "../../tests/_assert.ts";
import { Rng } from "../util/random.ts";
import { SoupError } from "../util/errors.ts";
import { padState } from "./scan_kernel.ts";
import { type ScanInputs, WasmScan } from "./wasm_scan.ts";

/** softplus in float64, as PyTorch defines it (threshold 20). */
const softplus = (x: number) => (x > 20 ? x : Math.log1p(Math.exp(x)));

/** The scan in float64, straight from Mamba's equations (HF `MambaMixer.slow_forward`). */
function reference(dIn: number, n: number, x: ScanInputs) {
  const nPad = padState(n);
  const { rows, tokens } = x;
  const y = new Float64Array(rows * tokens * dIn);
  const h = Float64Array.from(x.h);
  const deltaSum = new Float64Array(rows * dIn);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < dIn; c++) {
      for (let t = 0; t < x.lengths[r]; t++) {
        const o = (r * tokens + t) * dIn + c;
        const row = (r * tokens + t) * nPad;
        const delta = softplus(x.dt[o]);
        deltaSum[r * dIn + c] += delta;
        let acc = 0;
        for (let s = 0; s < n; s++) {
          const i = (r * dIn + c) * nPad + s;
          h[i] = Math.exp(delta * x.a[c * nPad + s]) * h[i] + delta * x.u[o] * x.b[row + s];
          acc += x.c[row + s] * h[i];
        }
        y[o] = (acc + x.d[c] * x.u[o]) * x.gate[o];
      }
    }
  }
  return { y, h, deltaSum };
}

function randomInputs(
  dIn: number,
  n: number,
  lengths: number[],
  tokens: number,
  seed: number,
  dtRange: [number, number] = [-6, 3],
): ScanInputs {
  const rng = new Rng(seed);
  const nPad = padState(n);
  const rows = lengths.length;
  const flat = (len: number, lo: number, hi: number) =>
    Float32Array.from({ length: len }, () => rng.uniform(lo, hi));
  const padded = (count: number, fn: () => number) => {
    const out = new Float32Array(count * nPad);
    for (let i = 0; i < count; i++) for (let s = 0; s < n; s++) out[i * nPad + s] = fn();
    return out;
  };
  return {
    rows,
    tokens,
    lengths,
    dt: flat(rows * tokens * dIn, ...dtRange),
    u: flat(rows * tokens * dIn, -2, 2),
    gate: flat(rows * tokens * dIn, -1, 1),
    b: padded(rows * tokens, () => rng.normal(0, 1)),
    c: padded(rows * tokens, () => rng.normal(0, 1)),
    a: padded(dIn, () => -Math.exp(rng.normal(0.5, 1.5))),
    d: flat(dIn, -1, 1),
    h: padded(rows * dIn, () => rng.normal(0, 1)),
  };
}

/** max |got - want| / max(|want|, floor) over the real (unpadded) entries. */
function relErr(got: ArrayLike<number>, want: ArrayLike<number>, floor = 1): number {
  assertEquals(got.length, want.length);
  let err = 0, scale = floor;
  for (let i = 0; i < want.length; i++) {
    err = Math.max(err, Math.abs(got[i] - want[i]));
    scale = Math.max(scale, Math.abs(want[i]));
  }
  return err / scale;
}

const SHAPES: [string, number, number, number[], number][] = [
  ["d_in 37, n 7, rows of 50, 47, 0 and 1 tokens", 37, 7, [50, 47, 0, 1], 50],
  ["d_in 64, n 16, one row", 64, 16, [300], 300],
  ["d_in 5, n 3", 5, 3, [9, 4], 9],
  ["d_in 13, n 17 (five vectors)", 13, 17, [20, 20], 24],
];

for (const [name, dIn, n, lengths, tokens] of SHAPES) {
  for (const fma of [true, false]) {
    for (const threads of [1, 3]) {
      Deno.test(`WasmScan agrees with a float64 scan: ${name}, fma ${fma}, ${threads} threads`, async () => {
        // minParallelWork 0: the workers take part even in these small runs.
        const scan = await WasmScan.create(dIn, n, { threads, fma, minParallelWork: 0 });
        try {
          const x = randomInputs(dIn, n, lengths, tokens, dIn * 100 + n);
          const want = reference(dIn, n, x);
          const got = await scan.run(x);
          assert(relErr(got.y, want.y) < 2e-6, `y: ${relErr(got.y, want.y)}`);
          assert(relErr(got.h, want.h) < 2e-6, `h: ${relErr(got.h, want.h)}`);
          assert(relErr(got.deltaSum, want.deltaSum) < 2e-6, `delta sums`);
          // Padded tokens give 0; rows without tokens keep their state.
          for (const [r, len] of lengths.entries()) {
            for (let i = (r * tokens + len) * dIn; i < (r + 1) * tokens * dIn; i++) {
              assertEquals(got.y[i], 0);
            }
          }
          const r0 = lengths.indexOf(0);
          if (r0 >= 0) {
            const nPad = padState(n);
            const span = [r0 * dIn * nPad, (r0 + 1) * dIn * nPad];
            assertEquals(got.h.slice(...span), x.h.slice(...span));
          }
          // Inputs are not changed, so a second run gives the same.
          const again = await scan.run(x);
          assertEquals(again.y, got.y);
          // Below the default minParallelWork the calling thread runs alone: same values.
          const alone = await WasmScan.create(dIn, n, { threads, fma });
          try {
            const one = await alone.run(x);
            assertEquals([one.y, one.h, one.deltaSum], [got.y, got.h, got.deltaSum]);
          } finally {
            alone.close();
          }
        } finally {
          scan.close();
        }
      });
    }
  }
}

Deno.test("WasmScan's exp and softplus match Math's over their whole range", async () => {
  // One token per channel, u = 0 (no input term), C = e_0, gate 1: y = exp(delta A_0) h_0.
  const dIn = 4000, n = 4;
  const scan = await WasmScan.create(dIn, n, { threads: 1 });
  const x = randomInputs(dIn, n, [1], 1, 5);
  x.u.fill(0);
  x.gate.fill(1);
  x.c.fill(0);
  x.c[0] = 1;
  x.h.fill(0);
  for (let c = 0; c < dIn; c++) {
    x.dt[c] = -100 + (c / dIn) * 140; // softplus from 4e-44 up to x itself at 40
    x.a[c * 4] = -Math.pow(10, -3 + (c % 100) / 20); // exponents from -5e-4 down to about -4e3
    x.h[c * 4] = 1;
  }
  const got = await scan.run(x);
  let spErr = 0, expErr = 0;
  for (let c = 0; c < dIn; c++) {
    const sp = softplus(x.dt[c]);
    // softplus, relative; for x < 0 it is about e^x, whose float32 argument x log2 e carries
    // an absolute error of |x| ulp(1), so the bound grows with |x|; below 2^-126 it floors.
    if (sp > 1.2e-38) {
      const err = Math.abs(got.deltaSum[c] - sp) / sp / Math.max(1, Math.abs(x.dt[c]));
      spErr = Math.max(spErr, err);
    } else {
      assert(got.deltaSum[c] <= 1.2e-38, `softplus floor at channel ${c}: ${got.deltaSum[c]}`);
    }
    // The kernel's own float32 argument, delta A log2(e): this checks 2^x alone.
    const log2e = Math.fround(Math.LOG2E);
    const e = 2 ** Math.fround(got.deltaSum[c] * Math.fround(x.a[c * 4] * log2e));
    if (e > 1.2e-38) expErr = Math.max(expErr, Math.abs(got.y[c] - e) / e);
    else assert(got.y[c] <= 1.2e-38 && got.y[c] >= 0, `exp floor at channel ${c}: ${got.y[c]}`);
  }
  assert(spErr < 3e-7, `softplus relative error ${spErr}`);
  assert(expErr < 1.5e-7, `exp relative error ${expErr}`);
  scan.close();
});

Deno.test("WasmScan refuses inputs of the wrong size", async () => {
  const scan = await WasmScan.create(8, 4, { threads: 1 });
  const x = randomInputs(8, 4, [3], 3, 1);
  await assertRejects(
    () => scan.run({ ...x, u: x.u.subarray(1) }),
    SoupError,
    `input "u" holds 23 values, expected 24`,
  );
  scan.close();
});

/** The conv with its SiLU in float64, straight from its definition (HF `conv1d` then `act`). */
function convReference(
  dIn: number,
  k: number,
  rows: number,
  tokens: number,
  xw: Float32Array,
  w: Float32Array,
  bias: Float32Array,
): Float64Array {
  const u = new Float64Array(rows * tokens * dIn);
  for (let r = 0; r < rows; r++) {
    for (let t = 0; t < tokens; t++) {
      for (let c = 0; c < dIn; c++) {
        let acc = bias[c];
        for (let j = 0; j < k; j++) {
          acc += w[j * dIn + c] * xw[(r * (k + tokens) + t + 1 + j) * dIn + c];
        }
        u[(r * tokens + t) * dIn + c] = acc / (1 + Math.exp(-acc));
      }
    }
  }
  return u;
}

for (
  const [dIn, k, rows, tokens] of [[37, 4, 3, 20], [64, 3, 1, 33], [5, 2, 2, 1], [1536, 4, 2, 9]]
) {
  for (const threads of [1, 3]) {
    Deno.test(`WasmScan.conv agrees with a float64 conv: d_in ${dIn}, K ${k}, ${rows} x ${tokens}, ${threads} threads`, async () => {
      const scan = await WasmScan.create(dIn, 4, { threads, convKernel: k, minParallelWork: 0 });
      try {
        const rng = new Rng(dIn + k);
        const buf = scan.buffers(rows, tokens);
        buf.xw.set(Float32Array.from(buf.xw, () => rng.normal(0, 3)));
        buf.convW.set(Float32Array.from(buf.convW, () => rng.normal(0, 1)));
        buf.convBias.set(Float32Array.from(buf.convBias, () => rng.normal(0, 1)));
        // Values past each token's last channel must stay as they are.
        buf.u.fill(7);
        await scan.conv(buf);
        const want = convReference(dIn, k, rows, tokens, buf.xw, buf.convW, buf.convBias);
        assert(relErr(buf.u, want) < 2e-6, `u: ${relErr(buf.u, want)}`);
        // A second run on the same buffers gives the same; the inputs are unchanged.
        const first = buf.u.slice();
        await scan.conv(buf);
        assertEquals(buf.u, first);
      } finally {
        scan.close();
      }
    });
  }
}

Deno.test("WasmScan with siluGate applies SiLU to the gate branch", async () => {
  const dIn = 37, n = 7;
  for (const threads of [1, 3]) {
    const scan = await WasmScan.create(dIn, n, { threads, minParallelWork: 0 });
    try {
      const x = randomInputs(dIn, n, [20, 13], 20, 9);
      for (let i = 0; i < x.gate.length; i++) x.gate[i] = 30 * (x.gate[i]); // -30 .. 30
      const gated = reference(dIn, n, { ...x, gate: x.gate.map((z) => z / (1 + Math.exp(-z))) });
      const got = await scan.run({ ...x, siluGate: true });
      assert(relErr(got.y, gated.y) < 2e-6, `y: ${relErr(got.y, gated.y)}`);
    } finally {
      scan.close();
    }
  }
});
