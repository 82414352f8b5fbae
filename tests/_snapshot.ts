/**
 * Figure snapshot tests, after Observable Plot's `test/plot-snapshot.js`: a figure rendered
 * from a small fixture is compared with `testdata/figures/<name>.svg`, every number rounded to
 * three decimals on both sides (so floating-point noise in the last digits does not matter).
 *
 * - On a mismatch, or when the snapshot does not exist, the SVG is written to
 *   `testdata/figures/<name>-changed.svg` beside it and the test fails, naming the first
 *   element that differs. Look at both files; if the change is right, accept it by rerunning with
 *   `SOUP_UPDATE_SNAPSHOTS=1` (or by renaming the `-changed` file).
 * - With `SOUP_UPDATE_SNAPSHOTS=1` the snapshot is written (when it changed) and the test passes.
 * - A match removes a stale `-changed.svg`.
 *
 * @module
 */
import { AssertionError } from "./_assert.ts";

/** Where snapshots live. */
export const SNAPSHOT_DIR = new URL("../testdata/figures", import.meta.url).pathname;

/** Options of {@link assertSvgSnapshot}. */
export interface SnapshotOptions {
  /** Folder of the snapshots. @default `testdata/figures` */
  dir?: string;
  /** Write the snapshot instead of comparing. @default `SOUP_UPDATE_SNAPSHOTS === "1"` */
  update?: boolean;
}

/**
 * Rounds every decimal number in `svg` to three decimals (`12.34567` -> `12.346`,
 * `0.0001` -> `0`, `2.5e-7` -> `0`); integers, signs and names stay as they are.
 *
 * @example
 * ```ts
 * import { normalizeSvg } from "./_snapshot.ts";
 * const svg = '<path d="M1.23456,-0.00001L10,2e3" class="plot-d6a7b5"/>';
 * if (normalizeSvg(svg) !== '<path d="M1.235,-0L10,2e3" class="plot-d6a7b5"/>') throw new Error();
 * ```
 */
export function normalizeSvg(svg: string): string {
  return svg.trim().replace(/\d*\.\d+(?:e[+-]?\d+)?/gi, (d) => String(+(+d).toFixed(3)));
}

/**
 * Compares `svg` with the snapshot `<dir>/<name>.svg` after {@link normalizeSvg}; see the
 * module doc for what happens on a mismatch and with `SOUP_UPDATE_SNAPSHOTS=1`.
 */
export async function assertSvgSnapshot(
  svg: string,
  name: string,
  options: SnapshotOptions = {},
): Promise<void> {
  if (!/^[A-Za-z0-9_.-]+$/.test(name) || name.endsWith("-changed")) {
    throw new Error(`Snapshot name "${name}" must be letters, digits, "_", "." or "-"`);
  }
  const dir = options.dir ?? SNAPSHOT_DIR;
  const update = options.update ?? Deno.env.get("SOUP_UPDATE_SNAPSHOTS") === "1";
  const path = `${dir}/${name}.svg`;
  const changedPath = `${dir}/${name}-changed.svg`;
  const text = svg.endsWith("\n") ? svg : `${svg}\n`;
  let expected: string | undefined;
  try {
    expected = await Deno.readTextFile(path);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  const same = expected !== undefined && normalizeSvg(expected) === normalizeSvg(svg);
  if (same || update) {
    if (!same) {
      await Deno.mkdir(dir, { recursive: true });
      await Deno.writeTextFile(path, text);
    }
    await Deno.remove(changedPath).catch(() => {});
    return;
  }
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(changedPath, text);
  const how = "rerun with SOUP_UPDATE_SNAPSHOTS=1 to accept it";
  if (expected === undefined) {
    throw new AssertionError(
      `Snapshot "${path}" does not exist: wrote the figure to "${changedPath}"; ${how}`,
    );
  }
  throw new AssertionError(
    `Figure differs from snapshot "${path}" (numbers rounded to 3 decimals): ` +
      `${firstDifference(normalizeSvg(expected), normalizeSvg(svg))}\n` +
      `Wrote the new figure to "${changedPath}"; compare the two and, if the change is right, ${how}`,
  );
}

/** The first element that differs, as `element N: expected ... got ...`. */
function firstDifference(expected: string, actual: string): string {
  const split = (s: string) => s.split(/(?<=>)(?=<)/);
  const e = split(expected), a = split(actual);
  let i = 0;
  while (i < e.length && i < a.length && e[i] === a[i]) i++;
  const clip = (s: string | undefined) =>
    s === undefined ? "(nothing)" : s.length > 300 ? `${s.slice(0, 300)}...` : s;
  return `element ${i + 1} of ${e.length}: expected\n  ${clip(e[i])}\ngot\n  ${clip(a[i])}`;
}
