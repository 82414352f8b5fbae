/**
 * Each figure's drawings from its tables alone (the CSVs and `meta.json` of `results/<id>/`),
 * keyed by the figure ids of `lib/experiments/figures.ts`: what `deno task figures` calls. The
 * drawings equal the ones `reproduce` wrote, byte for byte (`cli/figures_test.ts`).
 *
 * @module
 */
import { plotAdecay } from "./adecay.ts";
import { plotClustering } from "./clustering.ts";
import { plotClusteringAppendix } from "./clustering_appendix.ts";
import { plotComposition } from "./composition.ts";
import { plotIclVsK } from "./icl_vs_k.ts";
import { plotLayers } from "./layers.ts";
import { plotMixingVsK } from "./mixing_vs_k.ts";
import { plotRetrievalVsK } from "./retrieval_vs_k.ts";
import { plotScale, plotScaleIndexes } from "./scale.ts";
import { plotArithmeticPairs, plotTaskArithmetic } from "./task_arithmetic.ts";
import { readCsv, type Row } from "../results/csv.ts";
import { NotFoundError } from "../util/errors.ts";

// deno-lint-ignore no-explicit-any
export type ResultsMeta = Record<string, any>;

/** Per figure id: its figures (name -> SVG) from the folder's tables and meta.json. */
export const REDRAW: Readonly<
  Record<string, (dir: string, meta: ResultsMeta) => Promise<Record<string, string>>>
> = {
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
  arithmetic: async (dir, meta) => {
    // rates.csv is absent from folders written before the pairs were measured.
    const rates = await readCsv(`${dir}/rates.csv`).catch((err) => {
      if (err instanceof NotFoundError) return [];
      throw err;
    });
    return {
      arithmetic: plotTaskArithmetic(await readCsv(`${dir}/targets.csv`) as never, {
        mode: meta.params.mode,
      }),
      ...(rates.length > 0 ? { arithmetic_pairs: plotArithmeticPairs(rates) } : {}),
    };
  },
  layers: async (dir) => ({ layers: plotLayers(await readCsv(`${dir}/summary.csv`) as never) }),
  composition: async (dir) => ({
    composition: plotComposition(await readCsv(`${dir}/summary.csv`)),
  }),
  scale: async (dir) => {
    const accuracy = await readCsv(`${dir}/accuracy.csv`);
    return {
      scale: plotScale(accuracy),
      scale_indexes: plotScaleIndexes(accuracy, await readCsv(`${dir}/indexes.csv`)),
    };
  },
};
