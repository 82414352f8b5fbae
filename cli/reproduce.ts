/**
 * `deno task reproduce [all|clustering|retrieval|mixing|adecay|arithmetic] [--model M] [--quick]
 * [--device D] [--mirror DIR] [--results DIR]`
 *
 * Runs the paper's experiments and writes `results/<figure>/` (tidy CSVs, meta.json, SVG and PNG).
 * Default model: the paper's state-spaces/mamba-2.8b-hf. `--quick` is a small preset that runs
 * in minutes on a laptop CPU with state-spaces/mamba-130m-hf (its default model). A killed run
 * resumes from its cache.
 *
 * @module
 */

import { parseArgs } from "node:util";
import type { Device } from "../lib/engine/mod.ts";
import {
  type ExperimentOptions,
  PAPER_ADECAY,
  PAPER_CLUSTERING,
  PAPER_MIXING_VS_K,
  PAPER_RETRIEVAL_VS_K,
  PAPER_TASK_ARITHMETIC,
  QUICK_ADECAY,
  QUICK_CLUSTERING,
  QUICK_MIXING_VS_K,
  QUICK_RETRIEVAL_VS_K,
  QUICK_TASK_ARITHMETIC,
  runAdecay,
  runClustering,
  runMixingVsK,
  runRetrievalVsK,
  runTaskArithmetic,
} from "../lib/experiments/mod.ts";
import { SoupError } from "../lib/util/errors.ts";

/** Each figure: its experiment with the paper's and the quick parameters. */
const FIGURES: Record<
  string,
  (quick: boolean, options: ExperimentOptions) => Promise<string[]>
> = {
  clustering: (q, o) => runClustering(q ? QUICK_CLUSTERING : PAPER_CLUSTERING, o),
  retrieval: (q, o) => runRetrievalVsK(q ? QUICK_RETRIEVAL_VS_K : PAPER_RETRIEVAL_VS_K, o),
  mixing: (q, o) => runMixingVsK(q ? QUICK_MIXING_VS_K : PAPER_MIXING_VS_K, o),
  adecay: (q, o) => runAdecay(q ? QUICK_ADECAY : PAPER_ADECAY, o),
  arithmetic: (q, o) => runTaskArithmetic(q ? QUICK_TASK_ARITHMETIC : PAPER_TASK_ARITHMETIC, o),
};

const USAGE = `Usage: deno task reproduce [all|${
  Object.keys(FIGURES).join("|")
}] [--model M] [--quick]
       [--device auto|cpu|webgpu|cuda|reference] [--mirror DIR] [--results DIR] [--offline]`;

/** Runs the command line; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: {
        model: { type: "string" },
        quick: { type: "boolean" },
        device: { type: "string" },
        mirror: { type: "string" },
        results: { type: "string" },
        offline: { type: "boolean" },
        help: { type: "boolean" },
      },
    });
  } catch (err) {
    console.error(`${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const which = positionals[0] ?? "all";
  if (positionals.length > 1 || (which !== "all" && !(which in FIGURES))) {
    console.error(`Unknown figure "${positionals.join(" ")}"\n${USAGE}`);
    return 2;
  }
  const quick = values.quick === true;
  const options: ExperimentOptions = {
    model: values.model ?? (quick ? "state-spaces/mamba-130m-hf" : undefined),
    device: values.device as Device | undefined,
    mirror: values.mirror,
    resultsDir: values.results,
    offline: values.offline === true ? true : undefined,
  };
  const names = which === "all" ? Object.keys(FIGURES) : [which];
  try {
    for (const name of names) {
      const started = performance.now();
      const written = await FIGURES[name](quick, options);
      const seconds = ((performance.now() - started) / 1000).toFixed(1);
      console.log(`${name}: ${written.length} files in ${seconds} s`);
      for (const path of written) console.log(`  ${path}`);
    }
  } catch (err) {
    if (err instanceof SoupError) {
      console.error(`reproduce: ${err.message}`);
      return 1;
    }
    throw err;
  }
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
