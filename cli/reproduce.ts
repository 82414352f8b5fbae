/**
 * `deno task reproduce [all|clustering|retrieval|mixing|adecay|arithmetic] [--model M] [--quick]`
 *
 * The figures are not built yet (issue #5). Until then this command checks, end to end on
 * this machine, the foundation they will stand on: a tiny checkpoint with the real vocabulary,
 * Mamba's tokenizer from the mirror, a Todd et al. prompt, state extraction and resumption.
 *
 * @module
 */

import { tinyMambaConfig, writeRandomCheckpoint } from "../lib/model/mod.ts";
import { openEngine } from "../lib/engine/mod.ts";
import { resolveTokenizerFile } from "../lib/hub/mod.ts";
import { loadTokenizer } from "../lib/tokenizer/mod.ts";

const FIGURES = ["clustering", "retrieval", "mixing", "adecay", "arithmetic"];
const which = Deno.args.find((a) => !a.startsWith("--")) ?? "all";
if (which !== "all" && !FIGURES.includes(which)) {
  console.error(`Unknown figure "${which}": choose all or one of ${FIGURES.join(", ")}`);
  Deno.exit(2);
}
console.log(
  `Figures (${which}): not implemented yet (issue #5); nothing is written to results/.\n` +
    `Checking the foundation instead.`,
);

const dir = await Deno.makeTempDir({ prefix: "soup-reproduce-" });
try {
  const config = tinyMambaConfig({ vocabSize: 50280, numHiddenLayers: 2 });
  await writeRandomCheckpoint(dir, config, { seed: 0 });
  const tok = await loadTokenizer(await resolveTokenizerFile());
  const prompt = "<|endoftext|>Q: hot\nA: cold\n\nQ: big\nA:";
  const ids = tok.encode(prompt);
  console.log(`tokenizer ${tok.path}: ${JSON.stringify(prompt)} -> ${ids.length} tokens`);
  const engine = await openEngine(dir, { device: "reference" });
  const whole = await engine.run(ids);
  const half = Math.floor(ids.length / 2);
  const first = await engine.run(ids.slice(0, half));
  const rest = await engine.run(ids.slice(half), { state: first.state });
  let maxRel = 0;
  for (let i = 0; i < whole.logits.length; i++) {
    const d = Math.abs(whole.logits[i] - rest.logits[i]) /
      Math.max(Math.abs(whole.logits[i]), 1e-6);
    maxRel = Math.max(maxRel, d);
  }
  console.log(
    `random ${config.numHiddenLayers}-layer model: resuming from a saved state matches one pass ` +
      `(largest relative logit difference ${maxRel.toExponential(2)})`,
  );
  if (maxRel > 1e-4) Deno.exit(1);
} finally {
  await Deno.remove(dir, { recursive: true });
}
