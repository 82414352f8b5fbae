/**
 * Executes the notebooks with their default preset (the model organism) and saves the outputs
 * into the committed notebooks, so they render without running (GitHub included: figures are
 * PNG outputs). Prints each notebook's run time, for the notebook headers and the README.
 *
 *   deno run -A tools/notebooks/execute.ts [NAME.ipynb ...]
 *
 * Needs what the notebook tests need (python3-nbclient, python3-nbformat, `deno jupyter
 * --install`) and the data mirror; SOUP_CACHE picks the experiment cache (a fresh one times a
 * cold run). Each notebook is written through a temporary file renamed over it; nbclient's
 * per-cell timestamps are dropped so that a rerun changes only what the outputs change.
 *
 * @module
 */
import { notebookPython, NOTEBOOKS, RUNNER } from "../../tests/_notebooks.ts";

interface Output {
  output_type: string;
  name?: string;
  text?: string | string[];
}

/**
 * One stderr output per cell, its progress lines cut to the first 2 and the last 3 (a run of the
 * mixing figure prints thousands), saying how many were left out.
 */
function shortenProgress(outputs: Output[]): Output[] {
  const text = (o: Output) => [o.text ?? ""].flat().join("");
  const progress = outputs.filter((o) => o.output_type === "stream" && o.name === "stderr");
  if (progress.length === 0) return outputs;
  let lines = progress.map(text).join("").split("\n").filter((l) => l !== "");
  if (lines.length > 6) {
    const left = lines.length - 5;
    lines = [
      ...lines.slice(0, 2),
      `… (${left} progress lines left out of the saved notebook)`,
      ...lines.slice(-3),
    ];
  }
  const merged: Output = {
    output_type: "stream",
    name: "stderr",
    text: lines.map((l) => `${l}\n`),
  };
  const first = outputs.indexOf(progress[0]);
  return outputs.flatMap((o, i) => i === first ? [merged] : progress.includes(o) ? [] : [o]);
}

const names = Deno.args.length > 0 ? Deno.args : [...Deno.readDirSync(NOTEBOOKS)]
  .filter((e) => e.isFile && e.name.endsWith(".ipynb"))
  .map((e) => e.name)
  .sort();
const { python } = await notebookPython();
const env: Record<string, string> = { ...Deno.env.toObject(), NO_COLOR: "1" };
delete env.SOUP_NOTEBOOK_MODEL; // the default preset: the organism
delete env.SOUP_RESULTS;
let failed = 0;
for (const name of names) {
  const path = `${NOTEBOOKS}/${name}`;
  const tmp = `${path}.tmp-${crypto.randomUUID().slice(0, 8)}`;
  const started = performance.now();
  const out = await new Deno.Command(python, {
    args: ["-c", RUNNER, path, NOTEBOOKS, tmp],
    env,
    clearEnv: true,
    stdin: "null",
  }).output();
  const seconds = (performance.now() - started) / 1000;
  const dec = new TextDecoder();
  if (!out.success) {
    await Deno.remove(tmp).catch(() => {});
    console.error(`${name}: failed\n${dec.decode(out.stderr).trim()}`);
    failed++;
    continue;
  }
  const nb = JSON.parse(await Deno.readTextFile(tmp));
  for (const cell of nb.cells) {
    delete cell.metadata?.execution;
    if (cell.outputs) cell.outputs = shortenProgress(cell.outputs);
  }
  await Deno.writeTextFile(tmp, JSON.stringify(nb, null, 1) + "\n");
  await Deno.rename(tmp, path);
  console.log(`${name}: ${seconds.toFixed(1)} s`);
}
Deno.exit(failed === 0 ? 0 : 1);
