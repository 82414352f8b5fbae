/**
 * What every figure's experiment shares, in parts: {@link ExperimentModel} (`model.ts`: the
 * model on an engine, the tokenizer, the shared state store), {@link ResultCache}
 * (`result_cache.ts`: partial results keyed by everything that produced them, so a killed run
 * resumes and a changed parameter recomputes), the results folder (`results_folder.ts`: what this
 * tool wrote, replaced only when its own), the code hash (`code_hash.ts`); and here
 * {@link ExperimentContext} (the parameters, progress lines, and `results/<figure>/` with tidy
 * CSVs, `meta.json`, and the figure as SVG and PNG) and {@link runExperiment}, which runs a
 * figure's body with them.
 *
 * @module
 */

import type { Device } from "../engine/open_engine.ts";
import { PROJECT_ROOT, projectPath, type SourceOptions } from "../hub/sources.ts";
import { formatCsv, type Row } from "../results/csv.ts";
import { sweepLeftovers, tempSibling } from "../util/output.ts";
import { readWorkCounters } from "../util/counters.ts";
import { codeHash } from "./code_hash.ts";
import { ExperimentModel } from "./model.ts";
import { ResultCache, type Shard } from "./result_cache.ts";
import { checkResultsOutput, isResultsFolder, replaceFolder } from "./results_folder.ts";

export * from "./code_hash.ts";
export * from "./model.ts";
export * from "./result_cache.ts";
export { checkResultsOutput } from "./results_folder.ts";

/** Options shared by every experiment. */
export interface ExperimentOptions extends Omit<SourceOptions, "cacheDir"> {
  /** The Hugging Face hub cache folder (see `SourceOptions.cacheDir`). @default HF's */
  hfCacheDir?: string;
  /** Model id or checkpoint folder. @default "state-spaces/mamba-2.8b-hf" */
  model?: string;
  /** Engine device. @default "auto" */
  device?: Device;
  /** float16 runs the matrix products in half precision (GPU devices). @default "float32" */
  precision?: "float32" | "float16";
  /** Where `results/<figure>/` goes. @default `<project>/results` */
  resultsDir?: string;
  /**
   * Replace a `results/<figure>/` folder this tool wrote earlier (a folder holding anything
   * else is never replaced). The command line asks for `--force`. @default true
   */
  replaceResults?: boolean;
  /** Where cached states and partial results go. @default `$SOUP_CACHE/experiments`, else `<project>/data/cache/experiments` */
  cacheDir?: string;
  /** Progress lines. @default to stderr */
  log?: (line: string) => void;
  /**
   * Compute only this shard's part of the work into the shared cache and write no results
   * (`reproduce --shard I/N`); a later run without it (the merge) finds every unit cached.
   */
  shard?: Shard;
}

/** What an experiment writes. */
export interface ExperimentOutput {
  /** Tidy tables by name: `results/<figure>/<name>.csv`. */
  tables: Record<string, Row[]>;
  /** Figures by name: `results/<figure>/<name>.svg` and `.png`. */
  figures?: Record<string, string>;
  /** More facts for meta.json (e.g. run time of parts). */
  meta?: Record<string, unknown>;
}

/** What an experiment's body computes with. */
export interface ExperimentRun {
  /** The model, engine, tokenizer and state store. */
  model: ExperimentModel;
  /** Partial results of this run. */
  cache: ResultCache;
  /** Writes a progress line (prefixed with the figure). */
  log(line: string): void;
}

/**
 * One experiment's parameters and output: the figure's name, the parameters recorded in
 * meta.json, progress lines, and the results folder `results/<figure>/`, checked before any
 * work and written whole by {@link ExperimentContext.write}.
 */
export class ExperimentContext {
  /** Figure name, the folder under results/. */
  readonly figure: string;
  /** The parameters, as recorded in meta.json and hashed into the cache key. */
  readonly params: Record<string, unknown>;
  /** `results/<figure>`. */
  readonly outDir: string;
  readonly #replaceResults: boolean;
  readonly #log: (line: string) => void;
  readonly #started = performance.now();
  /** The process's engine seconds when this run started (its share is the difference). */
  readonly #engineStarted = readWorkCounters().engineSeconds;

  private constructor(
    figure: string,
    params: Record<string, unknown>,
    outDir: string,
    replace: boolean,
    log: (line: string) => void,
  ) {
    this.figure = figure;
    this.params = params;
    this.outDir = outDir;
    this.#replaceResults = replace;
    this.#log = log;
  }

  /**
   * The context of `figure` with `params`: cleans what a killed run left beside
   * `results/<figure>/` and checks, before any work, that it may be written.
   */
  static async open(
    figure: string,
    params: Record<string, unknown>,
    options: ExperimentOptions = {},
  ): Promise<ExperimentContext> {
    const outDir = `${options.resultsDir ?? `${PROJECT_ROOT}/results`}/${figure}`;
    const replace = options.replaceResults ?? true;
    if (options.shard === undefined) { // a shard writes no results
      await sweepLeftovers(outDir, isResultsFolder); // what a killed run left
      await checkResultsOutput(outDir, { replace }); // before any work
    }
    return new ExperimentContext(
      figure,
      params,
      outDir,
      replace,
      options.log ?? ((line: string) => console.error(line)),
    );
  }

  /** Writes a progress line. */
  log(line: string): void {
    this.#log(`${this.figure}: ${line}`);
  }

  /**
   * Writes `results/<figure>/`: each table as CSV, each figure as SVG and PNG, and meta.json
   * (parameters, model, config hash, code hash, engine): the same bytes from the same inputs,
   * whether a notebook or the command line ran it. The run time goes to `timing.json`, apart,
   * with the seconds spent inside engine calls.
   * Returns the paths written.
   */
  async write(output: ExperimentOutput, model: ExperimentModel): Promise<string[]> {
    // Everything goes into a new folder that then replaces results/<figure>/ at once, so a
    // reader never sees files of two runs mixed.
    const tmp = tempSibling(this.outDir);
    await Deno.mkdir(tmp, { recursive: true });
    const names: string[] = [];
    const enc = new TextEncoder();
    const put = async (name: string, bytes: Uint8Array) => {
      await Deno.writeFile(`${tmp}/${name}`, bytes);
      names.push(name);
    };
    try {
      for (const [name, rows] of Object.entries(output.tables)) {
        await put(`${name}.csv`, enc.encode(formatCsv(rows)));
      }
      for (const [name, svg] of Object.entries(output.figures ?? {})) {
        await put(`${name}.svg`, enc.encode(svg));
        const { svgToPng } = await import("../plot/svg_to_png.ts");
        await put(`${name}.png`, await svgToPng(svg));
      }
      const meta = {
        figure: this.figure,
        params: this.params,
        model: model.id,
        configHash: model.configHash,
        codeHash: await codeHash(),
        engine: model.engine.name,
        ...(model.engine.adapter ? { adapter: model.engine.adapter } : {}),
        ...output.meta,
        files: [...names, "timing.json"],
      };
      await put("meta.json", enc.encode(JSON.stringify(meta, null, 2) + "\n"));
      const seconds = Math.round((performance.now() - this.#started) / 100) / 10;
      // Seconds inside the engine's calls (the model's forward passes); the rest is
      // tokenising, the state store, evaluation, plotting and writing.
      const engineSeconds =
        Math.round((readWorkCounters().engineSeconds - this.#engineStarted) * 10) / 10;
      await Deno.writeFile(
        `${tmp}/timing.json`,
        enc.encode(JSON.stringify({ seconds, engineSeconds }) + "\n"),
      );
      await replaceFolder(tmp, this.outDir, this.#replaceResults);
      this.log(
        `wrote ${names.length} files and timing.json to ${
          projectPath(this.outDir)
        } after ${seconds} s (${engineSeconds} s in the engine)`,
      );
    } catch (err) {
      await Deno.remove(tmp, { recursive: true }).catch(() => {});
      throw err;
    }
    return names.map((name) => `${this.outDir}/${name}`);
  }
}

/**
 * An experiment opened for its steps to run one by one (what a notebook does): the run (model,
 * engine, tokenizer, state store, the result cache, progress) and the writer of
 * `results/<figure>/`. {@link runExperiment} is this with one body.
 */
export interface OpenExperiment {
  /** What the steps compute with. */
  readonly run: ExperimentRun;
  /** Writes `results/<figure>/` (see {@link ExperimentContext.write}); returns the paths. */
  write(output: ExperimentOutput): Promise<string[]>;
  /** Closes the engine. */
  close(): Promise<void>;
}

/**
 * Checks `results/<figure>/` before any work, opens the model (engine, tokenizer, state store)
 * and the run's result cache for `params` (the same cache {@link runExperiment} uses for them).
 *
 * @example
 * ```ts ignore
 * const exp = await openExperiment("retrieval", params, options);
 * try {
 *   const library = await buildRetrievalLibrary(exp.run, prepared);
 *   // ... the figure's other steps ...
 *   await exp.write(output);
 * } finally {
 *   await exp.close();
 * }
 * ```
 */
export async function openExperiment(
  figure: string,
  params: Record<string, unknown>,
  options: ExperimentOptions,
): Promise<OpenExperiment> {
  const ctx = await ExperimentContext.open(figure, params, options);
  const model = await ExperimentModel.open(options);
  try {
    const log = (line: string) => ctx.log(line);
    const cache = await ResultCache.open(figure, params, model, {
      cacheDir: options.cacheDir,
      log,
      shard: options.shard,
    });
    log(`${model.describe()}, cache ${projectPath(cache.dir)}`);
    return {
      run: { model, cache, log },
      write: (output) => ctx.write(output, model),
      close: () => model.close(),
    };
  } catch (err) {
    await model.close();
    throw err;
  }
}

/**
 * The skeleton every figure runs in: {@link openExperiment}, the output computed by `body`,
 * written, and the engine closed whatever happens. Returns the paths written.
 *
 * @example
 * ```ts ignore
 * const written = await runExperiment("icl", params, options, async (ctx) => ({
 *   tables: { icl: await rowsFrom(ctx.model.engine, ctx.cache) },
 *   figures: { icl: plotIclVsK(rows) },
 * }));
 * ```
 */
export async function runExperiment(
  figure: string,
  params: Record<string, unknown>,
  options: ExperimentOptions,
  body: (run: ExperimentRun) => Promise<ExperimentOutput>,
): Promise<string[]> {
  const exp = await openExperiment(figure, params, options);
  try {
    const output = await body(exp.run);
    const said = await exp.run.cache.finish();
    if (said !== undefined) exp.run.log(said);
    if (exp.run.cache.shard !== undefined) return [];
    return await exp.write(output);
  } finally {
    await exp.close();
  }
}
