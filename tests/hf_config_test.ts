/**
 * Every config.json that transformers writes and loads is read as transformers reads it: 200
 * random MambaConfig keyword sets, saved by `save_pretrained` and loaded by `from_pretrained`
 * in transformers 5.24 (tools/hf/config_fixtures.py, committed as testdata/hf/configs.json),
 * each parsed here to the same hidden, inner and state sizes, conv kernel, time-step rank, layer
 * count, vocabulary, epsilon and flags that transformers' model uses.
 */
import { assert, assertEquals } from "./_assert.ts";
import { parseMambaConfig } from "../lib/model/config.ts";

const FIXTURE = new URL("../testdata/hf/configs.json", import.meta.url);

interface Case {
  kwargs: Record<string, unknown>;
  config_json: string;
  attrs: Record<string, number | boolean>;
}

Deno.test("200 configs transformers 5.24 wrote and loaded are read to transformers' numbers", async () => {
  const fixture = JSON.parse(await Deno.readTextFile(FIXTURE)) as {
    transformers: string;
    cases: Case[];
  };
  assertEquals(fixture.transformers, "5.24.0");
  assertEquals(fixture.cases.length, 200);
  let explicitInner = 0;
  for (const [i, c] of fixture.cases.entries()) {
    const config = parseMambaConfig(JSON.parse(c.config_json), { file: `case ${i}` });
    const a = c.attrs;
    assertEquals({
      hidden: config.hiddenSize,
      inner: config.intermediateSize,
      state: config.stateSize,
      conv: config.convKernel,
      rank: config.timeStepRank,
      layers: config.numHiddenLayers,
      vocab: config.vocabSize,
      eps: config.layerNormEpsilon,
      bias: config.useBias,
      convBias: config.useConvBias,
      tied: config.tieWordEmbeddings,
    }, {
      hidden: a.hidden_size,
      inner: a.intermediate_size,
      state: a.state_size,
      conv: a.conv_kernel,
      rank: a.time_step_rank,
      layers: a.num_hidden_layers,
      vocab: a.vocab_size,
      eps: a.layer_norm_epsilon,
      bias: a.use_bias,
      convBias: a.use_conv_bias,
      tied: a.tie_word_embeddings,
    }, `case ${i}: ${JSON.stringify(c.kwargs)}`);
    const expand = (c.kwargs.expand as number | undefined) ?? 2;
    if (a.intermediate_size !== expand * (a.hidden_size as number)) explicitInner++;
  }
  // The cases include configs whose explicit intermediate_size is not expand * hidden_size.
  assert(explicitInner > 20, `${explicitInner} cases with an explicit inner size`);
});
