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
import { PROJECT_ROOT, type SourceOptions } from "../hub/sources.ts";
import { configHash, type MambaConfig } from "../model/config.ts";
import { weightsFingerprint } from "../model/fingerprint.ts";
import { formatCsv, type Row } from "../results/csv.ts";
import { loadState, type MambaState, saveState, stateShapeOf } from "../states/state_dir.ts";
import { loadTokenizer, type MambaTokenizer } from "../tokenizer/load_tokenizer.ts";
import { atomicWrite } from "../util/atomic_write.ts";
import { sha256Hex } from "../util/sha256.ts";
import { NotFoundError } from "../util/errors.ts";

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

/** A hash of the library's source files, recorded with results and part of cache keys. */
export async function codeHash(): Promise<string> {
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const e of Deno.readDirSync(dir)) {
      const p = `${dir}/${e.name}`;
      if (e.isDirectory) walk(p);
      else if (e.name.endsWith(".ts") && !e.name.endsWith("_test.ts")) files.push(p);
    }
  };
  walk(`${PROJECT_ROOT}/lib`);
  files.sort();
  const enc = new TextEncoder();
  const parts = files.map((f) => `${f.slice(PROJECT_ROOT.length)}\n${Deno.readTextFileSync(f)}\n`);
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
  /** Cache folder of this exact run (figure, params, model, code). */
  readonly cacheDir: string;
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
    cacheDir: string;
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
    this.cacheDir = init.cacheDir;
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
    const weights = await weightsFingerprint(dir);
    const key = (await sha256(
      new TextEncoder().encode(JSON.stringify({ figure, params, model, hash, weights, code })),
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
    const outDir = `${options.resultsDir ?? `${PROJECT_ROOT}/results`}/${figure}`;
    await Deno.mkdir(outDir, { recursive: true });
    log(
      `${figure}: model ${model} (config ${hash}) on ${describeEngine(engine)}, cache ${cacheDir}`,
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
      cacheDir,
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
        this.log(`cache file ${path} is not valid JSON (${(err as Error).message}): recomputing`);
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
    const written: string[] = [];
    const enc = new TextEncoder();
    for (const [name, rows] of Object.entries(output.tables)) {
      const path = `${this.outDir}/${name}.csv`;
      await atomicWrite(path, enc.encode(formatCsv(rows)));
      written.push(path);
    }
    for (const [name, svg] of Object.entries(output.figures ?? {})) {
      await atomicWrite(`${this.outDir}/${name}.svg`, enc.encode(svg));
      const { svgToPng } = await import("../plot/svg_to_png.ts");
      await atomicWrite(`${this.outDir}/${name}.png`, await svgToPng(svg));
      written.push(`${this.outDir}/${name}.svg`, `${this.outDir}/${name}.png`);
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
    };
    await atomicWrite(`${this.outDir}/meta.json`, enc.encode(JSON.stringify(meta, null, 2) + "\n"));
    written.push(`${this.outDir}/meta.json`);
    const seconds = Math.round((performance.now() - this.#started) / 100) / 10;
    await atomicWrite(`${this.outDir}/timing.json`, enc.encode(JSON.stringify({ seconds }) + "\n"));
    this.log(`wrote ${written.length} files to ${this.outDir} after ${seconds} s`);
    return written;
  }

  /** Closes the engine. */
  async close(): Promise<void> {
    await this.engine.close();
  }
}
