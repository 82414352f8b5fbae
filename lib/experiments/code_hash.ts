/**
 * The hash of the library's sources that results record and that keys cached partial results
 * (presentation left out).
 *
 * @module
 */

import { PROJECT_ROOT } from "../hub/sources.ts";
import { sha256Hex } from "../util/sha256.ts";

/**
 * Folders of `lib/` that only present results (rows in, SVG or CSV out, drawn afresh at every
 * run and never cached): left out of the partial results' cache key, so that editing a plot
 * keeps hours of cached evaluations.
 */
export const PRESENTATION_DIRS: readonly string[] = ["lib/plot", "lib/results"];

/**
 * A hash of the library's source files (tests left out), recorded with results; without
 * `exclude`d folders (project-relative, e.g. {@link PRESENTATION_DIRS}) it keys cached partial
 * results.
 */
export async function codeHash(
  exclude: readonly string[] = [],
  root: string = PROJECT_ROOT,
): Promise<string> {
  const files: string[] = [];
  const skip = new Set(exclude.map((d) => `${root}/${d.replace(/\/+$/, "")}`));
  const walk = (dir: string) => {
    for (const e of Deno.readDirSync(dir)) {
      const p = `${dir}/${e.name}`;
      if (skip.has(p)) continue;
      if (e.isDirectory) walk(p);
      else if (e.name.endsWith(".ts") && !e.name.endsWith("_test.ts")) files.push(p);
    }
  };
  walk(`${root}/lib`);
  files.sort();
  const enc = new TextEncoder();
  const parts = files.map((f) => `${f.slice(root.length)}\n${Deno.readTextFileSync(f)}\n`);
  return (await sha256Hex(enc.encode(parts.join("")))).slice(0, 16);
}
