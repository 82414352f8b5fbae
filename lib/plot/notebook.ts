/**
 * Helpers for the Jupyter notebooks: show the PNG figures an experiment wrote (PNG, so that the
 * saved notebook renders anywhere, GitHub included), and name files relative to the project.
 *
 * @module
 */

/** Base64 of bytes (the Jupyter display format of images). */
export function toBase64(bytes: Uint8Array): string {
  let text = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(text);
}

interface Jupyter {
  display(data: Record<string, unknown>, options: { raw: boolean }): Promise<void>;
}

/** The Jupyter kernel's display, or undefined outside `deno jupyter` (where Deno.jupyter throws). */
function kernel(): Jupyter | undefined {
  try {
    return (Deno as unknown as { jupyter?: Jupyter }).jupyter;
  } catch {
    return undefined;
  }
}

/**
 * Displays every `.png` among `paths` in the notebook (in order), each under its file name.
 * Outside a Jupyter kernel it does nothing and returns the names it would show.
 *
 * @example
 * ```ts
 * import { showFigures } from "./notebook.ts";
 * // Outside a Jupyter kernel nothing is shown (or read): the names it would show come back.
 * const names = await showFigures(["results/icl/icl.svg", "results/icl/icl.png"]);
 * if (names.join() !== "icl.png") throw new Error(names.join());
 * ```
 */
export async function showFigures(paths: readonly string[]): Promise<string[]> {
  const jupyter = kernel();
  const shown: string[] = [];
  for (const path of paths.filter((p) => p.endsWith(".png"))) {
    const name = path.slice(path.lastIndexOf("/") + 1);
    await jupyter?.display({
      "text/markdown": `**${name}**`,
    }, { raw: true });
    await jupyter?.display({ "image/png": toBase64(await Deno.readFile(path)) }, { raw: true });
    shown.push(name);
  }
  return shown;
}

/**
 * Displays markdown text in the notebook (outside a Jupyter kernel it does nothing) and returns
 * it, so that the saved notebook shows it rendered and a script sees the same text.
 *
 * @example
 * ```ts
 * import { showMarkdown } from "./notebook.ts";
 * if (await showMarkdown("**hi**") !== "**hi**") throw new Error();
 * ```
 */
export async function showMarkdown(text: string): Promise<string> {
  const jupyter = kernel();
  await jupyter?.display({ "text/markdown": text, "text/plain": text }, { raw: true });
  return text;
}

/** Text that a notebook shows as markdown when it is a cell's value, and a script as text. */
export interface MarkdownValue {
  /** The markdown. */
  readonly text: string;
  /** The text (what a script or a template string sees). */
  toString(): string;
}

/**
 * Rows as a markdown table (numbers to `digits` decimals, at most `limit` rows): shown rendered
 * when it is a notebook cell's value (Deno's `Jupyter.display` hook), its `text` elsewhere.
 *
 * @example
 * ```ts
 * import { showTable } from "./notebook.ts";
 * const table = showTable([{ task: "antonym", accuracy: 0.8125 }], { digits: 2 });
 * if (!table.text.includes("| antonym | 0.81 |")) throw new Error(table.text);
 * ```
 */
export function showTable(
  rows: readonly Record<string, unknown>[],
  options: { digits?: number; limit?: number; columns?: readonly string[] } = {},
): MarkdownValue {
  const columns = options.columns ?? Object.keys(rows[0] ?? {});
  const cell = (v: unknown) =>
    typeof v === "number" && !Number.isInteger(v) ? v.toFixed(options.digits ?? 3) : String(v);
  const shown = rows.slice(0, options.limit ?? rows.length);
  const text = [
    `| ${columns.join(" | ")} |`,
    `| ${columns.map(() => "---").join(" | ")} |`,
    ...shown.map((r) => `| ${columns.map((c) => cell(r[c])).join(" | ")} |`),
    ...(shown.length < rows.length ? [`\n(${rows.length - shown.length} more rows)`] : []),
  ].join("\n");
  return {
    text,
    toString: () => text,
    [Symbol.for("Jupyter.display")]: () => ({ "text/markdown": text, "text/plain": text }),
  } as MarkdownValue;
}
