/**
 * Running the notebooks headless: the nbclient runner (Python) and the Python that has it, for
 * tests/notebooks_test.ts and tools/notebooks/execute.ts.
 *
 * @module
 */
import { FIGURE_REGISTRY } from "../lib/experiments/figures.ts";
import { numpyPython } from "./_python.ts";

const ROOT = new URL("../", import.meta.url).pathname.replace(/\/$/, "");
/** The notebooks folder. */
export const NOTEBOOKS: string = `${ROOT}/notebooks`;

/** Runs one notebook; prints one JSON line of per-cell facts; exits 1 with a report on error. */
export const RUNNER: string = String.raw`
import json, queue, re, sys, time
import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionComplete, CellExecutionError
try:
    from nbclient.util import ensure_async
except ImportError:
    from jupyter_core.utils import ensure_async


class DenoNotebookClient(NotebookClient):
    """Deno 2.9.6's kernel sometimes publishes a cell's execute_result after its status "idle",
    where nbclient stops listening, and the cell's value goes missing: read the cell's messages
    for a moment more after "idle"."""

    async def _async_poll_output_msg(self, parent_msg_id, cell, cell_index):
        idle = False
        while True:
            try:
                msg = await ensure_async(
                    self.kc.iopub_channel.get_msg(timeout=0.1 if idle else None))
            except queue.Empty:
                return
            if msg["parent_header"].get("msg_id") == parent_msg_id:
                try:
                    self.process_message(msg, cell, cell_index)
                except CellExecutionComplete:
                    idle = True


path, workdir, out = sys.argv[1], sys.argv[2], sys.argv[3]
nb = nbformat.read(path, as_version=4)
client = DenoNotebookClient(nb, kernel_name="deno", resources={"metadata": {"path": workdir}},
                            timeout=600, startup_timeout=120)
ansi = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
started = time.time()
try:
    client.execute()
    failed = None
except CellExecutionError as err:
    failed = err
finally:
    nbformat.write(nb, out)
cells = [c for c in nb.cells if c.cell_type == "code"]
for i, cell in enumerate(cells):
    errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
    if errors:
        e = errors[0]
        tb = ansi.sub("", "\n".join(e.get("traceback", [])) or f"{e.get('ename')}: {e.get('evalue')}")
        sys.stderr.write(f"code cell {i + 1} of {len(cells)} failed:\n{cell.source}\n"
                         f"---- traceback ----\n{tb}\n")
        sys.exit(1)
if failed is not None:
    sys.stderr.write(ansi.sub("", str(failed)) + "\n")
    sys.exit(1)
shown = sum(1 for c in cells if any(o.get("output_type") == "execute_result" for o in c.get("outputs", [])))
print(json.dumps({"cells": len(cells), "cellsWithValue": shown, "seconds": round(time.time() - started, 1)}))
`;

const PROBE = String.raw`
import json, os, sys
import nbclient, nbformat
from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel
try:
    spec = KernelSpecManager().get_kernel_spec("deno")
except NoSuchKernel:
    print(json.dumps({"problem": "no Jupyter kernel named \"deno\": run \"deno jupyter --install\" with a deno binary that stays"}))
    sys.exit(0)
exe = spec.argv[0]
if not os.path.isfile(exe):
    print(json.dumps({"problem": f"the \"deno\" kernel in {spec.resource_dir} runs \"{exe}\", which does not exist: run \"deno jupyter --install\" again from a deno binary that stays"}))
    sys.exit(0)
print(json.dumps({"problem": None, "kernel": spec.resource_dir, "deno": exe}))
`;

let found: Promise<{ python: string; deno: string }> | undefined;

/** A Python that imports nbclient and nbformat and sees the "deno" kernel, or a clear error. */
export function notebookPython(): Promise<{ python: string; deno: string }> {
  found ??= (async () => {
    const candidates = [Deno.env.get("SOUP_PYTHON"), "python3", "/usr/bin/python3"];
    try {
      candidates.splice(1, 0, await numpyPython());
    } catch { /* the NumPy tests report that */ }
    const tried: string[] = [];
    for (const python of [...new Set(candidates.filter((p): p is string => !!p))]) {
      let out: Deno.CommandOutput;
      try {
        out = await new Deno.Command(python, { args: ["-c", PROBE], stdin: "null" }).output();
      } catch (err) {
        tried.push(`${python}: ${err instanceof Deno.errors.NotFound ? "not found" : err}`);
        continue;
      }
      const dec = new TextDecoder();
      if (!out.success) {
        const last = dec.decode(out.stderr).trim().split("\n").at(-1);
        tried.push(`${python}: ${last || `exit code ${out.code}`}`);
        continue;
      }
      const probe = JSON.parse(dec.decode(out.stdout));
      if (probe.problem) {
        throw new Error(`Cannot run the notebooks with ${python}: ${probe.problem}`);
      }
      return { python, deno: probe.deno };
    }
    throw new Error(
      `Cannot run the notebooks: no Python can import nbclient and nbformat (tried ${
        tried.join("; ")
      }). Install Debian's python3-nbclient and python3-nbformat ` +
        `(apt-get install python3-nbclient python3-nbformat) or point SOUP_PYTHON at a Python ` +
        `that has them, then run "deno jupyter --install"; set SOUP_SKIP_NOTEBOOKS=1 to skip`,
    );
  })();
  found.catch(() => {});
  return found;
}

/** The figure each figure notebook reproduces (`deno task reproduce <figure>`). */
export const FIGURE_OF: Record<string, string> = Object.fromEntries(
  FIGURE_REGISTRY.map((f) => [f.notebook, f.id]),
);
