import { assert, assertClose, assertEquals, assertThrows } from "../../tests/_assert.ts";
import { openEngine } from "../engine/open_engine.ts";
import type { Device } from "../engine/open_engine.ts";
import { tinyMambaConfig, writeRandomCheckpoint } from "../model/random_checkpoint.ts";
import { SAFETENSORS_INDEX } from "../model/safetensors.ts";
import { State } from "../states/state.ts";
import { FormatError, SoupError } from "../util/errors.ts";
import { Rng } from "../util/random.ts";
import { mixADecay, mixMean, readALog } from "./mod.ts";

/** Max absolute error over max magnitude of the expected array. */
function relError(actual: Float32Array, expected: Float32Array): number {
  let err = 0, mag = 0;
  for (let i = 0; i < expected.length; i++) {
    err = Math.max(err, Math.abs(actual[i] - expected[i]));
    mag = Math.max(mag, Math.abs(expected[i]));
  }
  return err / mag;
}

function tokens(rng: Rng, count: number): number[] {
  return Array.from({ length: count }, () => rng.int(64));
}

/** States of x1 and of x2 from zeros, and of x2 read from x1's state (the truth). */
async function chunkStates(dir: string, device: Device, x1: number[], x2: number[]) {
  const engine = await openEngine(dir, { device });
  try {
    const s1 = (await engine.run(x1)).state;
    const s2 = (await engine.run(x2)).state;
    const seq = (await engine.run(x2, { state: s1 })).state;
    return { s1, s2, seq };
  } finally {
    await engine.close();
  }
}

for (const device of ["reference", "cpu"] as const) {
  Deno.test(`mixADecay() is exact for one SSM layer without conv on the ${device} engine`, async () => {
    for (const seed of [0, 1, 2]) {
      const dir = await Deno.makeTempDir();
      const config = tinyMambaConfig({ numHiddenLayers: 1, convKernel: 1, stateSize: 6 });
      await writeRandomCheckpoint(dir, config, { seed });
      const aLog = await readALog(dir);
      const rng = new Rng(40 + seed);
      const { s1, s2, seq } = await chunkStates(dir, device, tokens(rng, 9), tokens(rng, 11));
      const mixed = mixADecay(s1, s2, aLog);
      const err = relError(mixed.ssm, seq.ssm);
      assert(err <= 1e-5, `seed ${seed}: A-decay error ${err} on ${device}`);
      // The first chunk matters: leaving it out is far off.
      assert(relError(s2.ssm, seq.ssm) > 1e-2, "x1 should leave a trace in the state");
      // With K = 1 the conv state is the last input, x2's; the decays of both chunks add up.
      assertClose(mixed.conv, seq.conv, { rtol: 1e-6, atol: 1e-7 });
      const total = s1.deltaSum.map((d, i) => d + seq.deltaSum[i]);
      assertClose(mixed.deltaSum, total, { rtol: 1e-5 });
      assertEquals(mixed.logits, undefined);
    }
  });
}

Deno.test("mixADecay() is only approximate with a conv and two layers, yet beats mean mixing on average", async () => {
  // Measured on seeds 0..5 (reference engine): A-decay error 0.04 .. 0.24 (mean 0.145),
  // mean mixing 0.28 .. 0.69 (mean 0.44); A-decay wins on every seed. The assertion is loose.
  const adecay: number[] = [], mean: number[] = [];
  for (let seed = 0; seed < 6; seed++) {
    const dir = await Deno.makeTempDir();
    await writeRandomCheckpoint(dir, tinyMambaConfig({ numHiddenLayers: 2, convKernel: 4 }), {
      seed,
    });
    const aLog = await readALog(dir);
    const rng = new Rng(100 + seed);
    const x1 = tokens(rng, 8 + rng.int(8)), x2 = tokens(rng, 8 + rng.int(8));
    const { s1, s2, seq } = await chunkStates(dir, "reference", x1, x2);
    adecay.push(relError(mixADecay(s1, s2, aLog).ssm, seq.ssm));
    mean.push(relError(mixMean([s1, s2]).ssm, seq.ssm));
  }
  for (const e of adecay) assert(e > 1e-3, `A-decay should not be exact here (error ${e})`);
  const avg = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  assert(
    avg(adecay) < avg(mean),
    `A-decay ${adecay.map((e) => e.toFixed(3))} vs mean ${mean.map((e) => e.toFixed(3))}`,
  );
});

Deno.test("mixADecay() gives layer 0 the exact conv state, short second chunks included", async () => {
  const config = tinyMambaConfig({ numHiddenLayers: 2, convKernel: 4 });
  const dir = await Deno.makeTempDir();
  await writeRandomCheckpoint(dir, config, { seed: 3 });
  const aLog = await readALog(dir);
  const layer0 = (s: State) => s.conv.subarray(0, config.intermediateSize * 4);
  const rng = new Rng(9);
  const x1 = tokens(rng, 7);
  for (const t of [1, 2, 3, 4, 6]) {
    const x2 = tokens(rng, t);
    const { s1, s2, seq } = await chunkStates(dir, "reference", x1, x2);
    const mixed = mixADecay(s1, s2, aLog, { secondTokens: t });
    assertClose(layer0(mixed), layer0(seq), { rtol: 1e-6, atol: 1e-7, msg: `${t} tokens` });
    if (t >= 4) assertEquals(mixADecay(s1, s2, aLog).conv, mixed.conv);
  }
});

Deno.test("mixADecay() refuses A_log of the wrong size and states of different shapes", () => {
  const s = (n: number) =>
    new State({ layers: 1, dInner: 2, convKernel: 1, stateSize: n }, {
      conv: new Float32Array(2),
      ssm: new Float32Array(2 * n),
      deltaSum: new Float32Array(2),
    });
  assertThrows(() => mixADecay(s(3), s(3), new Float32Array(5)), SoupError, "A_log holds 5");
  assertThrows(
    () => mixADecay(s(3), s(4), new Float32Array(6)),
    SoupError,
    "state 1 is of shape (1, 2, 1, 4)",
  );
  assertThrows(
    () => mixADecay(s(3), s(3), new Float32Array(6), { secondTokens: 1.5 }),
    SoupError,
    "secondTokens is 1.5",
  );
});

Deno.test("readALog() reads sharded half-precision checkpoints and names a misshapen tensor", async () => {
  const config = tinyMambaConfig({ numHiddenLayers: 3, stateSize: 7 });
  const dir = await Deno.makeTempDir();
  await writeRandomCheckpoint(dir, config, { dtype: "F16", maxShardBytes: 4000 });
  await Deno.stat(`${dir}/${SAFETENSORS_INDEX}`);
  const aLog = await readALog(dir);
  assertEquals(aLog.length, 3 * 32 * 7);
  // Random checkpoints hold A_log[c, j] = log(j + 1) (S4D-real); F16 keeps 3 digits.
  const want = Array.from(aLog, (_, i) => Math.log((i % 7) + 1));
  assertClose(aLog, want, { rtol: 1e-3, atol: 1e-3 });
  const json = JSON.parse(await Deno.readTextFile(`${dir}/config.json`));
  await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify({ ...json, state_size: 8 }));
  const err = await readALog(dir).then(() => undefined, (e) => e);
  assert(err instanceof FormatError, String(err));
  assert(err.message.includes(`"backbone.layers.0.mixer.A_log" has shape (32, 7)`), err.message);
  assert(err.message.includes("implies (32, 8)"), err.message);
});
