import { assertEquals, assertRejects, assertThrows } from "../../tests/_assert.ts";
import { configHash, parseMambaConfig, readMambaConfig, toHfConfigJson } from "./config.ts";
import { ConfigError, FormatError, NotFoundError } from "../util/errors.ts";

const TESTDATA = new URL("../../testdata/configs/", import.meta.url).pathname;

Deno.test("readMambaConfig() reads the published mamba-2.8b-hf config", async () => {
  const c = await readMambaConfig(`${TESTDATA}mamba-2.8b-hf.json`);
  assertEquals(
    [c.hiddenSize, c.intermediateSize, c.stateSize, c.convKernel, c.timeStepRank],
    [2560, 5120, 16, 4, 160],
  );
  assertEquals([c.numHiddenLayers, c.vocabSize, c.layerNormEpsilon], [64, 50280, 1e-5]);
  assertEquals([c.useConvBias, c.useBias, c.tieWordEmbeddings], [true, false, true]);
});

Deno.test("readMambaConfig() reads mamba-130m-hf with its legacy keys", async () => {
  const c = await readMambaConfig(`${TESTDATA}mamba-130m-hf.json`);
  assertEquals([c.hiddenSize, c.intermediateSize, c.numHiddenLayers, c.timeStepRank], [
    768,
    1536,
    24,
    48,
  ]);
});

Deno.test("parseMambaConfig() resolves time_step_rank auto to ceil(d / 16)", () => {
  const base = { model_type: "mamba", num_hidden_layers: 1, vocab_size: 10 };
  assertEquals(
    parseMambaConfig({ ...base, hidden_size: 2560, time_step_rank: "auto" }).timeStepRank,
    160,
  );
  assertEquals(parseMambaConfig({ ...base, hidden_size: 33 }).timeStepRank, 3);
  assertEquals(parseMambaConfig({ ...base, hidden_size: 33 }).intermediateSize, 66);
});

Deno.test("parseMambaConfig() names the field that is wrong", () => {
  const ok = { model_type: "mamba", hidden_size: 8, num_hidden_layers: 1, vocab_size: 10 };
  const cases: [Record<string, unknown>, string][] = [
    [{ ...ok, model_type: "mamba2" }, "model_type"],
    [{ ...ok, hidden_size: 8.5 }, "hidden_size"],
    [{ ...ok, hidden_size: undefined }, "d_model"],
    [{ ...ok, vocab_size: 0 }, "vocab_size"],
    [{ ...ok, time_step_rank: "big" }, "time_step_rank"],
    [{ ...ok, hidden_act: "gelu" }, "hidden_act"],
    [{ ...ok, d_model: 9 }, "d_model"],
    [{ ...ok, n_layer: 2 }, "n_layer"],
    [{ ...ok, d_inner: 17 }, "d_inner"],
    [{ ...ok, use_bias: "no" }, "use_bias"],
    [{ ...ok, layer_norm_epsilon: -1 }, "layer_norm_epsilon"],
    [{ ...ok, rms_norm: false }, "rms_norm"],
    [{ ...ok, ssm_cfg: { d_state: 8 } }, "ssm_cfg"],
    [{ ...ok, mystery_flag: 1 }, "mystery_flag"],
  ];
  for (const [json, field] of cases) {
    const err = assertThrows(() => parseMambaConfig(json, { file: "m/config.json" }), ConfigError);
    assertEquals((err as ConfigError).field, field, (err as Error).message);
    assertEquals((err as Error).message.includes(`"m/config.json"`), true);
    assertEquals((err as Error).message.includes(`"${field}"`), true);
  }
  assertThrows(() => parseMambaConfig([1, 2]), ConfigError, "expected a JSON object");
});

Deno.test("readMambaConfig() reports a missing file and malformed JSON", async () => {
  const dir = await Deno.makeTempDir();
  await assertRejects(() => readMambaConfig(dir), NotFoundError, `${dir}/config.json`);
  await Deno.writeTextFile(`${dir}/config.json`, "{ not json");
  await assertRejects(() => readMambaConfig(dir), FormatError, "malformed JSON");
});

Deno.test("toHfConfigJson() round-trips through parseMambaConfig()", async () => {
  const c = parseMambaConfig({
    model_type: "mamba",
    hidden_size: 24,
    intermediate_size: 40,
    state_size: 8,
    conv_kernel: 3,
    time_step_rank: 5,
    num_hidden_layers: 3,
    vocab_size: 101,
    use_conv_bias: false,
    use_bias: true,
    tie_word_embeddings: false,
  });
  const back = parseMambaConfig(toHfConfigJson(c));
  assertEquals(back, c);
  assertEquals(await configHash(back), await configHash(c));
  const other = parseMambaConfig({ ...toHfConfigJson(c), state_size: 16 });
  assertEquals((await configHash(other)) === (await configHash(c)), false);
});
