import { assert, assertClose, assertEquals, assertThrows } from "../../tests/_assert.ts";
import { parseMambaConfig } from "./config.ts";
import { randomMambaTensors, tinyMambaConfig } from "./random_checkpoint.ts";
import { referenceForward } from "./reference_forward.ts";
import { weightsFromTensors } from "./weights.ts";
import { SoupError } from "../util/errors.ts";

const f = (...xs: number[]) => new Float32Array(xs);

Deno.test("referenceForward() matches values worked out by hand for a 1-dim model", () => {
  // d = d_in = n = r = 1, K = 2, V = 2, eps 1e-12 so that RMSNorm(x) = sign(x).
  // Weights: embeddings [2, -1]; in_proj [1, 2] (x = xn, z = 2 xn); conv [0.5, 1] no bias;
  // x_proj [0, 1, 1] (dt input 0, B = C = u); dt_proj bias 0 so delta = softplus(0) = ln 2;
  // A_log 0 so A = -1 and exp(delta A) = 1/2; D = 1; out_proj 1; norms 1; tied head.
  const config = parseMambaConfig({
    model_type: "mamba",
    hidden_size: 1,
    intermediate_size: 1,
    state_size: 1,
    conv_kernel: 2,
    time_step_rank: 1,
    num_hidden_layers: 1,
    vocab_size: 2,
    layer_norm_epsilon: 1e-12,
    use_conv_bias: false,
  });
  const w = weightsFromTensors(config, [
    { name: "backbone.embeddings.weight", data: f(2, -1) },
    { name: "backbone.layers.0.norm.weight", data: f(1) },
    { name: "backbone.layers.0.mixer.in_proj.weight", data: f(1, 2) },
    { name: "backbone.layers.0.mixer.conv1d.weight", data: f(0.5, 1) },
    { name: "backbone.layers.0.mixer.x_proj.weight", data: f(0, 1, 1) },
    { name: "backbone.layers.0.mixer.dt_proj.weight", data: f(1) },
    { name: "backbone.layers.0.mixer.dt_proj.bias", data: f(0) },
    { name: "backbone.layers.0.mixer.A_log", data: f(0) },
    { name: "backbone.layers.0.mixer.D", data: f(1) },
    { name: "backbone.layers.0.mixer.out_proj.weight", data: f(1) },
    { name: "backbone.norm_f.weight", data: f(1) },
  ]);
  // Token 0 (e = 2): xn = 1, x = 1, z = 2, conv window [0, 1] -> 1, u0 = silu(1) = 0.7310585786;
  //   s0 = ln2 u0^2 = 0.3704501854; y0 = (u0 s0 + u0) silu(2) = 1.0018..; h0 = 3.7649048337 > 0.
  // Token 1 (e = -1): xn = -1, conv window [1, -1] -> 0.5 - 1 = -0.5, u1 = silu(-0.5) =
  //   -0.1887703344; s1 = s0 / 2 + ln2 u1^2 = 0.2099248651; y1 = (u1 s1 + u1) silu(-2) =
  //   0.0544513992; h1 = -0.9455486008 < 0.
  const out = referenceForward(w, [0, 1]);
  assertClose(out.ssm, [0.2099248651], { rtol: 1e-9 });
  assertClose(out.conv, [1, -1], { rtol: 1e-9 });
  assertClose(out.deltaSum, [2 * Math.LN2], { rtol: 1e-12 });
  // Logits = tied head . RMSNorm(h) = [2, -1] * sign(h): [2, -1] after token 0, [-2, 1] after 1.
  assertClose(out.logits, [2, -1, -2, 1], { rtol: 1e-9 });
  const first = referenceForward(w, [0]);
  assertClose(first.ssm, [0.3704501854], { rtol: 1e-9 });
  assertClose(first.conv, [0, 1], { rtol: 1e-9 }); // left-padded with zeros
});

Deno.test("referenceForward() from x's state continues exactly like one pass over xy", () => {
  for (const fields of [{}, { convKernel: 3, stateSize: 5, numHiddenLayers: 3 }]) {
    const config = tinyMambaConfig(fields);
    const w = weightsFromTensors(config, randomMambaTensors(config, 11));
    const ids = [5, 9, 13, 1, 0, 63, 7, 7, 2];
    const all = referenceForward(w, ids);
    for (const cut of [1, 2, 4, 8]) {
      const a = referenceForward(w, ids.slice(0, cut));
      const b = referenceForward(w, ids.slice(cut), { conv: a.conv, ssm: a.ssm });
      const v = config.vocabSize;
      assertClose(b.logits, all.logits.subarray(cut * v), { rtol: 1e-12, atol: 1e-14 });
      assertClose(b.ssm, all.ssm, { rtol: 1e-12, atol: 1e-15 });
      assertClose(b.conv, all.conv, { rtol: 1e-12, atol: 1e-15 });
      const sum = a.deltaSum.map((x, i) => x + b.deltaSum[i]);
      assertClose(sum, all.deltaSum, { rtol: 1e-12 });
    }
  }
});

Deno.test("referenceForward() makes A-decay mixing exact for one SSM layer without conv", () => {
  // With K = 1 the conv sees only the current token, so x2's deltas, B and inputs do not
  // depend on the state x2 starts from, and the SSM state is affine in that state:
  // state(x1 x2) = state(x2) + exp(A * sum of x2's deltas) * state(x1).
  const config = tinyMambaConfig({ numHiddenLayers: 1, convKernel: 1, stateSize: 6 });
  const w = weightsFromTensors(config, randomMambaTensors(config, 5));
  const x1 = [3, 14, 15, 9, 26], x2 = [5, 35, 8, 9, 7, 9];
  const s1 = referenceForward(w, x1);
  const s2 = referenceForward(w, x2);
  const seq = referenceForward(w, x2, { conv: s1.conv, ssm: s1.ssm });
  const { intermediateSize: dIn, stateSize: n } = config;
  const aLog = w.layers[0].aLog;
  const mixed = new Float64Array(dIn * n);
  for (let c = 0; c < dIn; c++) {
    for (let j = 0; j < n; j++) {
      const decay = Math.exp(-Math.exp(aLog[c * n + j]) * s2.deltaSum[c]);
      mixed[c * n + j] = s2.ssm[c * n + j] + decay * s1.ssm[c * n + j];
    }
  }
  assertClose(mixed, seq.ssm, { rtol: 1e-12, atol: 1e-16 });
  // The decay is a real deltaSum: the first chunk's contribution shrinks but does not vanish.
  const d0 = Math.exp(-Math.exp(aLog[0]) * s2.deltaSum[0]);
  assert(d0 > 0 && d0 < 1, `decay ${d0}`);
  // With K = 4 the same mix is only approximate (the conv carries x1 into x2).
  const c4 = tinyMambaConfig({ numHiddenLayers: 1, convKernel: 4, stateSize: 6 });
  const w4 = weightsFromTensors(c4, randomMambaTensors(c4, 5));
  const t1 = referenceForward(w4, x1), t2 = referenceForward(w4, x2);
  const tseq = referenceForward(w4, x2, { conv: t1.conv, ssm: t1.ssm });
  const approx = t2.ssm.map((x, i) =>
    x + Math.exp(-Math.exp(w4.layers[0].aLog[i]) * t2.deltaSum[Math.floor(i / n)]) * t1.ssm[i]
  );
  const maxErr = Math.max(...approx.map((x, i) => Math.abs(x - tseq.ssm[i])));
  assert(maxErr > 1e-9, `with a conv the mix should not be exact (error ${maxErr})`);
});

Deno.test("referenceForward() returns only the last logits when asked", () => {
  const config = tinyMambaConfig();
  const w = weightsFromTensors(config, randomMambaTensors(config, 2));
  const all = referenceForward(w, [1, 2, 3]);
  const last = referenceForward(w, [1, 2, 3], { allLogits: false });
  assertEquals(last.logits.length, config.vocabSize);
  assertClose(last.logits, all.logits.subarray(2 * config.vocabSize), { rtol: 0 });
});

Deno.test("referenceForward() rejects out-of-range ids and misshapen states", () => {
  const config = tinyMambaConfig();
  const w = weightsFromTensors(config, randomMambaTensors(config, 2));
  assertThrows(() => referenceForward(w, [1, 64]), SoupError, "token 1 is 64, outside 0..63");
  assertThrows(() => referenceForward(w, [1.5]), SoupError, "token 0");
  assertThrows(
    () => referenceForward(w, [1], { conv: new Float32Array(3) }),
    SoupError,
    "conv state",
  );
  assertThrows(
    () => referenceForward(w, [1], { ssm: new Float32Array(3) }),
    SoupError,
    "ssm state",
  );
});
