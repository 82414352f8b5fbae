import { assert, assertClose, assertEquals, assertThrows } from "../../tests/_assert.ts";
import { State } from "../states/state.ts";
import { SoupError } from "../util/errors.ts";
import { Rng } from "../util/random.ts";
import { cosineSimilarity, retrieve, stateVector } from "./mod.ts";
import type { StateShape } from "../states/state.ts";

const shape: StateShape = { layers: 3, dInner: 8, convKernel: 4, stateSize: 5 };
const SSM = 8 * 5, CONV = 8 * 4; // values per layer

function randomState(rng: Rng, of: StateShape = shape): State {
  const arr = (len: number) => Float32Array.from({ length: len }, () => rng.normal());
  const { layers: m, dInner: d, convKernel: k, stateSize: n } = of;
  return new State(of, { conv: arr(m * d * k), ssm: arr(m * d * n), deltaSum: arr(m * d) });
}

function noisyCopy(s: State, rng: Rng, noise: number): State {
  const jitter = (a: Float32Array) => a.map((x) => x + noise * rng.normal());
  return new State(shape, {
    conv: jitter(s.conv),
    ssm: jitter(s.ssm),
    deltaSum: s.deltaSum.slice(),
  });
}

Deno.test("retrieve() finds the original of each noisy copy by ssm, conv or both", () => {
  const rng = new Rng(11);
  const originals = Array.from({ length: 30 }, () => randomState(rng));
  const candidates = originals.map((state, i) => ({ state, label: `task-${i}` }));
  const copies = originals.map((s) => noisyCopy(s, rng, 0.3));
  for (const kind of ["ssm", "conv", "both"] as const) {
    for (const layer of [0, 1, 2]) {
      const hits = retrieve(copies, candidates, { layer, kind });
      assertEquals(hits.length, copies.length);
      hits.forEach(([top], i) => {
        assertEquals(top.index, i, `${kind} layer ${layer}: copy ${i} found ${top.index}`);
        assertEquals(top.label, `task-${i}`);
        assert(top.score > 0.8 && top.score <= 1, `score ${top.score}`);
      });
    }
  }
});

Deno.test("retrieve() compares only the chosen layer and part of the state", () => {
  // Copy i carries original i in layer 1's ssm, original i+1 in layer 2's ssm and original i+2
  // in layer 1's conv: each choice of layer and kind must point at its own planted original.
  const rng = new Rng(12);
  const m = 12;
  const originals = Array.from({ length: m }, () => randomState(rng));
  const copies = originals.map((_, i) => {
    const c = noisyCopy(originals[i], rng, 0.1);
    c.ssm.set(originals[(i + 1) % m].ssm.subarray(2 * SSM, 3 * SSM), 2 * SSM);
    c.conv.set(originals[(i + 2) % m].conv.subarray(CONV, 2 * CONV), CONV);
    return c;
  });
  const candidates = originals.map((state) => ({ state }));
  const top = (layer: number, kind: "ssm" | "conv") =>
    retrieve(copies, candidates, { layer, kind }).map(([h]) => h.index);
  const shifted = (d: number) => Array.from({ length: m }, (_, i) => (i + d) % m);
  assertEquals(top(1, "ssm"), shifted(0));
  assertEquals(top(2, "ssm"), shifted(1));
  assertEquals(top(1, "conv"), shifted(2));
  assertEquals(top(1, "ssm")[0], 0);
});

Deno.test("retrieve() orders k hits by score, ties by index, with the scores of cosineSimilarity", () => {
  // Layer 1's ssm vectors point at known angles from the query (magnitudes do not matter).
  const angles = [1.2, 0.3, Math.PI, 0.3, 0.05, 2.0, Math.PI / 2];
  // c1 and c3 point the same way; their scales differ by a power of 2, so their scores tie exactly.
  const scales = [2, 0.5, 3, 8, 0.1, 1, 4];
  const at = (theta: number, scale: number): State => {
    const s = { conv: new Float32Array(3 * CONV), ssm: new Float32Array(3 * SSM) };
    s.ssm[SSM + 3] = scale * Math.cos(theta);
    s.ssm[SSM + 17] = scale * Math.sin(theta);
    s.ssm[0] = 99; // layer 0 differs, and must not count
    return new State(shape, { ...s, deltaSum: new Float32Array(24) });
  };
  const candidates = angles.map((t, i) => ({ state: at(t, scales[i]), label: `c${i}` }));
  const zero = { state: at(0, 0), label: "zero" }; // no direction: score 0
  const query = at(0, 5);
  const all = [...candidates, zero];
  const [hits] = retrieve([query], all, { layer: 1, k: 8 });
  assertEquals(hits.map((h) => h.index), [4, 1, 3, 0, 6, 7, 5, 2]);
  assertEquals(hits.map((h) => h.label), ["c4", "c1", "c3", "c0", "c6", "zero", "c5", "c2"]);
  assertClose(
    hits.map((h) => h.score),
    [4, 1, 3, 0, 6].map((i) => Math.cos(angles[i])).concat([0, Math.cos(2), -1]),
    { rtol: 1e-6, atol: 1e-7 },
  );
  const q = stateVector(query, { layer: 1 });
  for (const h of hits) {
    const c = stateVector(all[h.index].state, { layer: 1 });
    assertClose([h.score], [cosineSimilarity(q, c)], { rtol: 1e-12, atol: 1e-15 });
  }
  // Batched: every query gets its own list; k = 2 is the head of the full ordering.
  const two = retrieve([query, at(Math.PI, 1)], candidates, { layer: 1, k: 2 });
  assertEquals(two.map((hs) => hs.map((h) => h.index)), [[4, 1], [2, 5]]);
});

Deno.test("retrieve() compares a layer that states of other layers also hold", () => {
  const rng = new Rng(13);
  const states = Array.from({ length: 3 }, () => randomState(rng));
  const hits = retrieve([states[2].select([2])], states.map((state) => ({ state })), {
    layer: 2,
    kind: "conv",
  });
  assertEquals(hits[0][0].index, 2);
  assertClose([hits[0][0].score], [1], { rtol: 1e-12 });
  assertThrows(
    () => retrieve([states[2].select([1])], states.map((state) => ({ state })), { layer: 2 }),
    SoupError,
    "not layer 2",
  );
});

Deno.test("retrieve() and stateVector() refuse empty candidates, bad layers, k and shapes", () => {
  const rng = new Rng(14);
  const s = randomState(rng);
  const c = [{ state: s, label: "a" }, { state: randomState(rng), label: "b" }];
  assertThrows(() => retrieve([s], [], { layer: 0 }), SoupError, "no candidates given");
  for (const layer of [-1, 3, 1.5]) {
    assertThrows(
      () => retrieve([s], c, { layer }),
      SoupError,
      `layer ${layer}: layers are counted from 0 to 2`,
    );
  }
  assertThrows(() => retrieve([s], c, { layer: 0, k: 3 }), SoupError, "k is 3");
  assertThrows(() => retrieve([s], c, { layer: 0, k: 0 }), SoupError, "k is 0");
  const other = randomState(rng, { ...shape, stateSize: 4 });
  assertThrows(
    () => retrieve([other], c, { layer: 0 }),
    SoupError,
    'query 0 is of shape (3, 8, 4, 4) (layers, d_in, K, n), candidate 0 ("a") of (3, 8, 4, 5)',
  );
  assertThrows(
    () => retrieve([s], [...c, { state: other, label: "odd" }], { layer: 0 }),
    SoupError,
    `candidate 2 ("odd") is of shape (3, 8, 4, 4)`,
  );
  const plain = { conv: s.conv, ssm: s.ssm, deltaSum: s.deltaSum } as unknown as State;
  assertThrows(() => retrieve([plain], c, { layer: 0 }), SoupError, "query 0 is not a State");
  assertThrows(
    () => retrieve([s], c, { layer: 0, kind: "dt" as "ssm" }),
    SoupError,
    `kind "dt"`,
  );
  const bad = new State(shape, { ...s.arrays(), ssm: s.ssm.map((x, i) => (i === 3 ? NaN : x)) });
  assertThrows(() => retrieve([bad], c, { layer: 0 }), SoupError, "query 0 holds a value");
  assertThrows(() => cosineSimilarity([1, 2], [1]), SoupError, "2 and 1 values");
});
