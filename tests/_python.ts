/**
 * Test helper: finds a Python interpreter that can import NumPy, for interoperability tests.
 *
 * Tries, in order, `$SOUP_PYTHON`, `python3` and `/usr/bin/python3`. When none can import
 * NumPy it throws: interop tests must never be skipped silently. On Debian, install NumPy with
 * `apt-get install python3-numpy`.
 *
 * @module
 */

let found: Promise<string> | undefined;

/** Why `python` cannot be used, or undefined when it imports numpy. */
async function problemWith(python: string): Promise<string | undefined> {
  try {
    const out = await new Deno.Command(python, {
      args: ["-c", "import numpy"],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).output();
    if (out.success) return undefined;
    const err = new TextDecoder().decode(out.stderr).trim().split("\n").at(-1) ?? "";
    return `cannot import numpy (${err || `exit code ${out.code}`})`;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return "not found";
    return err instanceof Error ? err.message : String(err);
  }
}

/**
 * Returns the command of a Python that can `import numpy` (memoized), or throws an error
 * listing what was tried and saying to install Debian's python3-numpy.
 *
 * @example
 * ```ts ignore
 * import { numpyPython } from "./_python.ts";
 * const python = await numpyPython();
 * const out = await new Deno.Command(python, { args: ["-c", "import numpy; print(1)"] }).output();
 * if (!out.success) throw new Error("python failed");
 * ```
 */
export function numpyPython(): Promise<string> {
  found ??= (async () => {
    const candidates: [string, string][] = [];
    const env = Deno.env.get("SOUP_PYTHON");
    if (env) candidates.push(["$SOUP_PYTHON", env]);
    candidates.push(["python3", "python3"], ["/usr/bin/python3", "/usr/bin/python3"]);
    const tried: string[] = [];
    for (const [label, python] of candidates) {
      const problem = await problemWith(python);
      if (problem === undefined) return python;
      tried.push(`${label === python ? python : `${label}=${python}`}: ${problem}`);
    }
    throw new Error(
      `No Python with NumPy found for the interoperability tests. Tried ${tried.join("; ")}. ` +
        `Install Debian's python3-numpy (apt-get install python3-numpy) ` +
        `or point SOUP_PYTHON at a Python that has numpy`,
    );
  })();
  found.catch(() => {}); // reported to each caller; avoid an unhandled rejection here
  return found;
}

/**
 * Runs a Python script with NumPy available, passing `args` as `sys.argv[1:]`, and returns
 * its stdout. Throws with the script's stderr when it fails.
 *
 * @example
 * ```ts ignore
 * import { runNumpy } from "./_python.ts";
 * const out = await runNumpy("import numpy as np, sys; print(np.float32(sys.argv[1]) * 2)", ["1.5"]);
 * if (out.trim() !== "3.0") throw new Error(out);
 * ```
 */
export async function runNumpy(script: string, args: string[] = []): Promise<string> {
  const python = await numpyPython();
  const out = await new Deno.Command(python, {
    args: ["-c", script, ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  if (!out.success) {
    throw new Error(`${python} failed (exit code ${out.code}):\n${dec.decode(out.stderr)}`);
  }
  return dec.decode(out.stdout);
}
