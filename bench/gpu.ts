/**
 * `deno task bench gpu [--shape 2.8b|130m|tiny] [--shapes 1x256,8x256,32x256]
 * [--cpu-shapes 1x256,8x256] [--python PY [--torch-device cuda]] [--out FILE]`: prefill on a random checkpoint of
 * the chosen shape (float32) with onnxruntime's CUDA provider (float32 and float16, when
 * `deno task setup cuda` found every library), its WebGPU provider, the CPU provider and, when a
 * Python with torch and transformers is given, transformers (torch eager, float32) on the same
 * CUDA GPU, in one run. Also float16 on WebGPU where the adapter has shader-f16. Checks that the
 * last logits agree, prints tokens/s and ratios, and writes a JSON results file (default
 * bench/results/gpu.json) naming the adapter and versions.
 *
 * Made for the GPU machine (tools/gpu/run.sh runs it there from the bundle); on a software
 * adapter (lavapipe) it proves only that the path runs.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { parseMambaConfig, writeRandomCheckpoint } from "../lib/model/mod.ts";
import { OnnxEngine } from "../lib/engine/mod.ts";
import { PROJECT_ROOT } from "../lib/hub/mod.ts";
import { cudaStatus, describeAdapter, webgpuAdapter } from "../lib/onnx/mod.ts";
import { SoupError } from "../lib/util/errors.ts";
import { MAMBA_130M_SHAPE, promptIds } from "./engine.ts";
import { time } from "./_time.ts";
import type { MambaConfig } from "../lib/model/mod.ts";

async function shapeConfig(shape: string): Promise<MambaConfig> {
  if (shape === "130m") return MAMBA_130M_SHAPE;
  if (shape === "2.8b") {
    return parseMambaConfig(
      JSON.parse(await Deno.readTextFile(`${PROJECT_ROOT}/testdata/configs/mamba-2.8b-hf.json`)),
    );
  }
  if (shape === "tiny") {
    return { ...MAMBA_130M_SHAPE, numHiddenLayers: 2, hiddenSize: 64, intermediateSize: 128 };
  }
  throw new SoupError(`--shape must be 2.8b, 130m or tiny, got "${shape}"`);
}

const parseShapes = (s: string): [number, number][] =>
  s.split(",").filter(Boolean).map((x) => {
    const [b, l] = x.split("x").map(Number);
    if (!(b > 0 && l > 0)) throw new SoupError(`Bad shape "${x}": write BxL, e.g. 8x256`);
    return [b, l];
  });

function relMax(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0, m = 0;
  for (let i = 0; i < b.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    m = Math.max(m, Math.abs(b[i]));
  }
  return d / m;
}

export async function benchGpu(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      shape: { type: "string", default: "2.8b" },
      shapes: { type: "string", default: "1x256,8x256,32x256" },
      "cpu-shapes": { type: "string", default: "1x256,8x256" },
      python: { type: "string" },
      "torch-device": { type: "string", default: "cuda" },
      out: { type: "string", default: `${PROJECT_ROOT}/bench/results/gpu.json` },
      repeat: { type: "string", default: "3" },
    },
  });
  const config = await shapeConfig(values.shape!);
  const shapes = parseShapes(values.shapes!);
  const cpuShapes = parseShapes(values["cpu-shapes"]!);
  const repeat = Number(values.repeat);
  const adapter = await webgpuAdapter();
  console.log(`WebGPU adapter: ${adapter ? describeAdapter(adapter) : "none"}`);
  const dir = await Deno.makeTempDir({ prefix: "soup-bench-gpu-" });
  const results: Record<string, Record<string, number>> = {};
  const firstLogits: Record<string, Float32Array> = {};
  try {
    console.log(`writing a random ${values.shape}-shaped checkpoint (float32) ...`);
    await writeRandomCheckpoint(dir, config, { seed: 0, maxShardBytes: 2 * 2 ** 30 });
    type Run = [string, "webgpu" | "cpu" | "cuda", "float32" | "float16", [number, number][]];
    const cuda = cudaStatus();
    console.log(`CUDA: ${cuda.reason}`);
    const runs: Run[] = [
      ...(cuda.ready
        ? [
          ["cuda float32", "cuda", "float32", shapes] as Run,
          ["cuda float16", "cuda", "float16", shapes] as Run,
        ]
        : []),
      ["webgpu float32", "webgpu", "float32", shapes],
      ...(adapter?.shaderF16
        ? [["webgpu float16", "webgpu", "float16", shapes] as [
          string,
          "webgpu",
          "float16",
          [number, number][],
        ]]
        : []),
      ["cpu float32", "cpu", "float32", cpuShapes],
    ];
    for (const [label, provider, precision, list] of runs) {
      const engine = await OnnxEngine.load(dir, { provider, precision, chunkSize: 256 });
      results[label] = {};
      try {
        for (const [b, l] of list) {
          const seqs = promptIds(b, l);
          const seconds = await time(() => engine.runBatch(seqs), repeat);
          results[label][`${b}x${l}`] = (b * l) / seconds;
          console.log(`${label} prefill ${b}x${l}: ${((b * l) / seconds).toFixed(0)} tokens/s`);
        }
        // Prompt 0 of the first shape, as tools/hf/bench_transformers.py reports it.
        firstLogits[label] = (await engine.run(promptIds(1, shapes[0][1])[0])).logits;
      } finally {
        await engine.close();
      }
    }
    let transformers: Record<string, unknown> | undefined;
    if (values.python) {
      const out = await new Deno.Command(values.python, {
        args: [
          `${PROJECT_ROOT}/tools/hf/bench_transformers.py`,
          "--model",
          dir,
          "--threads",
          String(navigator.hardwareConcurrency),
          "--shapes",
          shapes.map(([b, l]) => `${b}x${l}`).join(","),
          "--device",
          values["torch-device"]!,
          "--repeat",
          String(repeat),
        ],
        stdout: "piped",
        stderr: "inherit",
      }).output();
      if (!out.success) throw new SoupError("tools/hf/bench_transformers.py failed");
      transformers = JSON.parse(new TextDecoder().decode(out.stdout));
      const prefill = transformers!.prefill as Record<string, number>;
      const tf = `transformers ${values["torch-device"]} float32`;
      results[tf] = Object.fromEntries(
        Object.entries(prefill).map(([k, s]) => {
          const [b, l] = k.split("x").map(Number);
          return [k, (b * l) / s];
        }),
      );
      firstLogits[tf] = Float32Array.from(
        transformers!.first_logits as number[],
      );
    }
    const agreement: Record<string, number> = {};
    const base = firstLogits["cpu float32"];
    for (const [label, logits] of Object.entries(firstLogits)) {
      if (label === "cpu float32") continue;
      agreement[label] = relMax(logits, base);
      console.log(`last logits, ${label} vs cpu float32: ${agreement[label].toExponential(2)}`);
    }
    console.log("\ntokens/s (and ratio to webgpu float32):");
    for (const [label, byShape] of Object.entries(results)) {
      const cells = Object.entries(byShape).map(([k, r]) => {
        const gpu = results["webgpu float32"][k];
        return `${k} ${r.toFixed(0)}${gpu ? ` (${(r / gpu).toFixed(2)}x)` : ""}`;
      });
      console.log(`  ${label.padEnd(26)} ${cells.join("  ")}`);
    }
    const file = values.out!;
    const tmp = `${file}.tmp-${crypto.randomUUID().slice(0, 8)}`;
    const folder = file.includes("/") ? file.slice(0, file.lastIndexOf("/")) || "/" : ".";
    await Deno.mkdir(folder, { recursive: true });
    await Deno.writeTextFile(
      tmp,
      JSON.stringify(
        {
          command: `deno task bench gpu ${args.join(" ")}`.trim(),
          date: new Date().toISOString().slice(0, 10),
          shape: values.shape,
          adapter,
          cores: navigator.hardwareConcurrency,
          cuda: cuda.reason,
          versions: { deno: Deno.version.deno, transformers: transformers?.transformers },
          tokensPerSecond: results,
          lastLogitsRelativeToCpu: agreement,
        },
        null,
        2,
      ) + "\n",
    );
    await Deno.rename(tmp, file);
    console.log(`written ${file}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) await benchGpu(Deno.args);
