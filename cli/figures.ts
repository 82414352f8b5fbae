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
import { plotAdecay } from "../lib/plot/adecay.ts";
import { plotClustering } from "../lib/plot/clustering.ts";
import { plotClusteringAppendix } from "../lib/plot/clustering_appendix.ts";
import { plotIclVsK } from "../lib/plot/icl_vs_k.ts";
import { plotMixingVsK } from "../lib/plot/mixing_vs_k.ts";
import { plotRetrievalVsK } from "../lib/plot/retrieval_vs_k.ts";
import { svgToPng } from "../lib/plot/svg_to_png.ts";
import { plotTaskArithmetic } from "../lib/plot/task_arithmetic.ts";
import { readCsv, type Row } from "../lib/results/csv.ts";
import { atomicWrite } from "../lib/util/atomic_write.ts";
import { SoupError } from "../lib/util/errors.ts";

// deno-lint-ignore no-explicit-any
type Meta = Record<string, any>;

/** Per figure: its figures (name -> SVG) from the folder's tables and meta.json. */
const REDRAW: Record<string, (dir: string, meta: Meta) => Promise<Record<string, string>>> = {
  icl: async (dir) => ({ icl: plotIclVsK(await readCsv(`${dir}/accuracy.csv`) as never) }),
  clustering: async (dir, meta) => {
    const rows = await readCsv(`${dir}/points.csv`);
    const main = rows.filter((r) =>
      r.layer === meta.layer && r.kind === meta.params.kind && r.method === "tsne"
    );
    return {
      clustering: plotClustering(main as never),
      clustering_appendix: plotClusteringAppendix(rows as never),
    };
  },
  retrieval: async (dir) => ({
    retrieval: plotRetrievalVsK(await readCsv(`${dir}/accuracy.csv`) as never),
  }),
  mixing: async (dir) => {
    const rows = (await readCsv(`${dir}/accuracy.csv`)).map((r: Row) => ({
      task: r.task as string,
      method: r.method as string,
      k: r.k as number,
      accuracy: r.accuracy as number,
    }));
    return { mixing: plotMixingVsK(rows), mixing_tasks: plotMixingVsK(rows, { perTask: true }) };
  },
  adecay: async (dir) => ({
    adecay: plotAdecay(await readCsv(`${dir}/adecay.csv`), await readCsv(`${dir}/summary.csv`)),
  }),
  arithmetic: async (dir, meta) => ({
    arithmetic: plotTaskArithmetic(await readCsv(`${dir}/targets.csv`) as never, {
      mode: meta.params.mode,
    }),
  }),
};

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
    let meta: Meta;
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
