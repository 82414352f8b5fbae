/**
 * Runs the selective-scan kernel of `scan_kernel.ts` on the CPU, split by channels over
 * `threads` (this thread and `threads - 1` workers sharing one WebAssembly memory).
 *
 * @module
 */

import { SoupError } from "../util/errors.ts";
import { buildScanKernel, padState, SCAN_PARAMS, SCRATCH_BYTES } from "./scan_kernel.ts";

/** One layer's scan inputs, as onnxruntime gives them (C order, float32). */
export interface ScanInputs {
  /** Rows (sequences) and tokens per row (padded). */
  rows: number;
  tokens: number;
  /** Real tokens of each row. */
  lengths: ArrayLike<number>;
  /** dt before softplus, u, gate: (rows*tokens, d_in). */
  dt: Float32Array;
  u: Float32Array;
  gate: Float32Array;
  /** B and C, state axis padded: (rows*tokens, nPad). */
  b: Float32Array;
  c: Float32Array;
  /** A = -exp(A_log), state axis padded: (d_in, nPad). */
  a: Float32Array;
  /** D (d_in). */
  d: Float32Array;
  /** State in, state axis padded: (rows, d_in, nPad). Not changed. */
  h: Float32Array;
}

/** One layer's scan outputs: views into the kernel's memory, valid until the next run. */
export interface ScanOutputs {
  /** Gated output (rows*tokens, d_in); 0 on padding. */
  y: Float32Array;
  /** State after each row's last real token (rows, d_in, nPad). */
  h: Float32Array;
  /** Sum of delta over each row's real tokens (rows, d_in). */
  deltaSum: Float32Array;
}

const PAGE = 65536;
/**
 * Default {@link WasmScanOptions.minParallelWork}: about a millisecond of work for one thread,
 * more than a round trip to the workers costs.
 */
const PARALLEL_MIN = 2 ** 20;

/** Options of {@link WasmScan.create}. */
export interface WasmScanOptions {
  /** Threads, this one included. @default the number of CPU cores */
  threads?: number;
  /** Whether to use relaxed-SIMD multiply-add. @default whether this engine has it */
  fma?: boolean;
  /**
   * State updates (rows x tokens x d_in x padded n) below which a run stays on the calling
   * thread (one token while generating, say). @default 2^20
   */
  minParallelWork?: number;
}

/**
 * The scan kernel for one (d_in, n) shape, with its memory and workers.
 *
 * @example
 * ```ts
 * import { WasmScan } from "./wasm_scan.ts";
 * // One channel, one state, one token: h = exp(delta A) h0 + delta u B, y = C h + D u.
 * const scan = await WasmScan.create(1, 1, { threads: 1 });
 * const one = (x: number) => Float32Array.of(x);
 * const pad = (x: number) => Float32Array.of(x, 0, 0, 0);
 * const dt = 0.5, delta = Math.log1p(Math.exp(dt));
 * const out = await scan.run({
 *   rows: 1, tokens: 1, lengths: [1],
 *   dt: one(dt), u: one(2), gate: one(1), b: pad(3), c: pad(1), a: pad(-1), d: one(0), h: pad(1),
 * });
 * const h = Math.exp(-delta) + delta * 2 * 3;
 * if (Math.abs(out.h[0] - h) > 1e-5 || Math.abs(out.y[0] - h) > 1e-5) throw new Error("scan");
 * scan.close();
 * ```
 */
export class WasmScan {
  readonly dIn: number;
  readonly n: number;
  readonly nPad: number;
  /** Threads the channels are split over (this one included). */
  readonly threads: number;
  /** Whether the kernel uses relaxed-SIMD multiply-add. */
  readonly fma: boolean;
  readonly #memory: WebAssembly.Memory;
  readonly #scan: (...args: number[]) => void;
  readonly #workers: Worker[];
  readonly #minParallelWork: number;

  private constructor(
    dIn: number,
    n: number,
    fma: boolean,
    memory: WebAssembly.Memory,
    scan: (...args: number[]) => void,
    workers: Worker[],
    minParallelWork: number,
  ) {
    this.dIn = dIn;
    this.#minParallelWork = minParallelWork;
    this.n = n;
    this.nPad = padState(n);
    this.fma = fma;
    this.#memory = memory;
    this.#scan = scan;
    this.#workers = workers;
    this.threads = workers.length + 1;
  }

  /** Compiles the kernel for inner width `dIn` and state size `n` and starts its workers. */
  static async create(
    dIn: number,
    n: number,
    options: WasmScanOptions = {},
  ): Promise<WasmScan> {
    const threads = Math.max(
      1,
      Math.min(options.threads ?? navigator.hardwareConcurrency ?? 1, 64),
    );
    const shared = threads > 1;
    // Relaxed SIMD (fused multiply-add) unless asked otherwise or the engine lacks it.
    let fma = options.fma ?? true;
    let bytes = buildScanKernel(dIn, n, { shared, fma });
    if (fma && options.fma === undefined && !WebAssembly.validate(bytes)) {
      fma = false;
      bytes = buildScanKernel(dIn, n, { shared, fma });
    }
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 65536, shared });
    const { instance } = await WebAssembly.instantiate(bytes, { env: { memory } });
    const workers: Worker[] = [];
    try {
      for (let w = 1; w < threads; w++) {
        const worker = new Worker(new URL("./_scan_worker.ts", import.meta.url), {
          type: "module",
        });
        workers.push(worker);
        await call(worker, { bytes, memory });
      }
    } catch (err) {
      for (const w of workers) w.terminate();
      throw err;
    }
    return new WasmScan(
      dIn,
      n,
      fma,
      memory,
      instance.exports.scan as (...a: number[]) => void,
      workers,
      options.minParallelWork ?? PARALLEL_MIN,
    );
  }

  /** Runs one layer's scan. */
  async run(inputs: ScanInputs): Promise<ScanOutputs> {
    const { dIn, nPad } = this;
    const { rows, tokens } = inputs;
    const flat = rows * tokens * dIn;
    const check = (name: string, got: number, want: number) => {
      if (got !== want) {
        throw new SoupError(
          `Cannot run the scan: input "${name}" holds ${got} values, expected ${want}`,
        );
      }
    };
    check("dt", inputs.dt.length, flat);
    check("u", inputs.u.length, flat);
    check("gate", inputs.gate.length, flat);
    check("b", inputs.b.length, rows * tokens * nPad);
    check("c", inputs.c.length, rows * tokens * nPad);
    check("a", inputs.a.length, dIn * nPad);
    check("d", inputs.d.length, dIn);
    check("h", inputs.h.length, rows * dIn * nPad);
    check("lengths", inputs.lengths.length, rows);

    // Layout: 16-byte aligned arrays, each followed by 16 bytes of slack for vector tails.
    let top = 0;
    const alloc = (floats: number) => {
      const at = top;
      top = Math.ceil((top + floats * 4 + 16) / 16) * 16;
      return at;
    };
    const at = {
      lens: alloc(rows),
      dt: alloc(flat),
      delta: alloc(flat),
      u: alloc(flat),
      gate: alloc(flat),
      b: alloc(rows * tokens * nPad),
      c: alloc(rows * tokens * nPad),
      a: alloc(dIn * nPad),
      d: alloc(dIn),
      h: alloc(rows * dIn * nPad),
      y: alloc(flat),
      deltaSum: alloc(rows * dIn),
      du: alloc(flat),
      scratch: alloc(this.threads * SCRATCH_BYTES / 4),
    };
    const pages = Math.ceil(top / PAGE);
    const have = this.#memory.buffer.byteLength / PAGE;
    if (pages > have) this.#memory.grow(pages - have);
    const buf = this.#memory.buffer;
    const f32 = (offset: number, length: number) => new Float32Array(buf, offset, length);
    const lens = new Int32Array(buf, at.lens, rows);
    for (let r = 0; r < rows; r++) lens[r] = inputs.lengths[r];
    f32(at.dt, flat).set(inputs.dt);
    f32(at.u, flat).set(inputs.u);
    f32(at.gate, flat).set(inputs.gate);
    f32(at.b, rows * tokens * nPad).set(inputs.b);
    f32(at.c, rows * tokens * nPad).set(inputs.c);
    f32(at.a, dIn * nPad).set(inputs.a);
    f32(at.d, dIn).set(inputs.d);
    f32(at.h, rows * dIn * nPad).set(inputs.h);

    // Channel ranges in multiples of 4 (the softplus pass works four channels at a time).
    const threads = rows * tokens * dIn * nPad < this.#minParallelWork ? 1 : this.threads;
    const per = Math.ceil(dIn / threads / 4) * 4;
    const args = (thread: number, c0: number, c1: number) => {
      const scratch = at.scratch + thread * SCRATCH_BYTES;
      const named: Record<string, number> = { ...at, scratch, rows, tokens, c0, c1 };
      return SCAN_PARAMS.map((p) => named[p]);
    };
    const pending = this.#workers.map((w, i) => {
      const c0 = Math.min(dIn, (i + 1) * per), c1 = Math.min(dIn, (i + 2) * per);
      return c0 < c1 ? call(w, { args: args(i + 1, c0, c1) }) : Promise.resolve();
    });
    this.#scan(...args(0, 0, Math.min(dIn, per)));
    await Promise.all(pending);
    return {
      y: f32(at.y, flat),
      h: f32(at.h, rows * dIn * nPad),
      deltaSum: f32(at.deltaSum, rows * dIn),
    };
  }

  /** Stops the workers. */
  close(): void {
    for (const w of this.#workers) w.terminate();
    this.#workers.length = 0;
  }
}

/** Posts a message to a worker and waits for its answer (null, or an error text). */
function call(worker: Worker, message: unknown): Promise<void> {
  return new Promise((resolve, reject) => {
    worker.onmessage = (event: MessageEvent) =>
      event.data === null ? resolve() : reject(new Error(`Scan worker failed: ${event.data}`));
    worker.onerror = (event: ErrorEvent) => {
      event.preventDefault();
      reject(new Error(`Scan worker failed: ${event.message}`));
    };
    worker.postMessage(message);
  });
}
