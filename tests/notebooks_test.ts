/**
 * Executes every `notebooks/*.ipynb` headless with the Deno Jupyter kernel, through Python's
 * nbclient (Debian: `apt-get install python3-nbclient python3-nbformat`, then
 * `deno jupyter --install` from a deno binary that stays; `.ci/run` does both). A cell error
 * fails the test with the cell's source and traceback.
 *
 * The kernel gets `SOUP_NOTEBOOK_MODEL` (a tiny random checkpoint with the real 50280-token
 * vocabulary, so each notebook runs in seconds), `SOUP_RESULTS` and `SOUP_CACHE` (temporary
 * folders) and inherits `SOUP_MIRROR`. The notebooks themselves are not modified.
 *
 * Only `SOUP_SKIP_NOTEBOOKS=1` skips these tests; without nbclient or the kernel they fail.
 *
 * @module
 */
import { tinyMambaConfig, writeRandomCheckpoint } from "../lib/model/mod.ts";
import { FIGURE_OF, notebookPython, NOTEBOOKS, RUNNER } from "./_notebooks.ts";

const skip = Deno.env.get("SOUP_SKIP_NOTEBOOKS") === "1";

const notebooks = [...Deno.readDirSync(NOTEBOOKS)]
  .filter((e) => e.isFile && e.name.endsWith(".ipynb"))
  .map((e) => e.name)
  .sort();

if (skip) {
  console.log(
    `notebooks_test.ts: SOUP_SKIP_NOTEBOOKS=1, skipping ${notebooks.length} notebook(s): ${
      notebooks.join(", ")
    }`,
  );
}

Deno.test({
  name: "notebooks/ holds at least one notebook",
  ignore: skip,
  fn() {
    if (notebooks.length === 0) throw new Error(`No .ipynb file in "${NOTEBOOKS}"`);
  },
});

for (const name of notebooks) {
  // Deno 2.9.6's `deno fmt` formats each cell with a final newline but writes it back without
  // one, so a cell whose last line lacks "\n" fails `deno fmt --check` in CI (a fresh clone)
  // while passing locally, where the incremental format cache hides it.
  Deno.test(`notebooks/${name}: every cell's source ends with a newline`, async () => {
    const nb = JSON.parse(await Deno.readTextFile(`${NOTEBOOKS}/${name}`));
    const bad = (nb.cells as { source: string | string[] }[])
      .map((c, i) => [i + 1, [c.source].flat().join("")] as const)
      .filter(([, s]) => s !== "" && !s.endsWith("\n"))
      .map(([i]) => i);
    if (bad.length > 0) {
      throw new Error(
        `notebooks/${name}: cell(s) ${bad.join(", ")} do not end with "\\n"; ` +
          `add one, or deno fmt --check fails on a clean machine`,
      );
    }
  });

  Deno.test({
    name: `notebooks/${name} runs headless without a cell error`,
    ignore: skip,
    async fn() {
      const { python } = await notebookPython();
      const tmp = await Deno.makeTempDir({ prefix: "soup-notebook-" });
      try {
        const model = `${tmp}/model`;
        await writeRandomCheckpoint(
          model,
          tinyMambaConfig({ vocabSize: 50280, numHiddenLayers: 2 }),
        );
        await Deno.mkdir(`${tmp}/results`);
        await Deno.mkdir(`${tmp}/cache`);
        const env: Record<string, string> = {
          SOUP_NOTEBOOK_MODEL: model,
          SOUP_RESULTS: `${tmp}/results`,
          SOUP_CACHE: `${tmp}/cache`,
          NO_COLOR: "1",
        };
        const executed = `${tmp}/${name}`;
        const out = await new Deno.Command(python, {
          args: ["-c", RUNNER, `${NOTEBOOKS}/${name}`, NOTEBOOKS, executed],
          env,
          stdin: "null",
        }).output();
        const dec = new TextDecoder();
        if (!out.success) {
          throw new Error(
            `notebooks/${name} failed (exit code ${out.code}):\n${dec.decode(out.stderr).trim()}`,
          );
        }
        const facts = JSON.parse(dec.decode(out.stdout).trim().split("\n").at(-1) ?? "{}");
        console.log(
          `notebooks/${name}: ${facts.cells} code cells ran in ${facts.seconds} s, ` +
            `${facts.cellsWithValue} showed a value`,
        );
        const figure = FIGURE_OF[name];
        if (figure !== undefined) {
          // The command line, from the same inputs, writes byte-identical result files.
          const cli = await new Deno.Command(Deno.execPath(), {
            args: [
              "run",
              "--allow-all",
              new URL("../cli/reproduce.ts", import.meta.url).pathname,
              figure,
              "--quick",
              "--model",
              model,
              "--results",
              `${tmp}/cli`,
            ],
            env: { ...env, SOUP_CACHE: `${tmp}/cli-cache` },
            stdin: "null",
          }).output();
          if (!cli.success) {
            throw new Error(`reproduce ${figure} failed:\n${dec.decode(cli.stderr).trim()}`);
          }
          const files = [...Deno.readDirSync(`${tmp}/cli/${figure}`)]
            .map((e) => e.name)
            .filter((f) => /\.(csv|json|svg)$/.test(f) && f !== "timing.json")
            .sort();
          const fromNotebook = [...Deno.readDirSync(`${tmp}/results/${figure}`)]
            .map((e) => e.name)
            .filter((f) => files.includes(f))
            .sort();
          if (files.length === 0 || fromNotebook.join() !== files.join()) {
            throw new Error(`${name} wrote [${fromNotebook}] but the command line [${files}]`);
          }
          for (const f of files) {
            const a = await Deno.readFile(`${tmp}/results/${figure}/${f}`);
            const b = await Deno.readFile(`${tmp}/cli/${figure}/${f}`);
            if (a.length !== b.length || a.some((x, i) => x !== b[i])) {
              throw new Error(`${name} and "reproduce ${figure}" wrote different ${f}`);
            }
          }
        }
      } finally {
        await Deno.remove(tmp, { recursive: true });
      }
    },
  });
}

Deno.test("the committed notebooks carry their outputs, so they render without running", async () => {
  for (const name of notebooks) {
    const nb = JSON.parse(await Deno.readTextFile(`${NOTEBOOKS}/${name}`));
    const code = (nb.cells as {
      cell_type: string;
      execution_count: number | null;
      outputs: { output_type: string; data?: Record<string, unknown> }[];
    }[])
      .filter((c) => c.cell_type === "code");
    const counts = code.map((c) => c.execution_count);
    if (counts.some((n, i) => n !== i + 1)) {
      throw new Error(
        `notebooks/${name}: not executed top to bottom in one run (counts ${counts})`,
      );
    }
    const outputs = code.flatMap((c) => c.outputs);
    const errors = outputs.filter((o) => o.output_type === "error");
    if (errors.length > 0) throw new Error(`notebooks/${name}: a saved output is an error`);
    const images = outputs.filter((o) => o.data?.["image/png"] !== undefined).length;
    if (FIGURE_OF[name] !== undefined && images === 0) {
      throw new Error(`notebooks/${name}: no figure saved (run tools/notebooks/execute.ts)`);
    }
    const values = code.filter((c) => c.outputs.length > 0).length;
    if (values < code.length / 2) {
      throw new Error(`notebooks/${name}: only ${values} of ${code.length} code cells show output`);
    }
  }
});
