/**
 * What every figure's experiment shares: the model on an engine, the tokenizer, a cache of
 * states and intermediate results keyed by everything that produced them (so a killed run
 * resumes and a changed parameter recomputes), progress lines, and the result folder
 * `results/<figure>/` with tidy CSVs, `meta.json`, and the figure as SVG and PNG.
 *
 * @module
 */

import { describeEngine, type Device, openEngine } from "../engine/open_engine.ts";
import type { Engine } from "../engine/types.ts";
import { resolveModelDir, resolveTokenizerFile } from "../hub/resolve.ts";
import { PROJECT_ROOT, projectPath, type SourceOptions } from "../hub/sources.ts";
import { configHash, type MambaConfig } from "../model/config.ts";
import { weightsFingerprint } from "../model/fingerprint.ts";
import { formatCsv, type Row } from "../results/csv.ts";
import { loadState, saveState, stateShapeOf } from "../states/state_dir.ts";
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
  return (await sha256(enc.encode(parts.join("")))).slice(0, 16);
}

const sha256 = sha256Hex;

/** One experiment run: engine, tokenizer, cache and output folder. */
export class ExperimentContext {
  /** Figure name, the folder under results/. */
  readonly figure: string;
  /** The parameters, as recorded in meta.json and hashed into the cache key. */
  readonly params: Record<string, unknown>;
  /** Model id or folder as given. */
  readonly model: string;
  /** The checkpoint folder it resolved to (config.json, safetensors). */
  readonly modelDir: string;
  readonly engine: Engine;
  readonly tokenizer: MambaTokenizer;
  readonly config: MambaConfig;
  readonly configHash: string;
  readonly codeHash: string;
  /** `results/<figure>`. */
  readonly outDir: string;
  readonly #replaceResults: boolean;
  /**
   * Cache folder of this exact run (figure, params, model, weights, and the library's code but
   * for {@link PRESENTATION_DIRS}): partial results.
   */
  readonly cacheDir: string;
  /**
   * The states every figure shares, keyed by what produced them (weights, engine, token ids,
   * start state), not by code: editing the library keeps them.
   */
  readonly store: StateStore;
  readonly #log: (line: string) => void;
  readonly #started = performance.now();

  private constructor(init: {
    figure: string;
    params: Record<string, unknown>;
    model: string;
    modelDir: string;
    engine: Engine;
    tokenizer: MambaTokenizer;
    configHash: string;
    codeHash: string;
    outDir: string;
    replaceResults: boolean;
    cacheDir: string;
    store: StateStore;
    log: (line: string) => void;
  }) {
    this.figure = init.figure;
    this.params = init.params;
    this.model = init.model;
    this.modelDir = init.modelDir;
    this.engine = init.engine;
    this.tokenizer = init.tokenizer;
    this.config = init.engine.config;
    this.configHash = init.configHash;
    this.codeHash = init.codeHash;
    this.outDir = init.outDir;
    this.#replaceResults = init.replaceResults;
    this.cacheDir = init.cacheDir;
    this.store = init.store;
    this.#log = init.log;
  }

  /** Opens the model and tokenizer and prepares the cache for `figure` with `params`. */
  static async open(
    figure: string,
    params: Record<string, unknown>,
    options: ExperimentOptions = {},
  ): Promise<ExperimentContext> {
    const model = options.model ?? PAPER_MODEL;
    const log = options.log ?? ((line: string) => console.error(line));
    // The experiment cache is not the Hugging Face cache: pass only the source settings on.
    const sources: SourceOptions = {
      mirror: options.mirror,
      offline: options.offline,
      cacheDir: options.hfCacheDir,
    };
    const dir = await resolveModelDir(model, sources);
    const tokenizer = await loadTokenizer(await resolveTokenizerFile(dir, sources));
    const engine = await openEngine(dir, {
      ...sources,
      device: options.device ?? "auto",
      precision: options.precision,
    });
    const hash = await configHash(engine.config);
    const code = await codeHash();
    const compute = await codeHash(PRESENTATION_DIRS);
    const weights = await weightsFingerprint(dir);
    const key = (await sha256(
      new TextEncoder().encode(
        JSON.stringify({ figure, params, model, hash, weights, code: compute }),
      ),
    )).slice(0, 16);
    // Open the session now, so the engine's name (and meta.json) tells the provider used even
    // when every result comes from the cache.
    await engine.run([0]);
    const cacheRoot = options.cacheDir ??
      (Deno.env.get("SOUP_CACHE")
        ? `${Deno.env.get("SOUP_CACHE")}/experiments`
        : `${PROJECT_ROOT}/data/cache/experiments`);
    const cacheDir = `${cacheRoot}/${figure}/${key}`;
    await Deno.mkdir(cacheDir, { recursive: true });
    const storeRoot = options.cacheDir !== undefined
      ? `${options.cacheDir}/_states`
      : defaultStoreRoot();
    const store = await StateStore.open(storeRoot, {
      weights,
      engine: engine.name,
      config: engine.config,
    });
    const outDir = `${options.resultsDir ?? `${PROJECT_ROOT}/results`}/${figure}`;
    const replace = options.replaceResults ?? true;
    await sweepLeftovers(outDir, isResultsFolder); // what a killed run left
    await checkResultsOutput(outDir, { replace }); // before any work
    log(
      `${figure}: model ${model} (config ${hash}) on ${describeEngine(engine)}, cache ${
        projectPath(cacheDir)
      }`,
    );
    return new ExperimentContext({
      figure,
      params,
      model,
      modelDir: dir,
      engine,
      tokenizer,
      configHash: hash,
      codeHash: code,
      outDir,
      replaceResults: replace,
      cacheDir,
      store,
      log,
    });
  }

  /** Writes a progress line. */
  log(line: string): void {
    this.#log(`${this.figure}: ${line}`);
  }

  /**
   * The state cached under `name`, or computed, saved, and returned. A killed run finds what
   * it had saved; other parameters or code use another cache folder.
   */
  async cachedState(name: string, compute: () => Promise<MambaState>): Promise<MambaState> {
    const dir = `${this.cacheDir}/states/${name}`;
    try {
      return await loadState(dir, { config: this.config });
    } catch (err) {
      // Only a missing state is computed; a broken or foreign one is an error to see.
      if (!(err instanceof NotFoundError)) throw err;
      const state = await compute();
      await Deno.mkdir(`${this.cacheDir}/states`, { recursive: true });
      await saveState(dir, {
        ...state,
        meta: {
          model: this.model,
          configHash: this.configHash,
          shape: stateShapeOf(this.config),
          tokenIds: [],
          source: null,
          engine: this.engine.name,
          ...(this.engine.adapter ? { adapter: this.engine.adapter } : {}),
          created: new Date().toISOString(),
          extra: { figure: this.figure, name },
        },
      }, { replace: true });
      return state;
    }
  }

  /** A JSON value cached under `name`, or computed, saved atomically, and returned. */
  async cachedJson<T>(name: string, compute: () => Promise<T>): Promise<T> {
    const path = `${this.cacheDir}/${name}.json`;
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
        this.log(
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
   * Writes `results/<figure>/`: each table as CSV, each figure as SVG and PNG, and meta.json
   * (parameters, model, config hash, code hash, engine): the same bytes from the same inputs,
   * whether a notebook or the command line ran it. The run time goes to `timing.json`, apart.
   * Returns the paths written.
   */
  async write(output: ExperimentOutput): Promise<string[]> {
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
        model: this.model,
        configHash: this.configHash,
        codeHash: this.codeHash,
        engine: this.engine.name,
        ...(this.engine.adapter ? { adapter: this.engine.adapter } : {}),
        ...output.meta,
        files: [...names, "timing.json"],
      };
      await put("meta.json", enc.encode(JSON.stringify(meta, null, 2) + "\n"));
      const seconds = Math.round((performance.now() - this.#started) / 100) / 10;
      await Deno.writeFile(`${tmp}/timing.json`, enc.encode(JSON.stringify({ seconds }) + "\n"));
      await replaceFolder(tmp, this.outDir, this.#replaceResults);
      this.log(`wrote ${names.length} files to ${projectPath(this.outDir)} after ${seconds} s`);
    } catch (err) {
      await Deno.remove(tmp, { recursive: true }).catch(() => {});
      throw err;
    }
    return names.map((name) => `${this.outDir}/${name}`);
  }

  /** Closes the engine. */
  async close(): Promise<void> {
    await this.engine.close();
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
 * The skeleton every figure runs in: opens the context (model, tokenizer, caches, state store,
 * and the check of `results/<figure>/` before any work), computes the output with `body`,
 * writes it, and closes the engine whatever happens. Returns the paths written.
 *
 * @example
 * ```ts ignore
 * const written = await runExperiment("icl", params, options, async (ctx) => ({
 *   tables: { icl: rows },
 *   figures: { icl: plotIclVsK(rows) },
 * }));
 * ```
 */
export async function runExperiment(
  figure: string,
  params: Record<string, unknown>,
  options: ExperimentOptions,
  body: (ctx: ExperimentContext) => Promise<ExperimentOutput>,
): Promise<string[]> {
  const ctx = await ExperimentContext.open(figure, params, options);
  try {
    return await ctx.write(await body(ctx));
  } finally {
    await ctx.close();
  }
}
