/**
 * What every figure's experiment shares, in three parts: {@link ExperimentModel} (the model on
 * an engine, the tokenizer, the shared state store), {@link ResultCache} (partial results keyed
 * by everything that produced them, so a killed run resumes and a changed parameter
 * recomputes), and {@link ExperimentContext} (the parameters, progress lines, and the result
 * folder `results/<figure>/` with tidy CSVs, `meta.json`, and the figure as SVG and PNG);
 * {@link runExperiment} runs a figure's body with them.
 *
 * @module
 */

import { describeEngine, type Device, openEngine } from "../engine/open_engine.ts";
import type { Engine } from "../engine/types.ts";
import { resolveModelDir, resolveTokenizerFile } from "../hub/resolve.ts";
import { PROJECT_ROOT, projectPath, soupCacheDir, type SourceOptions } from "../hub/sources.ts";
import { configHash, type MambaConfig } from "../model/config.ts";
import { weightsFingerprint } from "../model/fingerprint.ts";
import { formatCsv, type Row } from "../results/csv.ts";
import { buildStateMeta, loadState, saveState } from "../states/state_dir.ts";
import type { MambaState } from "../states/state.ts";
import { defaultStoreRoot, StateStore } from "../states/store.ts";
import { loadTokenizer, type MambaTokenizer } from "../tokenizer/load_tokenizer.ts";
import { atomicWrite } from "../util/atomic_write.ts";
import { sha256Hex } from "../util/sha256.ts";
import { NotFoundError, SoupError } from "../util/errors.ts";
import {
  checkWritable,
  inspectOwnFolder,
  swapFolder,
  sweepLeftovers,
  tempSibling,
} from "../util/output.ts";

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
}

/** The paper's model. */
export const PAPER_MODEL = "state-spaces/mamba-2.8b-hf";

/** What an experiment writes. */
export interface ExperimentOutput {
  /** Tidy tables by name: `results/<figure>/<name>.csv`. */
  tables: Record<string, Row[]>;
  /** Figures by name: `results/<figure>/<name>.svg` and `.png`. */
  figures?: Record<string, string>;
  /** More facts for meta.json (e.g. run time of parts). */
  meta?: Record<string, unknown>;
}

/**
 * Folders of `lib/` that only present results (rows in, SVG or CSV out, drawn afresh at every
 * run and never cached): left out of the partial results' cache key, so that editing a plot
 * keeps hours of cached evaluations.
 */
export const PRESENTATION_DIRS: readonly string[] = ["lib/plot", "lib/results"];

/**
 * A hash of the library's source files (tests left out), recorded with results; without
 * `exclude`d folders (project-relative, e.g. {@link PRESENTATION_DIRS}) it keys cached partial
 * results.
 */
export async function codeHash(
  exclude: readonly string[] = [],
  root: string = PROJECT_ROOT,
): Promise<string> {
  const files: string[] = [];
  const skip = new Set(exclude.map((d) => `${root}/${d.replace(/\/+$/, "")}`));
  const walk = (dir: string) => {
    for (const e of Deno.readDirSync(dir)) {
      const p = `${dir}/${e.name}`;
      if (skip.has(p)) continue;
      if (e.isDirectory) walk(p);
      else if (e.name.endsWith(".ts") && !e.name.endsWith("_test.ts")) files.push(p);
    }
  };
  walk(`${root}/lib`);
  files.sort();
  const enc = new TextEncoder();
  const parts = files.map((f) => `${f.slice(root.length)}\n${Deno.readTextFileSync(f)}\n`);
  return (await sha256Hex(enc.encode(parts.join("")))).slice(0, 16);
}

/** The model an experiment computes with: checkpoint, engine, tokenizer and the state store. */
export class ExperimentModel {
  /** Model id or folder as given. */
  readonly id: string;
  /** The checkpoint folder it resolved to (config.json, safetensors). */
  readonly dir: string;
  readonly engine: Engine;
  readonly tokenizer: MambaTokenizer;
  readonly config: MambaConfig;
  readonly configHash: string;
  /** `weightsFingerprint` of the checkpoint. */
  readonly weights: string;
  /**
   * The states every figure shares, keyed by what produced them (weights, engine, token ids,
   * start state), not by code: editing the library keeps them.
   */
  readonly store: StateStore;

  private constructor(init: Omit<ExperimentModel, "close" | "describe">) {
    this.id = init.id;
    this.dir = init.dir;
    this.engine = init.engine;
    this.tokenizer = init.tokenizer;
    this.config = init.config;
    this.configHash = init.configHash;
    this.weights = init.weights;
    this.store = init.store;
  }

  /**
   * Resolves and opens `options.model` (default the paper's) on `options.device`, its
   * tokenizer, and the shared state store (`<cacheDir>/_states` when `cacheDir` is given).
   */
  static async open(options: ExperimentOptions = {}): Promise<ExperimentModel> {
    const id = options.model ?? PAPER_MODEL;
    const storeRoot = options.cacheDir !== undefined
      ? `${options.cacheDir}/_states`
      : defaultStoreRoot();
    await checkCache(storeRoot); // before any work
    // The experiment cache is not the Hugging Face cache: pass only the source settings on.
    const sources: SourceOptions = {
      mirror: options.mirror,
      offline: options.offline,
      cacheDir: options.hfCacheDir,
    };
    const dir = await resolveModelDir(id, sources);
    const tokenizer = await loadTokenizer(await resolveTokenizerFile(dir, sources));
    const engine = await openEngine(dir, {
      ...sources,
      device: options.device ?? "auto",
      precision: options.precision,
    });
    try {
      // Open the session now, so the engine's name (a part of the store's keys, and meta.json)
      // tells the provider used even when every result comes from the cache.
      await engine.run([0]);
      // Computed once, when the engine opened the checkpoint.
      const hash = engine.identity?.configHash ?? await configHash(engine.config);
      const weights = engine.identity?.weights ?? await weightsFingerprint(dir);
      const store = await StateStore.open(storeRoot, {
        weights,
        engine: engine.name,
        config: engine.config,
      });
      return new ExperimentModel({
        id,
        dir,
        engine,
        tokenizer,
        config: engine.config,
        configHash: hash,
        weights,
        store,
      });
    } catch (err) {
      await engine.close();
      throw err;
    }
  }

  /** "model M (config H) on onnx-cpu". */
  describe(): string {
    return `model ${this.id} (config ${this.configHash}) on ${describeEngine(this.engine)}`;
  }

  /** Closes the engine. */
  async close(): Promise<void> {
    await this.engine.close();
  }
}

/**
 * The partial results of one run (evaluations, embeddings, mixed states), in a folder keyed by
 * the figure, its parameters, the model's weights and the computing code: a killed run finds
 * what it had saved, other parameters or code use another folder.
 */
export class ResultCache {
  /** The folder. */
  readonly dir: string;
  readonly #model: ExperimentModel;
  readonly #log: (line: string) => void;

  private constructor(dir: string, model: ExperimentModel, log: (line: string) => void) {
    this.dir = dir;
    this.#model = model;
    this.#log = log;
  }

  /**
   * The cache of `figure` with `params` on `model`: `<cacheDir>/<figure>/<key>` (default
   * `$SOUP_CACHE/experiments`, else `<project>/data/cache/experiments`). The key leaves out the
   * presentation code ({@link PRESENTATION_DIRS}).
   */
  static async open(
    figure: string,
    params: Record<string, unknown>,
    model: ExperimentModel,
    options: { cacheDir?: string; log?: (line: string) => void } = {},
  ): Promise<ResultCache> {
    const compute = await codeHash(PRESENTATION_DIRS);
    const key = (await sha256Hex(
      new TextEncoder().encode(JSON.stringify({
        figure,
        params,
        model: model.id,
        hash: model.configHash,
        weights: model.weights,
        code: compute,
      })),
    )).slice(0, 16);
    const root = options.cacheDir ?? soupCacheDir("experiments");
    const dir = `${root}/${figure}/${key}`;
    await checkCache(dir);
    await Deno.mkdir(dir, { recursive: true });
    return new ResultCache(dir, model, options.log ?? ((line) => console.error(line)));
  }

  /** A JSON value cached under `name`, or computed, saved atomically, and returned. */
  async json<T>(name: string, compute: () => Promise<T>): Promise<T> {
    const path = `${this.dir}/${name}.json`;
    let text: string | undefined;
    try {
      text = await Deno.readTextFile(path);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
    if (text !== undefined) {
      try {
        return JSON.parse(text) as T;
      } catch (err) {
        // A cache file cut short (a crash while it was written by an older version) is
        // recomputed, and said.
        this.#log(
          `cache file ${projectPath(path)} is not valid JSON (${
            (err as Error).message
          }): recomputing`,
        );
      }
    }
    const value = await compute();
    await atomicWrite(path, new TextEncoder().encode(JSON.stringify(value)));
    return value;
  }

  /**
   * The state cached under `name` (a state this run derives, such as a mix), or computed, saved
   * as a state folder, and returned. Only a missing one is computed; a broken or foreign one is
   * an error to see.
   */
  async state(name: string, compute: () => Promise<MambaState>): Promise<MambaState> {
    const dir = `${this.dir}/states/${name}`;
    const m = this.#model;
    try {
      return await loadState(dir, { config: m.config, weights: m.weights });
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err;
      const state = await compute();
      await Deno.mkdir(`${this.dir}/states`, { recursive: true });
      await saveState(dir, {
        conv: state.conv,
        ssm: state.ssm,
        deltaSum: state.deltaSum,
        ...(state.logits ? { logits: state.logits } : {}),
        meta: await buildStateMeta(m.engine, { model: m.id, tokenIds: [], extra: { name } }),
      }, { replace: true });
      return state;
    }
  }
}

/** A one-line error unless the cache folder `dir` can be made (it names SOUP_CACHE). */
async function checkCache(dir: string): Promise<void> {
  try {
    await checkWritable(dir);
  } catch (err) {
    if (!(err instanceof SoupError)) throw err;
    throw new SoupError(
      `${err.message}; the experiments cache states and results there (set SOUP_CACHE, or ` +
        `cacheDir, to a writable folder)`,
      { file: dir },
    );
  }
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
    await sweepLeftovers(outDir, isResultsFolder); // what a killed run left
    await checkResultsOutput(outDir, { replace }); // before any work
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
   * whether a notebook or the command line ran it. The run time goes to `timing.json`, apart.
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
      await Deno.writeFile(`${tmp}/timing.json`, enc.encode(JSON.stringify({ seconds }) + "\n"));
      await replaceFolder(tmp, this.outDir, this.#replaceResults);
      this.log(
        `wrote ${names.length} files and timing.json to ${
          projectPath(this.outDir)
        } after ${seconds} s`,
      );
    } catch (err) {
      await Deno.remove(tmp, { recursive: true }).catch(() => {});
      throw err;
    }
    return names.map((name) => `${this.outDir}/${name}`);
  }
}

/** Files a results folder this tool wrote may hold. */
const RESULT_FILE = /^[\w.-]+\.(csv|svg|png|json)$/;

/** What is at `dir`: nothing, a results folder this tool wrote, or something else. */
async function inspectResults(
  dir: string,
): Promise<{ kind: "missing" | "results" | "other"; what?: string }> {
  const found = await inspectOwnFolder(dir, {
    allowed: (name) => RESULT_FILE.test(name),
    // Exactly the files the run listed in meta.json (folders written before the list was kept:
    // any result-like file).
    isOurs: (meta, names) =>
      typeof meta.figure === "string" &&
      (!Array.isArray(meta.files) ||
        names.every((n) => n === "meta.json" || (meta.files as unknown[]).includes(n))),
    emptyIsOurs: true, // an empty folder loses nothing
  });
  return found.kind === "ours" ? { kind: "results" } : found as { kind: "missing" | "other" };
}

async function isResultsFolder(path: string): Promise<boolean> {
  return (await inspectResults(path)).kind === "results";
}

/**
 * Checks, before any work, that `results/<figure>/` may be written at `dir`: nothing is there,
 * or a results folder this tool wrote and `replace` is set; and the location is writable. A
 * file or a folder holding anything else is refused, with or without `replace`.
 */
export async function checkResultsOutput(
  dir: string,
  options: { replace?: boolean } = {},
): Promise<void> {
  const found = await inspectResults(dir);
  if (found.kind === "other") {
    throw new SoupError(
      `Refusing to write results to "${dir}": it is ${found.what}, not a results folder this ` +
        `tool wrote (choose another --results folder)`,
      { file: dir },
    );
  }
  if (found.kind === "results" && !options.replace && [...Deno.readDirSync(dir)].length > 0) {
    throw new SoupError(
      `"${dir}" holds results of an earlier run: pass --force to replace them, or choose ` +
        `another --results folder`,
      { file: dir },
    );
  }
  await checkWritable(dir);
}

/** Puts the folder `tmp` at `dir`, replacing a results folder there (and nothing else). */
async function replaceFolder(tmp: string, dir: string, replace: boolean): Promise<void> {
  await checkResultsOutput(dir, { replace });
  await swapFolder(tmp, dir, isResultsFolder);
}

/**
 * The skeleton every figure runs in: checks `results/<figure>/` before any work, opens the model
 * (engine, tokenizer, state store) and the run's result cache, computes the output with `body`,
 * writes it, and closes the engine whatever happens. Returns the paths written.
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
  const ctx = await ExperimentContext.open(figure, params, options);
  const model = await ExperimentModel.open(options);
  try {
    const log = (line: string) => ctx.log(line);
    const cache = await ResultCache.open(figure, params, model, {
      cacheDir: options.cacheDir,
      log,
    });
    log(`${model.describe()}, cache ${projectPath(cache.dir)}`);
    return await ctx.write(await body({ model, cache, log }), model);
  } finally {
    await model.close();
  }
}
