/**
 * Tidy result tables as CSV (through d3-dsv): one row per observation, columns named for what
 * a plot maps them to. Written atomically.
 *
 * @module
 */

// @ts-types="npm:@types/d3-dsv@3.0.7"
import { csvFormat, csvParse } from "npm:d3-dsv@3.0.2";
import { atomicWrite } from "../util/atomic_write.ts";
import { FormatError, NotFoundError } from "../util/errors.ts";
import { checkFileOutput, sweepLeftovers } from "../util/output.ts";

/** A row of a result table. */
export type Row = Record<string, string | number | boolean | null>;

/**
 * The CSV text of `rows`, columns in the order of `columns` (default: keys of the first row,
 * then any new keys in order of appearance). Numbers are written in full precision.
 *
 * @example
 * ```ts
 * import { formatCsv } from "./csv.ts";
 * const text = formatCsv([{ k: 1, acc: 0.5 }, { k: 2, acc: 0.75 }]);
 * if (text !== "k,acc\n1,0.5\n2,0.75\n") throw new Error(JSON.stringify(text));
 * ```
 */
export function formatCsv(rows: readonly Row[], columns?: readonly string[]): string {
  const cols = columns ?? [...new Set(rows.flatMap((r) => Object.keys(r)))];
  return csvFormat(rows.map((r) => ({ ...r })) as never[], cols as never[]) + "\n";
}

/**
 * Writes rows as CSV atomically (temporary file, then rename).
 *
 * @example
 * ```ts
 * import { readCsv, writeCsv } from "./csv.ts";
 * const path = `${await Deno.makeTempDir()}/out.csv`;
 * await writeCsv(path, [{ task: "antonym", accuracy: 0.5 }]);
 * if ((await readCsv(path))[0].accuracy !== 0.5) throw new Error();
 * ```
 */
export async function writeCsv(
  path: string,
  rows: readonly Row[],
  columns?: readonly string[],
): Promise<void> {
  await atomicWrite(path, new TextEncoder().encode(formatCsv(rows, columns)));
}

/**
 * Checks up front, before any work, that `path` may receive a CSV of `columns` (what a killed
 * write left is swept; an existing file is replaced only with `force` and only when its first
 * line is this header: anything else there is refused, naming `flag`), and returns the writer
 * that makes the parent folder and writes the rows atomically once they exist.
 *
 * @example
 * ```ts
 * import { openCsvOutput, readCsv } from "./csv.ts";
 * const path = `${await Deno.makeTempDir()}/sub/out.csv`;
 * const write = await openCsvOutput(path, ["task", "accuracy"]);
 * await write([{ task: "antonym", accuracy: 0.5 }]);
 * if ((await readCsv(path))[0].accuracy !== 0.5) throw new Error();
 * ```
 */
export async function openCsvOutput(
  path: string,
  columns: readonly string[],
  options: { force?: boolean; flag?: string } = {},
): Promise<(rows: readonly Row[]) => Promise<void>> {
  await sweepLeftovers(path);
  await checkFileOutput(path, {
    force: options.force,
    flag: options.flag,
    firstLine: columns.join(),
  });
  return async (rows) => {
    const parent = path.includes("/") ? path.slice(0, path.lastIndexOf("/")) : "";
    if (parent !== "") await Deno.mkdir(parent, { recursive: true });
    await writeCsv(path, rows, columns);
  };
}

/**
 * Reads a CSV file; cells that look like numbers become numbers.
 *
 * @example
 * ```ts
 * import { readCsv, writeCsv } from "./csv.ts";
 * const path = `${await Deno.makeTempDir()}/r.csv`;
 * await writeCsv(path, [{ task: "antonym", acc: 0.25 }]);
 * const [row] = await readCsv(path);
 * if (row.task !== "antonym" || row.acc !== 0.25) throw new Error(JSON.stringify(row));
 * ```
 */
export async function readCsv(path: string): Promise<Row[]> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new NotFoundError(`Cannot read "${path}": no such file`, { file: path });
    }
    throw FormatError.at(path, String(err), err);
  }
  return csvParse(text).map((r) => {
    const out: Row = {};
    for (const [k, v] of Object.entries(r)) {
      out[k] = v !== undefined && v !== "" && !Number.isNaN(Number(v)) ? Number(v) : v ?? null;
    }
    return out;
  });
}
