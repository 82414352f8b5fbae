import { assertEquals, assertThrows } from "../../tests/_assert.ts";
import { State } from "../states/state.ts";
import { SoupError } from "../util/errors.ts";
import { mixMean, mixWeighted, taskArithmetic } from "./mod.ts";

/** L 2, d_in 2, K 2, n 3: each value is `scale * (its flat index + 1)`. */
function indexState(scale: number): State {
  const f = (len: number) => Float32Array.from({ length: len }, (_, i) => scale * (i + 1));
  const shape = { layers: 2, dInner: 2, convKernel: 2, stateSize: 3, vocab: 5 };
  return new State(shape, { conv: f(8), ssm: f(12), deltaSum: f(4), logits: f(5) });
}

Deno.test("mixMean() averages conv, ssm and decay element by element", () => {
  const shape = { layers: 1, dInner: 1, convKernel: 2, stateSize: 4 };
  const a = new State(shape, {
    conv: Float32Array.of(1, -2),
    ssm: Float32Array.of(0.5, 3, -1, 8),
    deltaSum: Float32Array.of(0.25),
  });
  const b = new State(shape, {
    conv: Float32Array.of(3, 2),
    ssm: Float32Array.of(1.5, -3, 5, 0),
    deltaSum: Float32Array.of(0.75),
  });
  const c = new State(shape, {
    conv: Float32Array.of(-4, 9),
    ssm: Float32Array.of(4, 6, -7, 1),
    deltaSum: Float32Array.of(2),
  });
  assertEquals(mixMean([a, b, c]).arrays(), {
    conv: Float32Array.of(0, 3),
    ssm: Float32Array.of(2, 2, -1, 3),
    deltaSum: Float32Array.of(1),
  });
  assertEquals(mixMean([a]).arrays(), { conv: a.conv, ssm: a.ssm, deltaSum: a.deltaSum });
});

Deno.test("mixWeighted() takes any real weights, not summing to one, negative included", () => {
  const a = indexState(1), b = indexState(10);
  const mixed = mixWeighted([a, b], [0.5, 0.25]); // 0.5 i + 2.5 i = 3 i
  assertEquals(mixed.ssm, indexState(3).ssm);
  assertEquals(mixed.conv, indexState(3).conv);
  assertEquals(mixed.deltaSum, indexState(3).deltaSum);
  assertEquals(mixed.logits, undefined);
  assertEquals(mixWeighted([a, b], [2, -0.5]).ssm, indexState(-3).ssm); // 2 i - 5 i
  assertEquals(mixWeighted([a, b], [0, 0]).conv, new Float32Array(8));
  // The inputs are left alone.
  assertEquals(a, indexState(1));
  assertEquals(b, indexState(10));
});

Deno.test("taskArithmetic() adds weighted states to a base", () => {
  const r = taskArithmetic(indexState(5), [
    { state: indexState(2), weight: -1 },
    { state: indexState(0.5), weight: 4 },
  ]); // 5 i - 2 i + 2 i
  assertEquals(r.ssm, indexState(5).ssm);
  assertEquals(r.deltaSum, indexState(5).deltaSum);
  assertEquals(taskArithmetic(indexState(7), []).conv, indexState(7).conv);
});

Deno.test("mixWeighted() and mixMean() refuse empty lists, bad weights and mismatched states", () => {
  const a = indexState(1);
  assertThrows(() => mixMean([]), SoupError, "no states given");
  assertThrows(() => mixWeighted([a, a], [1]), SoupError, "1 weights for 2 states");
  assertThrows(() => mixWeighted([a, a], [1, NaN]), SoupError, "weight 1 is NaN");
  const wide = new State({ layers: 2, dInner: 2, convKernel: 2, stateSize: 4 }, {
    conv: new Float32Array(8),
    ssm: new Float32Array(16),
    deltaSum: new Float32Array(4),
  });
  assertThrows(() => mixMean([a, wide]), SoupError, "state 1 is of shape (2, 2, 2, 4)");
  const plain = { conv: a.conv, ssm: a.ssm, deltaSum: a.deltaSum } as unknown as State;
  assertThrows(() => mixMean([a, plain]), SoupError, "state 1 is not a State");
  const other = new State(a.shape, a.arrays(), { identity: { configHash: "x" } });
  const mine = new State(a.shape, a.arrays(), { identity: { configHash: "y" } });
  assertThrows(() => mixMean([mine, other]), SoupError, "state 1 belongs to another model");
  assertThrows(
    () => taskArithmetic(a, [{ state: a, weight: Infinity }]),
    SoupError,
    "weight 1 is Infinity",
  );
});
