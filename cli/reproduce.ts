/**
 * `deno task reproduce [all|icl|clustering|retrieval|mixing|adecay|arithmetic] [--model M]
 * [--preset paper|quick|organism] [--quick] [--device D] [--mirror DIR] [--results DIR]`
 *
 * Runs the paper's experiments and writes `results/<figure>/` (tidy CSVs, meta.json, SVG and PNG).
 * Default: the paper's protocol on state-spaces/mamba-2.8b-hf. `--quick` is a small preset that
 * runs in minutes on a laptop CPU with state-spaces/mamba-130m-hf (its default model).
 * `--model organism` (or `--preset organism`) runs every figure on the model organism shipped in
 * `data/models/organism/`. A killed run resumes from its cache.
 *
 * @module
 */

import type { Device } from "../lib/engine/mod.ts";
import {
  checkResultsOutput,
  type ExperimentOptions,
  FIGURE_REGISTRY,
  type FigureEntry,
  ORGANISM_MODEL,
  PAPER_MODEL,
  PRESET_NAMES,
  type PresetName,
  PRESETS,
} from "../lib/experiments/mod.ts";
import { PROJECT_ROOT, resolveModelDir } from "../lib/hub/mod.ts";
import { formatPlan, planRun } from "../lib/experiments/plan.ts";
import { parseShard, type Shard } from "../lib/experiments/shard.ts";
import { didYouMean } from "../lib/util/suggest.ts";
import { SoupError } from "../lib/util/errors.ts";
import { guarded, parse } from "./_cli.ts";

/** Each figure: its experiment run with a preset's parameters. */
const FIGURES: Record<string, FigureEntry["run"]> = Object.fromEntries(
  FIGURE_REGISTRY.map((f) => [f.id, f.run]),
);

const USAGE = `Usage: deno task reproduce [all|${
  Object.keys(FIGURES).join("|")
}] [--model M] [--preset ${PRESET_NAMES.join("|")}] [--quick]
       [--device auto|cpu|webgpu|cuda|reference] [--precision float32|float16] [--mirror DIR] [--results DIR] [--force] [--offline]
  --preset paper     the paper's protocol on ${PAPER_MODEL} (the default)
  --preset quick     a small run on ${PRESETS.quick.model} (--quick says the same)
  --preset organism  every figure on the model organism shipped in data/models/organism
                     (--model organism says the same), 12 to 25 minutes on 2 CPU cores
  --force            replace results/<figure>/ folders an earlier run wrote (a folder holding
                     anything else is never replaced)
  --plan [--json] [--gpu h200|h100|a100]
                     what the run will process and cost, from config.json alone (no weights):
                     per figure the sequences, tokens, FLOPs and state bytes, the predicted time
                     on this CPU and an estimate on the GPU class; nothing is written
  --shard I/N        compute only shard I (from 0) of N of the run's units into the shared cache
                     (SOUP_CACHE), writing no results; a run without --shard then merges them.
                     --shard slurm reads SLURM_ARRAY_TASK_ID/_COUNT/_MIN; --shard k8s
                     --shard-count N reads Kubernetes' JOB_COMPLETION_INDEX`;

/** Runs the command line; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const HELP = '"deno task reproduce --help" shows the usage';
  let parsed;
  try {
    parsed = parse(args, {
      model: "string",
      quick: "boolean",
      preset: "string",
      device: "string",
      precision: "string",
      force: "boolean",
      results: "string",
      plan: "boolean",
      json: "boolean",
      gpu: "string",
      shard: "string",
      "shard-count": "string",
    }, HELP);
  } catch (err) {
    console.error(`reproduce: ${(err as Error).message}`);
    return 2;
  }
  const { flags, positionals } = parsed;
  const values = flags as Record<string, string | undefined> & {
    plan?: boolean;
    json?: boolean;
    quick?: boolean;
    force?: boolean;
    offline?: boolean;
    help?: boolean;
  };
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const which = positionals[0] ?? "all";
  if (positionals.length > 1 || (which !== "all" && !(which in FIGURES))) {
    const hint = positionals.length === 1
      ? didYouMean(which, ["all", ...Object.keys(FIGURES)])
      : "";
    console.error(`Unknown figure "${positionals.join(" ")}"${hint}; ${HELP}`);
    return 2;
  }
  if (values.precision !== undefined && !["float32", "float16"].includes(values.precision)) {
    console.error(`--precision must be float32 or float16, got "${values.precision}"; ${HELP}`);
    return 2;
  }
  let presetName: PresetName;
  if (values.preset !== undefined) {
    if (!(PRESET_NAMES as readonly string[]).includes(values.preset)) {
      console.error(
        `Unknown preset "${values.preset}"${
          didYouMean(values.preset, PRESET_NAMES)
        }; choose one of ${PRESET_NAMES.join(", ")}`,
      );
      return 2;
    }
    if (values.quick === true && values.preset !== "quick") {
      console.error(`--quick and --preset ${values.preset} contradict each other; ${HELP}`);
      return 2;
    }
    presetName = values.preset as PresetName;
  } else if (values.quick === true) {
    presetName = "quick";
  } else {
    presetName = values.model === ORGANISM_MODEL ? "organism" : "paper";
  }
  const preset = PRESETS[presetName];
  const model = values.model ?? preset.model;
  let shard: Shard | undefined;
  try {
    shard = parseShard(values.shard, values["shard-count"], Deno.env.toObject());
  } catch (err) {
    if (!(err instanceof SoupError)) throw err;
    console.error(`reproduce: ${err.message}; ${HELP}`);
    return 2;
  }
  const options: ExperimentOptions = {
    shard,
    model,
    device: values.device as Device | undefined,
    precision: values.precision as "float32" | "float16" | undefined,
    mirror: values.mirror,
    resultsDir: values.results,
    replaceResults: values.force === true,
    offline: values.offline === true ? true : undefined,
  };
  const names = which === "all" ? Object.keys(FIGURES) : [which];
  if (values.plan === true) {
    return await guarded("reproduce --plan", async () => {
      const plan = await planRun(model, { ...preset, name: presetName }, names, {
        mirror: values.mirror,
        offline: options.offline,
        gpu: values.gpu,
        log: (line) => console.error(`plan: ${line}`),
      });
      console.log(values.json === true ? JSON.stringify(plan, null, 2) : formatPlan(plan));
    });
  }
  if (values.json === true || values.gpu !== undefined) {
    console.error(`--json and --gpu go with --plan; ${HELP}`);
    return 2;
  }
  try {
    // Found (or fetched) first, so a missing model is told apart from a missing task file.
    await resolveModelDir(model, { mirror: values.mirror, offline: options.offline });
  } catch (err) {
    if (!(err instanceof SoupError)) throw err;
    console.error(`reproduce: ${err.message}`);
    // Missing offline, or the fetch failed: either way the organism runs every figure here.
    if (model !== ORGANISM_MODEL) {
      console.error(
        `reproduce: ${model} could not be had here. The model organism shipped with the ` +
          `project runs every figure offline in minutes:\n  deno task reproduce --model organism`,
      );
    }
    return 1;
  }
  return await guarded("reproduce", async () => {
    // Every figure's folder is checked before the first one runs (a shard writes none).
    for (const name of shard === undefined ? names : []) {
      await checkResultsOutput(`${values.results ?? `${PROJECT_ROOT}/results`}/${name}`, {
        replace: options.replaceResults,
      });
    }
    for (const name of names) {
      const started = performance.now();
      const written = await FIGURES[name](preset, options);
      const seconds = ((performance.now() - started) / 1000).toFixed(1);
      console.log(`${name}: ${written.length} files in ${seconds} s`);
      for (const path of written) console.log(`  ${path}`);
    }
  });
}

if (import.meta.main) Deno.exit(await main(Deno.args));
