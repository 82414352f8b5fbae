/**
 * This engine against Hugging Face transformers on the same CPU, same checkpoint, same thread
 * count, in one run, the two sides alternating: random checkpoints of mamba-130m's shape
 * (24 layers, d 768, d_in 1536, n 16, vocab 50280) and mamba-1.4b's (48 layers, d 2048,
 * d_in 4096), float32; prefill of 1 x 256 and 8 x 256 tokens (130m) and 1 x 512 (1.4b), last
 * logits only, states kept; one-token decode steps on the state of a 256-token prompt (130m).
 * transformers runs torch eager in float32 (tools/hf/bench_transformers.py --serve, in the
 * Python of `$SOUP_HF_PYTHON` or `.venv-hf/`), loaded once and asked for one timing at a time.
 *
 * Both sides are warmed up the same way (one untimed run of every shape), then each round
 * times every shape once on each side, this engine first in odd rounds and transformers first
 * in even ones, so that a slow moment of the machine lands on both. Printed: every round, the
 * ratio of the best times, and the spread of the rounds' ratios; beside them the bound that the
 * matrix products alone put on any engine here, at onnxruntime's MatMul rate measured in the
 * same run. Writes bench/results/transformers_cpu.json.
 *
 * `deno task bench transformers [--rounds N] [--shape 130m|1.4b|all]` (runs only when named:
 * it needs torch and transformers; the 1.4b shape writes 5.6 GB to the temp folder and holds
 * about 12 GB of memory while both sides have it loaded).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { type MambaConfig, tinyMambaConfig, writeRandomCheckpoint } from "../lib/model/mod.ts";
import { PROJECT_ROOT } from "../lib/hub/mod.ts";
import { OnnxEngine } from "../lib/engine/mod.ts";
import { SoupError } from "../lib/util/errors.ts";
import { softmaxParts } from "../lib/util/softmax.ts";
import { flopsPerTokenOf, MAMBA_130M_SHAPE, matmulRoofline, promptIds } from "./engine.ts";

const DECODE_STEPS = 32;

/** mamba-1.4b's shape (48 layers, d 2048, d_in 4096, n 16, dt rank 128, vocab 50280). */
const MAMBA_1_4B_SHAPE: MambaConfig = tinyMambaConfig({
  hiddenSize: 2048,
  intermediateSize: 4096,
  stateSize: 16,
  timeStepRank: 128,
  numHiddenLayers: 48,
  vocabSize: 50280,
});

interface Case {
  name: string;
  config: MambaConfig;
  shapes: [number, number][];
  decode: boolean;
}

const CASES: Case[] = [
  { name: "130m", config: MAMBA_130M_SHAPE, shapes: [[1, 256], [8, 256]], decode: true },
  { name: "1.4b", config: MAMBA_1_4B_SHAPE, shapes: [[1, 512]], decode: false },
];

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

/** transformers loaded once in tools/hf/bench_transformers.py --serve: one request at a time. */
class Transformers {
  readonly #child: Deno.ChildProcess;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #lines: AsyncIterator<string>;

  constructor(python: string, dir: string, threads: number) {
    this.#child = new Deno.Command(python, {
      args: [
        `${PROJECT_ROOT}/tools/hf/bench_transformers.py`,
        "--model",
        dir,
        "--threads",
        String(threads),
        "--serve",
      ],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    this.#writer = this.#child.stdin.getWriter();
    this.#lines = this.#child.stdout.pipeThrough(new TextDecoderStream()).pipeThrough(
      new TransformStream<string, string>(
        {
          buffer: "",
          transform(chunk, out) {
            const parts = (this.buffer + chunk).split("\n");
            this.buffer = parts.pop()!;
            for (const p of parts) out.enqueue(p);
          },
        } as Transformer<string, string> & { buffer: string },
      ),
    )[Symbol.asyncIterator]();
  }

  async ask(request: Record<string, unknown>): Promise<Record<string, unknown>> {
    await this.#writer.write(new TextEncoder().encode(JSON.stringify(request) + "\n"));
    const { value, done } = await this.#lines.next();
    if (done) throw new SoupError("tools/hf/bench_transformers.py stopped (see its output above)");
    const answer = JSON.parse(value);
    if (answer.error) throw new SoupError(`tools/hf/bench_transformers.py: ${answer.error}`);
    return answer;
  }

  async close(): Promise<void> {
    await this.#writer.close();
    await this.#child.status;
  }
}

const seconds = async (fn: () => Promise<unknown>) => {
  const t0 = performance.now();
  await fn();
  return (performance.now() - t0) / 1000;
};
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Median seconds of this engine's one-token steps on a 256-token prompt's state. */
async function ourDecode(engine: OnnxEngine): Promise<number> {
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
  return median(steps);
}

/** One measurement's rounds, both sides, and what they say. */
interface Paired {
  thisEngine: number[];
  transformers: number[];
  /** transformers / this engine, per round. */
  ratioPerRound: number[];
  /** Ratio of the two sides' best times. */
  ratioOfBest: number;
  /** Lowest and highest per-round ratio. */
  ratioSpread: [number, number];
}

function paired(ours: number[], theirs: number[]): Paired {
  const perRound = ours.map((s, i) => theirs[i] / s);
  return {
    thisEngine: ours,
    transformers: theirs,
    ratioPerRound: perRound,
    ratioOfBest: Math.min(...theirs) / Math.min(...ours),
    ratioSpread: [Math.min(...perRound), Math.max(...perRound)],
  };
}

async function benchCase(
  c: Case,
  python: string,
  threads: number,
  rounds: number,
  roofline: number,
) {
  const dir = await Deno.makeTempDir({ prefix: `soup-bench-hf-${c.name}-` });
  try {
    console.log(`\n== mamba-${c.name}-shaped random checkpoint (float32) ==`);
    await writeRandomCheckpoint(dir, c.config, { seed: 0, maxShardBytes: 2 * 2 ** 30 });
    const hf = new Transformers(python, dir, threads);
    const engine = await OnnxEngine.load(dir, { provider: "cpu", intraOpThreads: threads });
    try {
      const info = await hf.ask({ op: "info" });
      const key = ([b, l]: [number, number]) => `${b}x${l}`;
      // Same warm-up on both sides: one untimed run of every shape.
      for (const shape of c.shapes) {
        await engine.runBatch(promptIds(...shape));
        await hf.ask({ op: "prefill", shape: key(shape) });
      }
      // Same checkpoint, same numbers: the last logits of prompt 0 agree.
      const first = c.shapes[0];
      const ourLogits = (await engine.run(promptIds(...first)[0])).logits;
      const theirLogits = (await hf.ask({ op: "logits", shape: key(first) })).logits as number[];
      let diff = 0, scale = 0;
      theirLogits.forEach((e, i) => {
        diff = Math.max(diff, Math.abs(ourLogits[i] - e));
        scale = Math.max(scale, Math.abs(e));
      });
      const parity = diff / scale;
      console.log(
        `last logits of prompt 0, this engine vs transformers: ${parity.toExponential(2)}`,
      );

      const times: Record<string, { ours: number[]; theirs: number[] }> = {};
      for (const shape of c.shapes) times[key(shape)] = { ours: [], theirs: [] };
      if (c.decode) times.decode = { ours: [], theirs: [] };
      for (let r = 0; r < rounds; r++) {
        const oursFirst = r % 2 === 0;
        const line: string[] = [];
        for (const shape of c.shapes) {
          const seqs = promptIds(...shape);
          const ours = () => seconds(() => engine.runBatch(seqs));
          const theirs = async () =>
            (await hf.ask({ op: "prefill", shape: key(shape) })).seconds as number;
          const t = times[key(shape)];
          if (oursFirst) t.ours.push(await ours()), t.theirs.push(await theirs());
          else t.theirs.push(await theirs()), t.ours.push(await ours());
          line.push(
            `${key(shape)} ${t.ours.at(-1)!.toFixed(3)} s vs ${t.theirs.at(-1)!.toFixed(3)} s ` +
              `(${(t.theirs.at(-1)! / t.ours.at(-1)!).toFixed(2)}x)`,
          );
        }
        if (c.decode) {
          const t = times.decode;
          const theirs = async () =>
            (await hf.ask({ op: "decode", steps: DECODE_STEPS })).seconds as number;
          if (oursFirst) t.ours.push(await ourDecode(engine)), t.theirs.push(await theirs());
          else t.theirs.push(await theirs()), t.ours.push(await ourDecode(engine));
          line.push(
            `decode step ${(t.ours.at(-1)! * 1000).toFixed(1)} ms vs ` +
              `${(t.theirs.at(-1)! * 1000).toFixed(1)} ms`,
          );
        }
        console.log(
          `round ${r + 1} (${oursFirst ? "this engine" : "transformers"} first): ${
            line.join(", ")
          }`,
        );
      }

      const perToken = flopsPerTokenOf(c.config);
      const prefill: Record<string, unknown> = {};
      for (const shape of c.shapes) {
        const k = key(shape);
        const p = paired(times[k].ours, times[k].theirs);
        // The matrix products alone at the roofline bound what any float32 engine can reach.
        const floor = (shape[0] * shape[1] * perToken) / (roofline * 1e9);
        const bound = Math.min(...p.transformers) / floor;
        const fraction = floor / Math.min(...p.thisEngine);
        prefill[k] = { ...p, matmulSecondsAtRoofline: floor, ratioBound: bound, fraction };
        console.log(
          `prefill ${k}: ${p.ratioOfBest.toFixed(2)}x transformers (best ${
            Math.min(...p.thisEngine).toFixed(3)
          } s vs ${Math.min(...p.transformers).toFixed(3)} s; rounds ${
            p.ratioSpread.map((x) => x.toFixed(2)).join(" to ")
          }x); the matrix products alone take ${floor.toFixed(3)} s at the roofline, so no ` +
            `engine here beats ${bound.toFixed(1)}x; this engine runs at ${
              (100 * fraction).toFixed(0)
            }% of the roofline`,
        );
      }
      let decode: Paired | undefined;
      if (c.decode) {
        decode = paired(times.decode.ours, times.decode.theirs);
        console.log(
          `decode step: ${decode.ratioOfBest.toFixed(2)}x transformers (best ${
            (Math.min(...decode.thisEngine) * 1000).toFixed(1)
          } ms vs ${(Math.min(...decode.transformers) * 1000).toFixed(1)} ms; rounds ${
            decode.ratioSpread.map((x) => x.toFixed(2)).join(" to ")
          }x)`,
        );
      }
      return {
        checkpoint:
          `mamba-${c.name}-shaped random (${c.config.numHiddenLayers} layers, d ${c.config.hiddenSize}, d_in ${c.config.intermediateSize}, n ${c.config.stateSize}, vocab ${c.config.vocabSize}), F32`,
        info,
        prefillSeconds: prefill,
        ...(decode ? { decodeStepSeconds: decode } : {}),
        lastLogitsRelativeDifference: parity,
      };
    } finally {
      await engine.close();
      await hf.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

export async function benchTransformers(args: string[] = []): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      rounds: { type: "string", default: "3" },
      shape: { type: "string", default: "all" },
    },
  });
  const rounds = Number(values.rounds ?? 3);
  if (!Number.isInteger(rounds) || rounds < 1) {
    throw new SoupError(`--rounds must be a whole number of at least 1, got "${values.rounds}"`);
  }
  const cases = CASES.filter((c) => values.shape === "all" || values.shape === c.name);
  if (cases.length === 0) throw new SoupError(`--shape must be 130m, 1.4b or all`);
  const python = await hfPython();
  const threads = navigator.hardwareConcurrency;
  const roofline = await matmulRoofline();
  console.log(
    `onnxruntime CPU MatMul roofline: ${roofline.toFixed(1)} GFLOP/s, ${threads} threads`,
  );
  const results = [];
  for (const c of cases) results.push(await benchCase(c, python, threads, rounds, roofline));
  const deno = JSON.parse(await Deno.readTextFile(`${PROJECT_ROOT}/deno.json`));
  const info = results[0].info as Record<string, string>;
  const result = {
    command: `deno task bench transformers${args.length ? " " + args.join(" ") : ""}`,
    date: new Date().toISOString().slice(0, 10),
    machine: { cpu: cpuModel(), cores: navigator.hardwareConcurrency, threads },
    versions: {
      deno: Deno.version.deno,
      "onnxruntime-node": String(deno.imports["onnxruntime-node"]).split("@").at(-1),
      transformers: info.transformers,
      torch: info.torch,
      python: info.python,
    },
    thisEngine: "onnx-cpu: onnxruntime segments with the WebAssembly conv and scan kernels",
    transformers: "torch eager float32, reference PyTorch scan (no mamba_ssm kernels)",
    method: `${rounds} rounds after one warm-up run of each shape on each side; in each round ` +
      "every shape once on each side, this engine first in odd rounds; ratio = transformers " +
      "seconds / this engine's seconds",
    matmulRooflineGflops: roofline,
    cases: results.map(({ info: _, ...rest }) => rest),
  };
  const file = `${PROJECT_ROOT}/bench/results/transformers_cpu.json`;
  await Deno.mkdir(`${PROJECT_ROOT}/bench/results`, { recursive: true });
  const tmp = `${file}.tmp-${crypto.randomUUID().slice(0, 8)}`;
  await Deno.writeTextFile(tmp, JSON.stringify(result, null, 2) + "\n");
  await Deno.rename(tmp, file);
  console.log(`written ${file}`);
}

if (import.meta.main) await benchTransformers(Deno.args);
