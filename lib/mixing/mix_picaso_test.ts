import { assert, assertClose, assertEquals, assertThrows } from "../../tests/_assert.ts";
import { openEngine } from "../engine/open_engine.ts";
import { tinyMambaConfig, writeRandomCheckpoint } from "../model/random_checkpoint.ts";
import { State, type StateShape } from "../states/state.ts";
import { SoupError } from "../util/errors.ts";
import { Rng } from "../util/random.ts";
import { mixADecay, mixMean, mixPicaso, readALog } from "./mod.ts";

const SHAPE: StateShape = { layers: 2, dInner: 3, convKernel: 2, stateSize: 4 };

function randomState(rng: Rng, shape: StateShape, deltaSum: () => number): State {
  const { layers: l, dInner: d, convKernel: k, stateSize: n } = shape;
  const fill = (len: number, draw: () => number) => Float32Array.from({ length: len }, draw);
  return new State(shape, {
    conv: fill(l * d * k, () => rng.normal()),
    ssm: fill(l * d * n, () => rng.normal()),
    deltaSum: fill(l * d, deltaSum),
  });
}

function randomALog(rng: Rng, shape: StateShape): Float32Array {
  const len = shape.layers * shape.dInner * shape.stateSize;
  return Float32Array.from({ length: len }, () => rng.uniform(-1, 1.5));
}

/** Every ordering of 0 .. n-1. */
function permutations(n: number): number[][] {
  if (n === 0) return [[]];
  const out: number[][] = [];
  for (const rest of permutations(n - 1)) {
    for (let at = 0; at <= rest.length; at++) {
      out.push([...rest.slice(0, at), n - 1, ...rest.slice(at)]);
    }
  }
  return out;
}

/**
 * The naive truth, float64: for each ordering, start from zeros and read the states one after
 * another (h = exp(A * deltaSum_k) * h + ssm_k, conv = the last one's), then average the
 * orderings.
 */
function bruteForce(states: State[], aLog: ArrayLike<number>) {
  const rows = states[0].deltaSum.length, n = states[0].ssm.length / rows;
  const orders = permutations(states.length);
  const ssm = new Float64Array(states[0].ssm.length),
    conv = new Float64Array(states[0].conv.length);
  for (const order of orders) {
    const h = new Float64Array(ssm.length);
    for (const k of order) {
      for (let r = 0; r < rows; r++) {
        for (let j = r * n; j < (r + 1) * n; j++) {
          h[j] = Math.exp(-Math.exp(aLog[j]) * states[k].deltaSum[r]) * h[j] + states[k].ssm[j];
        }
      }
    }
    const last = states[order[order.length - 1]].conv;
    for (let j = 0; j < ssm.length; j++) ssm[j] += h[j] / orders.length;
    for (let j = 0; j < conv.length; j++) conv[j] += last[j] / orders.length;
  }
  const deltaSum = new Float64Array(rows);
  for (const s of states) for (let r = 0; r < rows; r++) deltaSum[r] += s.deltaSum[r];
  return { ssm, conv, deltaSum };
}

Deno.test("mixPicaso() is the mean over all n! orderings of reading the states one after another", () => {
  const rng = new Rng(7);
  for (let count = 1; count <= 5; count++) {
    for (
      const [what, deltaSum] of [
        ["decays below 1", () => rng.uniform(0, 2)],
        // deltaSum < 0 (decays above 1, as a task-arithmetic state could give): the other branch.
        ["decays on both sides of 1", () => rng.uniform(-0.7, 2)],
      ] as const
    ) {
      const states = Array.from({ length: count }, () => randomState(rng, SHAPE, deltaSum));
      const aLog = randomALog(rng, SHAPE);
      const mixed = mixPicaso(states, aLog);
      const want = bruteForce(states, aLog);
      const msg = `${count} states, ${what}`;
      assertClose(mixed.ssm, want.ssm, { rtol: 1e-6, atol: 1e-6, msg: `${msg}: ssm` });
      assertClose(mixed.conv, want.conv, { rtol: 1e-6, atol: 1e-7, msg: `${msg}: conv` });
      assertClose(mixed.deltaSum, want.deltaSum, { rtol: 1e-6, msg: `${msg}: deltaSum` });
      assertEquals(mixed.logits, undefined);
      assertEquals(mixed.shape, states[0].shape);
    }
  }
});

Deno.test("mixPicaso() of two states is the mean of A-decay mixing them in both orders", () => {
  const rng = new Rng(8);
  const [s1, s2] = [0, 1].map(() => randomState(rng, SHAPE, () => rng.uniform(0, 3)));
  const aLog = randomALog(rng, SHAPE);
  const ab = mixADecay(s1, s2, aLog).ssm, ba = mixADecay(s2, s1, aLog).ssm;
  const want = ab.map((x, i) => (x + ba[i]) / 2);
  assertClose(mixPicaso([s1, s2], aLog).ssm, want, { rtol: 1e-6, atol: 1e-7 });
  // The order matters to A-decay, so this is no mean of equal things.
  assert(ab.some((x, i) => Math.abs(x - ba[i]) > 0.1), "A-decay should depend on the order");
});

Deno.test("mixPicaso() gives the same bits whatever order the states come in", () => {
  const rng = new Rng(9);
  const states = Array.from({ length: 5 }, () => randomState(rng, SHAPE, () => rng.uniform(0, 2)));
  const aLog = randomALog(rng, SHAPE);
  const mixed = mixPicaso(states, aLog);
  for (let t = 0; t < 6; t++) {
    const shuffled = [...states];
    for (let i = shuffled.length - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      [shuffled[i], shuffled[j]] = [shuffled[j], shuffled[i]];
    }
    const again = mixPicaso(shuffled, aLog);
    assertEquals(again.ssm, mixed.ssm);
    assertEquals(again.conv, mixed.conv);
    assertEquals(again.deltaSum, mixed.deltaSum);
  }
});

Deno.test("mixPicaso() sums the states when nothing decays and averages them when all is forgotten", () => {
  const rng = new Rng(10);
  const aLog = randomALog(rng, SHAPE);
  for (const count of [1, 2, 3, 5]) {
    const keep = Array.from({ length: count }, () => randomState(rng, SHAPE, () => 0));
    const sum = new Float64Array(keep[0].ssm.length);
    for (const s of keep) s.ssm.forEach((x, j) => (sum[j] += x));
    assertClose(mixPicaso(keep, aLog).ssm, sum, { rtol: 1e-6, atol: 1e-6, msg: `${count}: sum` });
    // exp(A * 1e30) underflows to 0: every state but the last read is forgotten, and each is
    // last in 1/n of the orderings.
    const forget = Array.from({ length: count }, () => randomState(rng, SHAPE, () => 1e30));
    assertClose(mixPicaso(forget, aLog).ssm, mixMean(forget).ssm, {
      rtol: 1e-6,
      atol: 1e-7,
      msg: `${count}: mean`,
    });
  }
});

Deno.test("mixPicaso() refuses no states, A_log of the wrong size or not finite, a state that does not decay", () => {
  const rng = new Rng(11);
  const s = randomState(rng, SHAPE, () => 1), t = randomState(rng, SHAPE, () => 1);
  const aLog = randomALog(rng, SHAPE);
  assertThrows(() => mixPicaso([], aLog), SoupError, "no states given");
  assertThrows(() => mixPicaso([s, t], aLog.subarray(1)), SoupError, "A_log holds 23 values");
  const bad = Float32Array.from(aLog);
  bad[5] = NaN;
  assertThrows(() => mixPicaso([s, t], bad), SoupError, "A_log[5] is NaN");
  bad[5] = Infinity;
  assertThrows(() => mixPicaso([s, t], bad), SoupError, "A_log[5] is Infinity");
  const other = randomState(rng, { ...SHAPE, stateSize: 5 }, () => 1);
  assertThrows(() => mixPicaso([s, other], aLog), SoupError, "state 1 is of shape (2, 3, 2, 5)");
  const nan = randomState(rng, SHAPE, () => NaN);
  assertThrows(() => mixPicaso([s, nan], aLog), SoupError, "state 1 has deltaSum NaN at row 0");
  // Each message is one line.
  for (const call of [() => mixPicaso([], aLog), () => mixPicaso([s, t], bad)]) {
    let err: Error | undefined;
    try {
      call();
    } catch (e) {
      err = e as Error;
    }
    assert(err instanceof SoupError && !err.message.includes("\n"), err?.message);
  }
});

/** Max absolute error over max magnitude of the expected array. */
function relError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  let err = 0, mag = 0;
  for (let i = 0; i < expected.length; i++) {
    err = Math.max(err, Math.abs(actual[i] - expected[i]));
    mag = Math.max(mag, Math.abs(expected[i]));
  }
  return err / mag;
}

for (const device of ["reference", "cpu"] as const) {
  Deno.test(`mixPicaso() is exact for one SSM layer without conv on the ${device} engine: the mean of the 6 readings of 3 chunks`, async () => {
    const dir = await Deno.makeTempDir();
    try {
      const config = tinyMambaConfig({ numHiddenLayers: 1, convKernel: 1, stateSize: 6 });
      await writeRandomCheckpoint(dir, config, { seed: 5 });
      const aLog = await readALog(dir);
      const rng = new Rng(60);
      const chunks = [7, 9, 11].map((len) => Array.from({ length: len }, () => rng.int(64)));
      const engine = await openEngine(dir, { device });
      const alone: State[] = [], readings: State[] = [];
      try {
        for (const x of chunks) alone.push((await engine.run(x)).state);
        for (const order of permutations(3)) {
          let state = alone[order[0]];
          for (const k of order.slice(1)) state = (await engine.run(chunks[k], { state })).state;
          readings.push(state);
        }
      } finally {
        await engine.close();
      }
      const mean = (field: "ssm" | "conv") =>
        readings[0][field].map((_, j) => readings.reduce((a, s) => a + s[field][j], 0) / 6);
      const mixed = mixPicaso(alone, aLog);
      const err = relError(mixed.ssm, mean("ssm"));
      assert(err <= 1e-5, `PICASO error ${err} on ${device}`);
      // The order matters: each reading is far from the mean of all six.
      for (const s of readings) assert(relError(s.ssm, mean("ssm")) > 1e-2, "orders should differ");
      // With K = 1 the conv state is the last chunk's, and each chunk is last in 2 of the 6.
      assertClose(mixed.conv, mean("conv"), { rtol: 1e-5, atol: 1e-6 });
      const total = alone[0].deltaSum.map((d, i) =>
        d + alone[1].deltaSum[i] + alone[2].deltaSum[i]
      );
      assertClose(mixed.deltaSum, total, { rtol: 1e-6 });
      assertEquals(mixed.logits, undefined);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}
