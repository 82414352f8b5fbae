/**
 * The results folder `results/<figure>/`: what this tool wrote there, checked before a run and
 * replaced only when it is its own.
 *
 * @module
 */

import { SoupError } from "../util/errors.ts";
import { checkWritable, inspectOwnFolder, swapFolder } from "../util/output.ts";

/** Files a results folder this tool wrote may hold. */
const RESULT_FILE = /^[\w.-]+\.(csv|svg|png|json)$/;

/** What is at `dir`: nothing, a results folder this tool wrote, or something else. */
export async function inspectResults(
  dir: string,
): Promise<{ kind: "missing" | "results" | "other"; what?: string }> {
  const found = await inspectOwnFolder(dir, {
    allowed: (name) => RESULT_FILE.test(name),
    // Exactly the files the run listed in meta.json (folders written before the list was kept:
    // any result-like file).
    isOurs: (meta, names) =>
      typeof meta.figure === "string" &&
      (!Array.isArray(meta.files) ||
        names.every((n) => n === "meta.json" || (meta.files as unknown[]).includes(n))),
    emptyIsOurs: true, // an empty folder loses nothing
  });
  return found.kind === "ours" ? { kind: "results" } : found as { kind: "missing" | "other" };
}

export async function isResultsFolder(path: string): Promise<boolean> {
  return (await inspectResults(path)).kind === "results";
}

/**
 * Checks, before any work, that `results/<figure>/` may be written at `dir`: nothing is there,
 * or a results folder this tool wrote and `replace` is set; and the location is writable. A
 * file or a folder holding anything else is refused, with or without `replace`.
 */
export async function checkResultsOutput(
  dir: string,
  options: { replace?: boolean } = {},
): Promise<void> {
  const found = await inspectResults(dir);
  if (found.kind === "other") {
    throw new SoupError(
      `Refusing to write results to "${dir}": it is ${found.what}, not a results folder this ` +
        `tool wrote (choose another --results folder)`,
      { file: dir },
    );
  }
  if (found.kind === "results" && !options.replace && [...Deno.readDirSync(dir)].length > 0) {
    throw new SoupError(
      `"${dir}" holds results of an earlier run: pass --force to replace them, or choose ` +
        `another --results folder`,
      { file: dir },
    );
  }
  await checkWritable(dir);
}

/** Puts the folder `tmp` at `dir`, replacing a results folder there (and nothing else). */
export async function replaceFolder(tmp: string, dir: string, replace: boolean): Promise<void> {
  await checkResultsOutput(dir, { replace });
  await swapFolder(tmp, dir, isResultsFolder);
}
