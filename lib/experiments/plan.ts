/**
 * What a run of `reproduce` will cost, before it starts, from the model's `config.json` alone:
 * per figure the sequences, tokens, floating-point operations and state bytes it processes, and
 * the predicted time on this machine's CPU and on a named GPU class.
 *
 * How it knows: each figure runs, for real, on a **stand-in model**, a random checkpoint of the
 * same layer count, vocabulary and conv width as the model but a few channels wide, in a fresh
 * cache. Its engines and state writers count what they read and write (`lib/util/counters.ts`):
 * the sequences and tokens a figure reads do not depend on the weights, so the stand-in reads
 * exactly what the model will. The counts are then priced at the model's own width:
 *
 * - FLOPs: {@link flopsPerToken} per token read, plus `2 d V` per position whose logits are
 *   computed.
 * - CPU seconds: the stand-in run's time (everything but the model's arithmetic: tokenising, the
 *   store, evaluation, plots, and the engine's per-call cost at this layer count), plus the
 *   model's arithmetic at the seconds per FLOP measured on this machine by a short calibration
 *   (a one-layer random checkpoint of the model's width, prefilling 8 x 128 tokens).
 * - GPU seconds (an estimate): the stand-in run's time outside the engine, plus the FLOPs at a
 *   stated efficiency of the GPU class's stated float32 peak, plus a stated cost per engine call.
 *
 * The figures' state folders and store entries are priced at the model's dims: bytes written
 * (an entry rewritten with more layers counts again).
 *
 * @module
 */

import { readMambaConfig } from "../model/config.ts";
import type { MambaConfig } from "../model/config.ts";
import { tinyMambaConfig, writeRandomCheckpoint } from "../model/random_checkpoint.ts";
import { resolveModelDir } from "../hub/resolve.ts";
import { openEngine } from "../engine/open_engine.ts";
import { PROJECT_ROOT } from "../hub/sources.ts";
import { readWorkCounters, resetWorkCounters, type WorkCounters } from "../util/counters.ts";
import { SoupError } from "../util/errors.ts";
import type { ExperimentOptions } from "./context.ts";
import { FIGURE_REGISTRY, type FigureEntry } from "./figures.ts";
import type { Preset } from "./presets.ts";

/** A GPU class the plan prices a run on: its stated float32 peak. */
export interface GpuClass {
  /** Its name. */
  readonly name: string;
  /** Float32 peak (no tensor cores), TFLOP/s, from the vendor's data sheet. */
  readonly fp32Tflops: number;
  /** Where the number comes from. */
  readonly source: string;
}

/** The GPU classes `--gpu` names. */
export const GPU_CLASSES: Readonly<Record<string, GpuClass>> = {
  h200: { name: "NVIDIA H200 SXM", fp32Tflops: 67, source: "NVIDIA H200 data sheet (FP32)" },
  h100: { name: "NVIDIA H100 SXM", fp32Tflops: 67, source: "NVIDIA H100 data sheet (FP32)" },
  a100: { name: "NVIDIA A100 SXM", fp32Tflops: 19.5, source: "NVIDIA A100 data sheet (FP32)" },
};

/** What the GPU estimate assumes. */
export interface GpuAssumptions {
  /** The GPU class. */
  gpu: GpuClass;
  /** The fraction of the float32 peak the model's arithmetic reaches. */
  efficiency: number;
  /** Seconds per engine call besides the arithmetic (kernel launches of one graph of L layers). */
  perCallSeconds: number;
  /** In words. */
  note: string;
}

/** One figure's plan (or the total). */
export interface FigurePlan {
  /** Figure id, or "total". */
  figure: string;
  /** Engine calls. */
  calls: number;
  /** Sequences read. */
  sequences: number;
  /** Tokens read. */
  tokens: number;
  /** Positions whose logits are computed. */
  logitPositions: number;
  /** Floating-point operations of the model's forward over those tokens and positions. */
  flops: number;
  /** Bytes of states written to the store and to state folders, at the model's dims. */
  storeBytes: number;
  /** Predicted seconds on this machine's CPU. */
  cpuSeconds: number;
  /** Estimated seconds on the GPU class (see the assumptions). */
  gpuSeconds: number;
  /** Seconds the stand-in run took here (what the CPU and GPU predictions start from). */
  standInSeconds: number;
  /** Why the figure could not be planned (its numbers are then 0 and not in the total). */
  error?: string;
}

/** A whole plan. */
export interface RunPlan {
  /** The model as named, and its architecture. */
  model: string;
  config: MambaConfig;
  /** The preset's name. */
  preset: string;
  /** Per figure, then the total. */
  figures: FigurePlan[];
  total: FigurePlan;
  /** This machine's calibration: seconds per FLOP of the model's layers on the CPU. */
  cpu: { secondsPerFlop: number; gflops: number; threads: number };
  /** What the GPU estimate assumes. */
  gpu: GpuAssumptions;
}

/**
 * Floating-point operations of one token through the model's layers (no head): per layer the
 * in_proj (2 d 2di), the conv (2 di K), x_proj (2 di (R + 2n)), dt_proj (2 R di), the selective
 * scan (about 9 di n: the decay, the update and the readout), the gate and D term (5 di), the
 * out_proj (2 di d) and the norm (5 d).
 *
 * @example
 * ```ts
 * import { flopsPerToken } from "./plan.ts";
 * import { tinyMambaConfig } from "../model/random_checkpoint.ts";
 * const c = tinyMambaConfig({ hiddenSize: 4, numHiddenLayers: 1, stateSize: 2, timeStepRank: 1 });
 * // d 4, di 8, K 4, R 1, n 2: 128 + 64 + 80 + 16 + 144 + 40 + 64 + 20
 * if (flopsPerToken(c) !== 556) throw new Error(String(flopsPerToken(c)));
 * ```
 */
export function flopsPerToken(config: MambaConfig): number {
  const d = config.hiddenSize, di = config.intermediateSize, n = config.stateSize;
  const k = config.convKernel, r = config.timeStepRank;
  const layer = 2 * d * 2 * di + 2 * di * k + 2 * di * (r + 2 * n) + 2 * r * di + 9 * di * n +
    5 * di + 2 * di * d + 5 * d;
  return config.numHiddenLayers * layer;
}

/** FLOPs of the head at one position: `2 d V`. */
export function headFlops(config: MambaConfig): number {
  return 2 * config.hiddenSize * config.vocabSize;
}

/** Bytes of one layer of a stored state (conv, ssm and deltaSum, float32). */
export function stateRowBytes(config: MambaConfig): number {
  return 4 * config.intermediateSize * (config.convKernel + config.stateSize + 1);
}

/** The stand-in of `config`: the same layers, vocabulary and conv width, a few channels wide. */
export function standInConfig(config: MambaConfig): MambaConfig {
  return tinyMambaConfig({
    numHiddenLayers: config.numHiddenLayers,
    vocabSize: config.vocabSize,
    convKernel: config.convKernel,
    hiddenSize: 4,
    intermediateSize: 8,
    stateSize: 2,
    timeStepRank: 1,
  });
}

/**
 * The model's config: a checkpoint folder's (or a cached hub checkpoint's), else the one this
 * project keeps of the presets' hub models (`data/configs/<id>/config.json`). No weights needed.
 */
export async function planConfig(
  model: string,
  options: Pick<ExperimentOptions, "mirror" | "offline" | "hfCacheDir"> = {},
): Promise<MambaConfig> {
  const kept = `${PROJECT_ROOT}/data/configs/${model}`;
  try {
    const dir = await resolveModelDir(model, {
      mirror: options.mirror,
      offline: true,
      cacheDir: options.hfCacheDir,
    });
    return await readMambaConfig(dir);
  } catch (err) {
    if (!(err instanceof SoupError)) throw err;
    try {
      return await readMambaConfig(kept);
    } catch {
      throw new SoupError(
        `Cannot plan a run of "${model}": no config.json of it here (a checkpoint folder, the ` +
          `Hugging Face cache or ${kept}/config.json)`,
      );
    }
  }
}

/**
 * Seconds per FLOP of the model's layers on this machine's CPU: a one-layer random checkpoint of
 * the model's width (a small vocabulary: the head is priced by the same rate) prefills 8 x 128
 * tokens after a warm-up; the time of a one-token call is taken off.
 */
export async function calibrateCpu(
  config: MambaConfig,
): Promise<{ secondsPerFlop: number; gflops: number; threads: number }> {
  const one = { ...config, numHiddenLayers: 1, vocabSize: 1024 };
  const dir = await Deno.makeTempDir({ prefix: "soup-plan-calibration-" });
  try {
    await writeRandomCheckpoint(dir, one);
    const engine = await openEngine(dir, { device: "cpu" });
    try {
      const batch = Array.from(
        { length: 8 },
        (_, s) => Array.from({ length: 128 }, (_, t) => (s * 131 + t * 7) % 1024),
      );
      await engine.runBatch(batch); // warm-up
      const time = async (seqs: number[][], reps: number) => {
        let best = Infinity;
        for (let i = 0; i < reps; i++) {
          const t0 = performance.now();
          await engine.runBatch(seqs);
          best = Math.min(best, (performance.now() - t0) / 1000);
        }
        return best;
      };
      const small = await time([[1]], 5);
      const big = await time(batch, 2);
      const flops = 8 * 128 * flopsPerToken(one) + 8 * headFlops(one);
      const secondsPerFlop = Math.max(big - small, 1e-9) / flops;
      return {
        secondsPerFlop,
        gflops: 1e-9 / secondsPerFlop,
        threads: navigator.hardwareConcurrency,
      };
    } finally {
      await engine.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/** Options of {@link planRun}. */
export interface PlanOptions extends Pick<ExperimentOptions, "mirror" | "offline" | "hfCacheDir"> {
  /** The GPU class to estimate for. @default "h200" */
  gpu?: string;
  /** The fraction of its float32 peak assumed. @default 0.3 */
  efficiency?: number;
  /** Progress lines. @default none */
  log?: (line: string) => void;
}

/**
 * Plans `figures` of `preset` on `model` (see the module documentation). Nothing of the user's
 * cache or results is read or written: the stand-in runs in temporary folders, removed after.
 *
 * @example
 * ```ts ignore
 * import { PRESETS } from "./presets.ts";
 * const plan = await planRun("state-spaces/mamba-2.8b-hf", PRESETS.paper, ["retrieval"]);
 * console.log(plan.total.tokens, plan.total.cpuSeconds);
 * ```
 */
export async function planRun(
  model: string,
  preset: Preset & { name?: string },
  figures: readonly string[],
  options: PlanOptions = {},
): Promise<RunPlan> {
  const gpuClass = GPU_CLASSES[options.gpu ?? "h200"];
  if (gpuClass === undefined) {
    throw new SoupError(
      `Unknown GPU class "${options.gpu}": choose one of ${Object.keys(GPU_CLASSES).join(", ")}`,
    );
  }
  const entries = figures.map((id) => {
    const entry = FIGURE_REGISTRY.find((f) => f.id === id);
    if (entry === undefined) throw new SoupError(`Cannot plan figure "${id}": no such figure`);
    return entry;
  });
  const config = await planConfig(model, options);
  const log = options.log ?? (() => {});
  log(`calibrating this machine's CPU at the model's width (d ${config.hiddenSize})`);
  const cpu = await calibrateCpu(config);
  const efficiency = options.efficiency ?? 0.3;
  const perCallSeconds = config.numHiddenLayers * 12 * 4e-6;
  const gpu: GpuAssumptions = {
    gpu: gpuClass,
    efficiency,
    perCallSeconds,
    note:
      `${Math.round(efficiency * 100)}% of the ${gpuClass.fp32Tflops} TFLOP/s float32 peak of ` +
      `the ${gpuClass.name} (${gpuClass.source}); ${(perCallSeconds * 1000).toFixed(2)} ms per ` +
      `engine call (one graph of ${config.numHiddenLayers} layers, about 12 kernels a layer at ` +
      `4 us each); everything but the model's arithmetic as fast as on this CPU. An estimate, ` +
      `not a measurement.`,
  };
  const root = await Deno.makeTempDir({ prefix: "soup-plan-" });
  try {
    const standIn = `${root}/stand-in`;
    await writeRandomCheckpoint(standIn, standInConfig(config));
    const out: FigurePlan[] = [];
    for (const entry of entries) {
      log(`${entry.id}: running on a stand-in model of ${config.numHiddenLayers} layers`);
      try {
        out.push(
          await planFigure(entry, preset, standIn, root, config, cpu.secondsPerFlop, gpu, options),
        );
      } catch (err) {
        if (!(err instanceof SoupError)) throw err;
        log(`${entry.id}: cannot be planned: ${err.message}`);
        out.push({ ...emptyPlan(entry.id), error: err.message });
      }
    }
    const sum = (k: keyof FigurePlan) => out.reduce((s, f) => s + (f[k] as number), 0);
    const total: FigurePlan = {
      figure: "total",
      calls: sum("calls"),
      sequences: sum("sequences"),
      tokens: sum("tokens"),
      logitPositions: sum("logitPositions"),
      flops: sum("flops"),
      storeBytes: sum("storeBytes"),
      cpuSeconds: sum("cpuSeconds"),
      gpuSeconds: sum("gpuSeconds"),
      standInSeconds: sum("standInSeconds"),
    };
    return { model, config, preset: preset.name ?? "", figures: out, total, cpu, gpu };
  } finally {
    await Deno.remove(root, { recursive: true }).catch(() => {});
  }
}

/** A plan of nothing. */
function emptyPlan(figure: string): FigurePlan {
  return {
    figure,
    calls: 0,
    sequences: 0,
    tokens: 0,
    logitPositions: 0,
    flops: 0,
    storeBytes: 0,
    cpuSeconds: 0,
    gpuSeconds: 0,
    standInSeconds: 0,
  };
}

/** One figure on the stand-in, its counts priced at the model's dims. */
async function planFigure(
  entry: FigureEntry,
  preset: Preset,
  standIn: string,
  root: string,
  config: MambaConfig,
  secondsPerFlop: number,
  gpu: GpuAssumptions,
  options: PlanOptions,
): Promise<FigurePlan> {
  resetWorkCounters();
  const started = performance.now();
  await entry.run(preset, {
    model: standIn,
    device: "cpu",
    mirror: options.mirror,
    offline: true,
    cacheDir: `${root}/cache-${entry.id}`,
    resultsDir: `${root}/results`,
    log: () => {},
  });
  const wall = (performance.now() - started) / 1000;
  const c: WorkCounters = readWorkCounters();
  const flops = c.tokens * flopsPerToken(config) + c.logitPositions * headFlops(config);
  const outsideEngine = Math.max(0, wall - c.engineSeconds);
  return {
    figure: entry.id,
    calls: c.engineCalls,
    sequences: c.sequences,
    tokens: c.tokens,
    logitPositions: c.logitPositions,
    flops,
    storeBytes: c.stateRows * stateRowBytes(config) + c.logitsStored * 4 * config.vocabSize,
    cpuSeconds: wall + flops * secondsPerFlop,
    gpuSeconds: outsideEngine + flops / (gpu.efficiency * gpu.gpu.fp32Tflops * 1e12) +
      c.engineCalls * gpu.perCallSeconds,
    standInSeconds: wall,
  };
}

/**
 * The plan as a table: one row per figure and the total, then what the numbers assume.
 *
 * @example
 * ```ts ignore
 * console.log(formatPlan(await planRun("organism", PRESETS.organism, ["retrieval"])));
 * ```
 */
export function formatPlan(plan: RunPlan): string {
  const c = plan.config;
  const head = ["figure", "calls", "sequences", "tokens", "TFLOP", "store MB", "CPU s", "GPU s*"];
  const rows = [...plan.figures, plan.total].map((f) => [
    f.error === undefined ? f.figure : `${f.figure} (not planned)`,
    String(f.calls),
    String(f.sequences),
    String(f.tokens),
    (f.flops / 1e12).toFixed(3),
    (f.storeBytes / 1e6).toFixed(1),
    f.cpuSeconds.toFixed(0),
    f.gpuSeconds.toFixed(0),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) =>
    r.map((x, i) => (i === 0 ? x.padEnd(widths[i]) : x.padStart(widths[i]))).join("  ");
  return [
    `Plan of the ${plan.preset} preset on ${plan.model} (${c.numHiddenLayers} layers, d ${c.hiddenSize}, ` +
    `d_inner ${c.intermediateSize}, n ${c.stateSize}, vocabulary ${c.vocabSize}):`,
    line(head),
    ...rows.map(line),
    `CPU: this machine, ${plan.cpu.threads} threads, ${plan.cpu.gflops.toFixed(1)} GFLOP/s ` +
    `measured at the model's width, plus the stand-in run's own time.`,
    `* GPU: an estimate: ${plan.gpu.note}`,
    ...plan.figures.filter((f) => f.error).map((f) => `${f.figure}: not planned: ${f.error}`),
  ].join("\n");
}
