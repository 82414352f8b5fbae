/**
 * This engine against Hugging Face transformers on the same CPU, same checkpoint, same thread
 * count, in one run: a mamba-130m-shaped random checkpoint (24 layers, d 768, d_in 1536, n 16,
 * vocab 50280, float32), prefill of 1 x 256 and 8 x 256 tokens (last logits only, states kept)
 * and one-token decode steps on the state of a 256-token prompt. transformers runs torch eager in
 * float32 (tools/hf/bench_transformers.py, in the Python of `$SOUP_HF_PYTHON` or `.venv-hf/`).
 * Prints the ratios and writes bench/results/transformers_cpu.json.
 *
 * `deno task bench transformers` (runs only when named: it needs torch and transformers).
 *
 * @module
 */

import { writeRandomCheckpoint } from "../lib/model/mod.ts";
import { PROJECT_ROOT } from "../lib/hub/mod.ts";
import { OnnxEngine } from "../lib/engine/mod.ts";
import { SoupError } from "../lib/util/errors.ts";
import { softmaxParts } from "../lib/util/softmax.ts";
import { flopsPerTokenOf, MAMBA_130M_SHAPE, matmulRoofline, promptIds } from "./engine.ts";
import { time } from "./_time.ts";

const SHAPES: [number, number][] = [[1, 256], [8, 256]];
const DECODE_STEPS = 32;

interface TransformersTimes {
  transformers: string;
  torch: string;
  python: string;
  threads: number;
  prefill: Record<string, number>;
  decode_step: number;
  first_logits: number[];
}

/** The Python that has torch and transformers, or a one-line error saying how to make one. */
async function hfPython(): Promise<string> {
  const python = Deno.env.get("SOUP_HF_PYTHON") ?? `${PROJECT_ROOT}/.venv-hf/bin/python`;
  const ok = await new Deno.Command(python, {
    args: ["-c", "import torch, transformers"],
    stdout: "null",
    stderr: "null",
  }).output().then((o) => o.success, () => false);
  if (!ok) {
    throw new SoupError(
      `bench transformers needs a Python with torch and transformers, and ${python} has none: ` +
        `python3 -m venv .venv-hf && .venv-hf/bin/pip install -r tools/hf/requirements.txt ` +
        `(or set SOUP_HF_PYTHON)`,
    );
  }
  return python;
}

function cpuModel(): string {
  try {
    const info = Deno.readTextFileSync("/proc/cpuinfo");
    return info.match(/^model name\s*:\s*(.*)$/m)?.[1] ?? "unknown";
  } catch {
    return "unknown";
  }
}

export async function benchTransformers(): Promise<void> {
  const python = await hfPython();
  const threads = navigator.hardwareConcurrency;
  const dir = await Deno.makeTempDir({ prefix: "soup-bench-hf-" });
  try {
    const config = MAMBA_130M_SHAPE;
    console.log("writing a mamba-130m-shaped random checkpoint (float32) ...");
    await writeRandomCheckpoint(dir, config, { seed: 0 });

    const roofline = await matmulRoofline();
    const perToken = flopsPerTokenOf(config);
    console.log(`onnxruntime CPU MatMul roofline: ${roofline.toFixed(1)} GFLOP/s`);
    const ours: Record<string, number> = {};
    const engine = await OnnxEngine.load(dir, { provider: "cpu", intraOpThreads: threads });
    let firstLogits: Float32Array | undefined;
    for (const [b, l] of SHAPES) {
      const seqs = promptIds(b, l);
      const seconds = await time(() => engine.runBatch(seqs), 5);
      ours[`${b}x${l}`] = seconds;
      console.log(`this engine prefill ${b}x${l}: ${seconds.toFixed(3)} s`);
      firstLogits ??= (await engine.run(seqs[0])).logits;
    }
    const prompt = await engine.run(promptIds(1, 256)[0]);
    let state = prompt.state;
    let token = softmaxParts(prompt.logits).argmax;
    const steps: number[] = [];
    for (let i = 0; i <= DECODE_STEPS; i++) {
      const t0 = performance.now();
      const next = await engine.run([token], { state });
      if (i > 0) steps.push((performance.now() - t0) / 1000); // the first step warms up
      state = next.state;
      token = softmaxParts(next.logits).argmax;
    }
    const ourDecode = steps.sort((a, b) => a - b)[Math.floor(steps.length / 2)];
    console.log(`this engine decode step: ${(ourDecode * 1000).toFixed(1)} ms`);
    await engine.close();

    console.log(`transformers (torch eager, float32, ${threads} threads) ...`);
    const out = await new Deno.Command(python, {
      args: [
        `${PROJECT_ROOT}/tools/hf/bench_transformers.py`,
        "--model",
        dir,
        "--threads",
        String(threads),
        "--shapes",
        SHAPES.map(([b, l]) => `${b}x${l}`).join(","),
        "--decode-steps",
        String(DECODE_STEPS),
      ],
      stdout: "piped",
      stderr: "inherit",
    }).output();
    if (!out.success) throw new SoupError(`tools/hf/bench_transformers.py failed`);
    const hf: TransformersTimes = JSON.parse(new TextDecoder().decode(out.stdout));

    // Same checkpoint, same numbers: the last logits of prompt 0 agree.
    let diff = 0, scale = 0;
    hf.first_logits.forEach((e, i) => {
      diff = Math.max(diff, Math.abs(firstLogits![i] - e));
      scale = Math.max(scale, Math.abs(e));
    });
    const parity = diff / scale;
    console.log(
      `\nlast logits of prompt 0, this engine vs transformers: ${
        parity.toExponential(2)
      } (relative)`,
    );
    const ratios: Record<string, number> = {};
    for (const [b, l] of SHAPES) {
      const key = `${b}x${l}`;
      ratios[`prefill ${key}`] = hf.prefill[key] / ours[key];
      const tokens = b * l;
      console.log(
        `prefill ${key}: this engine ${(tokens / ours[key]).toFixed(0)} tokens/s, transformers ${
          (tokens / hf.prefill[key]).toFixed(0)
        } tokens/s: ${ratios[`prefill ${key}`].toFixed(1)}x`,
      );
    }
    // The matrix products alone at the roofline bound what any float32 engine can reach here.
    const bound: Record<string, number> = {};
    for (const [b, l] of SHAPES) {
      const key = `${b}x${l}`;
      const floor = (b * l * perToken) / (roofline * 1e9);
      bound[key] = hf.prefill[key] / floor;
      console.log(
        `  ${key}: the matrix products alone take ${floor.toFixed(3)} s at the roofline, ` +
          `so no engine here can be more than ${bound[key].toFixed(1)}x transformers; ` +
          `this engine runs at ${(100 * floor / ours[key]).toFixed(0)}% of the roofline`,
      );
    }
    ratios["decode step"] = hf.decode_step / ourDecode;
    // float32 weights a decode step reads: the embedding (tied head) and the four products.
    const weightBytes = 4 * (config.vocabSize * config.hiddenSize) + 2 * perToken;
    console.log(
      `decode step: this engine ${(ourDecode * 1000).toFixed(1)} ms, transformers ${
        (hf.decode_step * 1000).toFixed(1)
      } ms: ${ratios["decode step"].toFixed(1)}x (one step reads all ${
        (weightBytes / 1e6).toFixed(0)
      } MB of weights: ${(weightBytes / ourDecode / 1e9).toFixed(1)} GB/s here, ${
        (weightBytes / hf.decode_step / 1e9).toFixed(1)
      } GB/s in transformers)`,
    );

    const deno = JSON.parse(await Deno.readTextFile(`${PROJECT_ROOT}/deno.json`));
    const result = {
      command: "deno task bench transformers",
      date: new Date().toISOString().slice(0, 10),
      machine: { cpu: cpuModel(), cores: navigator.hardwareConcurrency, threads },
      checkpoint: "mamba-130m-shaped random (24 layers, d 768, d_in 1536, n 16, vocab 50280), F32",
      versions: {
        deno: Deno.version.deno,
        "onnxruntime-node": String(deno.imports["onnxruntime-node"]).split("@").at(-1),
        transformers: hf.transformers,
        torch: hf.torch,
        python: hf.python,
      },
      thisEngine: {
        path: "onnx-cpu, WebAssembly scan",
        prefillSeconds: ours,
        decodeStepSeconds: ourDecode,
      },
      transformers: {
        path: "torch eager float32, reference PyTorch scan (no mamba_ssm kernels)",
        prefillSeconds: hf.prefill,
        decodeStepSeconds: hf.decode_step,
      },
      matmulRooflineGflops: roofline,
      speedup: ratios,
      speedupBoundAtRoofline: bound,
      lastLogitsRelativeDifference: parity,
    };
    const file = `${PROJECT_ROOT}/bench/results/transformers_cpu.json`;
    await Deno.mkdir(`${PROJECT_ROOT}/bench/results`, { recursive: true });
    const tmp = `${file}.tmp-${crypto.randomUUID().slice(0, 8)}`;
    await Deno.writeTextFile(tmp, JSON.stringify(result, null, 2) + "\n");
    await Deno.rename(tmp, file);
    console.log(`written ${file}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) await benchTransformers();
