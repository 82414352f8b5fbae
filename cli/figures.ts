/**
 * `deno task figures [DIR]`: redraws every figure of a results folder (`results/` by default)
 * from its CSVs and `meta.json`, without a model: the SVG and PNG files `reproduce` wrote are
 * written again from the tables alone, byte-identical when the plotting code is unchanged, so a
 * change to a plot (colours, labels, layout) is seen in seconds. Only folders that `reproduce`
 * wrote (their `meta.json` names one of the figures and lists the files) are touched, and only
 * the figure files that `meta.json` lists.
 *
 * @module
 */
import { REDRAW, type ResultsMeta } from "../lib/plot/redraw.ts";
import { svgToPng } from "../lib/plot/svg_to_png.ts";
import { atomicWrite } from "../lib/util/atomic_write.ts";
import { SoupError } from "../lib/util/errors.ts";

/** Redraws the figures of every results folder under `root`; returns the files written. */
export async function redrawFigures(root: string): Promise<string[]> {
  const written: string[] = [];
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(root)].sort((a, b) => a.name < b.name ? -1 : 1);
  } catch (err) {
    throw new SoupError(`Cannot read the results folder "${root}": ${(err as Error).message}`);
  }
  for (const e of entries) {
    const dir = `${root}/${e.name}`;
    if (!e.isDirectory || !(e.name in REDRAW)) continue;
    let meta: ResultsMeta;
    try {
      meta = JSON.parse(await Deno.readTextFile(`${dir}/meta.json`));
    } catch {
      continue; // not a folder reproduce wrote
    }
    if (meta.figure !== e.name || !Array.isArray(meta.files)) continue;
    const figures = await REDRAW[e.name](dir, meta);
    for (const [name, svg] of Object.entries(figures)) {
      for (
        const [file, bytes] of [
          [`${name}.svg`, new TextEncoder().encode(svg)],
          [`${name}.png`, await svgToPng(svg)],
        ] as const
      ) {
        if (!meta.files.includes(file)) continue; // only the files reproduce wrote here
        await atomicWrite(`${dir}/${file}`, bytes);
        written.push(`${dir}/${file}`);
      }
    }
  }
  return written;
}

if (import.meta.main) {
  const root = Deno.args[0] ?? new URL("../results", import.meta.url).pathname;
  try {
    const written = await redrawFigures(root.replace(/\/$/, ""));
    if (written.length === 0) console.error(`figures: no results folder under ${root} to redraw`);
    for (const f of written) console.log(f);
  } catch (err) {
    if (!(err instanceof SoupError)) throw err;
    console.error(`figures: ${err.message}`);
    Deno.exit(1);
  }
}
