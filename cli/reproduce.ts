/**
 * `deno task reproduce [all|clustering|retrieval|mixing|adecay|arithmetic] [--model M] [--quick]`
 *
 * The figures are not built yet (issue #5). Until then this command checks, end to end on
 * this machine, the foundation they will stand on: a tiny checkpoint with the real vocabulary,
 * Mamba's tokenizer from the mirror, a Todd et al. prompt, the ONNX engine against the
 * reference forward, state extraction and resumption.
 *
 * @module
 */

import { tinyMambaConfig, writeRandomCheckpoint } from "../lib/model/mod.ts";
import { type Device, openEngine } from "../lib/engine/mod.ts";
import { resolveTokenizerFile } from "../lib/hub/mod.ts";
import { loadTokenizer } from "../lib/tokenizer/mod.ts";

const flag = (name: string) => {
  const i = Deno.args.indexOf(name);
  return i >= 0 ? Deno.args[i + 1] : undefined;
};
const FIGURES = ["clustering", "retrieval", "mixing", "adecay", "arithmetic"];
const which =
  Deno.args.find((a, i) => !a.startsWith("--") && !Deno.args[i - 1]?.startsWith("--")) ??
    "all";
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
  const engine = await openEngine(dir, { device: (flag("--device") ?? "auto") as Device });
  const reference = await openEngine(dir, { device: "reference" });
  const relDiff = (a: Float32Array, b: Float32Array) => {
    let err = 0, scale = 0;
    for (let i = 0; i < a.length; i++) {
      err = Math.max(err, Math.abs(a[i] - b[i]));
      scale = Math.max(scale, Math.abs(b[i]));
    }
    return err / scale;
  };
  const whole = await engine.run(ids);
  const ref = await reference.run(ids);
  const half = Math.floor(ids.length / 2);
  const first = await engine.run(ids.slice(0, half));
  const rest = await engine.run(ids.slice(half), { state: first.state });
  const checks: [string, number][] = [
    [`${engine.name} logits vs the float64 reference`, relDiff(whole.logits, ref.logits)],
    [`${engine.name} SSM state vs the float64 reference`, relDiff(whole.state.ssm, ref.state.ssm)],
    ["resuming from a saved state vs one pass (logits)", relDiff(rest.logits, whole.logits)],
  ];
  for (const [what, err] of checks) {
    console.log(`${what}: relative difference ${err.toExponential(2)}`);
  }
  await engine.close();
  if (checks.some(([, err]) => !(err <= 1e-4))) Deno.exit(1);
} finally {
  await Deno.remove(dir, { recursive: true });
}
