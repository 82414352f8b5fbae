/**
 * Random checkpoints and helpers shared by the engine tests on every provider: the configs
 * (odd sizes, state sizes 3/7/16, conv kernels 2-4, biases, untied heads, F16 shards, BF16,
 * vocab 50280), random start states and the normwise relative error.
 *
 * @module
 */
import { assert, assertEquals } from "./_assert.ts";
import {
  type MambaConfig,
  type TinyConfigFields,
  tinyMambaConfig,
  writeRandomCheckpoint,
} from "../lib/model/mod.ts";
import { Rng } from "../lib/util/random.ts";
import { State, stateShape } from "../lib/states/mod.ts";

/**
 * Normwise relative error: max |a - b| / max |b|. The ONNX graph computes in float32 and the
 * reference in float64, so elementwise ratios of values near zero mean nothing.
 */
export function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assertEquals(a.length, b.length);
  let err = 0, scale = 0;
  for (let i = 0; i < a.length; i++) {
    err = Math.max(err, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return err / Math.max(scale, 1e-30);
}

/** Asserts {@link relErr} <= `tol`, naming `what`. */
export function assertNear(a: ArrayLike<number>, b: ArrayLike<number>, what: string, tol = 1e-4) {
  const e = relErr(a, b);
  assert(e <= tol, `${what}: relative error ${e.toExponential(2)} > ${tol}`);
}

/** A random start state (normal, sd 0.5) for a config. */
export function randomState(fields: TinyConfigFields, seed: number): State {
  const c = tinyMambaConfig(fields);
  const rng = new Rng(seed);
  const { numHiddenLayers: nl, intermediateSize: dIn, convKernel: k, stateSize: n } = c;
  return new State(stateShape(c), {
    conv: Float32Array.from({ length: nl * dIn * k }, () => rng.normal(0, 0.5)),
    ssm: Float32Array.from({ length: nl * dIn * n }, () => rng.normal(0, 0.5)),
    deltaSum: new Float32Array(nl * dIn),
  });
}

/** Random checkpoints every engine must run exactly: name, config fields, file options. */
export const CONFIGS: [
  string,
  TinyConfigFields,
  { dtype?: "F32" | "F16" | "BF16"; shard?: number },
][] = [
  ["1 layer, K 2, n 3, no conv bias", {
    numHiddenLayers: 1,
    convKernel: 2,
    stateSize: 3,
    useConvBias: false,
  }, {}],
  ["odd sizes, rank 3 (not d/16), vocab 61, K 3", {
    hiddenSize: 13,
    intermediateSize: 27,
    timeStepRank: 3,
    vocabSize: 61,
    convKernel: 3,
  }, {}],
  ["4 layers, n 16, biases, untied, F16 shards", {
    numHiddenLayers: 4,
    stateSize: 16,
    useBias: true,
    tieWordEmbeddings: false,
  }, { dtype: "F16", shard: 8000 }],
  ["3 layers, n 7, K 4, BF16, vocab 50280", {
    numHiddenLayers: 3,
    stateSize: 7,
    hiddenSize: 8,
    intermediateSize: 20,
    vocabSize: 50280,
  }, { dtype: "BF16" }],
];

/**
 * Writes the checkpoint of one of {@link CONFIGS} into `dir` (seed 17) and draws the 11 token
 * ids every engine test reads (seed 3).
 */
export async function writeCase(
  dir: string,
  [, fields, opts]: (typeof CONFIGS)[number],
): Promise<{ config: MambaConfig; ids: number[] }> {
  const config = tinyMambaConfig(fields);
  await writeRandomCheckpoint(dir, config, {
    seed: 17,
    dtype: opts.dtype,
    maxShardBytes: opts.shard,
  });
  const rng = new Rng(3);
  return { config, ids: Array.from({ length: 11 }, () => rng.int(config.vocabSize)) };
}

/** {@link assertNear} for the logits and the conv, SSM and delta-sum states of two runs. */
export function assertRunNear(
  got: { logits: Float32Array; state: State },
  want: { logits: Float32Array; state: State },
  tag: string,
  tol = 1e-4,
): void {
  assertNear(got.logits, want.logits, `logits ${tag}`, tol);
  assertNear(got.state.conv, want.state.conv, `conv ${tag}`, tol);
  assertNear(got.state.ssm, want.state.ssm, `ssm ${tag}`, tol);
  assertNear(got.state.deltaSum, want.state.deltaSum, `decay ${tag}`, tol);
}
