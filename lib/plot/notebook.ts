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
