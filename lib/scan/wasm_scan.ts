/**
 * Runs the kernels of `scan_kernel.ts` (the mixer's conv and selective scan) on the CPU, split
 * by channels over `threads` (this thread and `threads - 1` workers sharing one WebAssembly
 * memory).
 *
 * @module
 */

import { SoupError } from "../util/errors.ts";
import {
  buildScanKernel,
  CONV_PARAMS,
  padState,
  SCAN_PARAMS,
  scratchBytes,
} from "./scan_kernel.ts";

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
  /** Whether `gate` holds the gate branch before its SiLU (the kernel applies it). */
  siluGate?: boolean;
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

/**
 * The arrays of one layer for `rows` x `tokens`, as views into the kernel's memory: write the
 * inputs into them, run {@link WasmScan.conv} and {@link WasmScan.scan}, read the outputs.
 * Valid until {@link WasmScan.buffers} is asked for another shape.
 */
export interface KernelBuffers {
  readonly rows: number;
  readonly tokens: number;
  /** Real tokens of each row. */
  readonly lens: Int32Array;
  /** conv input (rows, K + tokens, d_in): the conv state transposed, then the new inputs. */
  readonly xw: Float32Array;
  /** conv weights (K, d_in) and bias (d_in). */
  readonly convW: Float32Array;
  readonly convBias: Float32Array;
  /** conv output after SiLU, the scan's u (rows*tokens, d_in). */
  readonly u: Float32Array;
  /** The scan's inputs and outputs, as {@link ScanInputs} and {@link ScanOutputs} name them. */
  readonly dt: Float32Array;
  readonly gate: Float32Array;
  readonly b: Float32Array;
  readonly c: Float32Array;
  readonly a: Float32Array;
  readonly d: Float32Array;
  readonly h: Float32Array;
  readonly y: Float32Array;
  readonly deltaSum: Float32Array;
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
  /** Width K of the conv. @default 4 */
  convKernel?: number;
  /**
   * State updates (rows x tokens x d_in x padded n) below which a run stays on the calling
   * thread (one token while generating, say). @default 2^20
   */
  minParallelWork?: number;
}

/**
 * The mixer's kernels (conv and scan) for one (d_in, n, K) shape, with their memory and
 * workers.
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
  /** Width of the conv. */
  readonly convKernel: number;
  /** Threads the channels are split over (this one included). */
  readonly threads: number;
  /** Whether the kernel uses relaxed-SIMD multiply-add. */
  readonly fma: boolean;
  readonly #memory: WebAssembly.Memory;
  readonly #exports: Record<string, (...args: number[]) => void>;
  readonly #workers: Worker[];
  readonly #minParallelWork: number;
  #buffers?: KernelBuffers & { at: Record<string, number> };
  /** The end of the last {@link WasmScan.exclusive} task (tasks run one after another). */
  #queue: Promise<unknown> = Promise.resolve();

  private constructor(
    dIn: number,
    n: number,
    convKernel: number,
    fma: boolean,
    memory: WebAssembly.Memory,
    exports: Record<string, (...args: number[]) => void>,
    workers: Worker[],
    minParallelWork: number,
  ) {
    this.dIn = dIn;
    this.#minParallelWork = minParallelWork;
    this.n = n;
    this.nPad = padState(n);
    this.convKernel = convKernel;
    this.fma = fma;
    this.#memory = memory;
    this.#exports = exports;
    this.#workers = workers;
    this.threads = workers.length + 1;
  }

  /** Compiles the kernels for inner width `dIn` and state size `n` and starts the workers. */
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
    const kernel = options.convKernel ?? 4;
    // Relaxed SIMD (fused multiply-add) unless asked otherwise or the engine lacks it.
    let fma = options.fma ?? true;
    let bytes = buildScanKernel(dIn, n, { shared, fma, kernel });
    if (fma && options.fma === undefined && !WebAssembly.validate(bytes)) {
      fma = false;
      bytes = buildScanKernel(dIn, n, { shared, fma, kernel });
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
      kernel,
      fma,
      memory,
      instance.exports as Record<string, (...args: number[]) => void>,
      workers,
      options.minParallelWork ?? PARALLEL_MIN,
    );
  }

  /**
   * Runs `task` after every task given before it has finished: callers that share this
   * kernel's memory (two runs of one engine at once) take turns instead of overwriting each
   * other's buffers.
   */
  exclusive<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(task, task);
    this.#queue = run.catch(() => {});
    return run;
  }

  /** The arrays for `rows` x `tokens` in the kernel's memory (see {@link KernelBuffers}). */
  buffers(rows: number, tokens: number): KernelBuffers {
    const old = this.#buffers;
    if (old?.rows === rows && old.tokens === tokens) return old;
    const { dIn, nPad, convKernel: k } = this;
    const flat = rows * tokens * dIn;
    // 16-byte aligned arrays, each followed by 16 bytes of slack for vector tails.
    let top = 0;
    const at: Record<string, number> = {};
    const sizes: Record<string, number> = {
      lens: rows,
      xw: rows * (k + tokens) * dIn,
      convW: k * dIn,
      convBias: dIn,
      u: flat,
      dt: flat,
      gate: flat,
      b: rows * tokens * nPad,
      c: rows * tokens * nPad,
      a: dIn * nPad,
      d: dIn,
      h: rows * dIn * nPad,
      y: flat,
      deltaSum: rows * dIn,
      scratch: this.threads * scratchBytes(nPad) / 4,
    };
    for (const [name, floats] of Object.entries(sizes)) {
      at[name] = top;
      top = Math.ceil((top + floats * 4 + 16) / 16) * 16;
    }
    const pages = Math.ceil(top / PAGE);
    const have = this.#memory.buffer.byteLength / PAGE;
    if (pages > have) this.#memory.grow(pages - have);
    const buf = this.#memory.buffer;
    const view = (name: string) => new Float32Array(buf, at[name], sizes[name]);
    this.#buffers = {
      rows,
      tokens,
      at,
      lens: new Int32Array(buf, at.lens, rows),
      xw: view("xw"),
      convW: view("convW"),
      convBias: view("convBias"),
      u: view("u"),
      dt: view("dt"),
      gate: view("gate"),
      b: view("b"),
      c: view("c"),
      a: view("a"),
      d: view("d"),
      h: view("h"),
      y: view("y"),
      deltaSum: view("deltaSum"),
    };
    return this.#buffers;
  }

  /** Runs `fn` over the channels, split in multiples of 4 over the threads when `work` is large. */
  async #dispatch(
    fn: "scan" | "conv",
    work: number,
    args: (thread: number, c0: number, c1: number) => number[],
  ): Promise<void> {
    const dIn = this.dIn;
    const threads = work < this.#minParallelWork ? 1 : this.threads;
    const per = Math.ceil(dIn / threads / 4) * 4;
    const pending = this.#workers.map((w, i) => {
      const c0 = Math.min(dIn, (i + 1) * per), c1 = Math.min(dIn, (i + 2) * per);
      return c0 < c1 ? call(w, { fn, args: args(i + 1, c0, c1) }) : Promise.resolve();
    });
    this.#exports[fn](...args(0, 0, Math.min(dIn, per)));
    await Promise.all(pending);
  }

  /** Runs the conv on `buf` (from {@link WasmScan.buffers}): `u` from `xw`, `convW`, `convBias`. */
  conv(buf: KernelBuffers): Promise<void> {
    const at = this.#current(buf).at;
    const named: Record<string, number> = {
      ...at,
      w: at.convW,
      bias: at.convBias,
      rows: buf.rows,
      tokens: buf.tokens,
    };
    return this.#dispatch(
      "conv",
      buf.rows * buf.tokens * this.dIn * this.convKernel * 4,
      (_, c0, c1) => CONV_PARAMS.map((p) => p === "c0" ? c0 : p === "c1" ? c1 : named[p]),
    );
  }

  /**
   * Runs the scan on `buf` (from {@link WasmScan.buffers}): `y`, `h` and `deltaSum` from the
   * other arrays (`h` in and out); with `siluGate`, `gate` holds the gate branch before SiLU.
   */
  scan(buf: KernelBuffers, options: { siluGate?: boolean } = {}): Promise<void> {
    const at = this.#current(buf).at;
    const bytes = scratchBytes(this.nPad);
    const named: Record<string, number> = {
      ...at,
      rows: buf.rows,
      tokens: buf.tokens,
      siluGate: options.siluGate ? 1 : 0,
    };
    return this.#dispatch(
      "scan",
      buf.rows * buf.tokens * this.dIn * this.nPad,
      (thread, c0, c1) =>
        SCAN_PARAMS.map((p) =>
          p === "c0"
            ? c0
            : p === "c1"
            ? c1
            : p === "scratch"
            ? at.scratch + thread * bytes
            : named[p]
        ),
    );
  }

  #current(buf: KernelBuffers): KernelBuffers & { at: Record<string, number> } {
    if (buf !== this.#buffers) {
      throw new SoupError("Cannot run the kernel: these buffers are no longer the current ones");
    }
    return this.#buffers;
  }

  /**
   * Runs one layer's scan on copies of `inputs` (which are not changed). The outputs are
   * views that the next run overwrites.
   */
  run(inputs: ScanInputs): Promise<ScanOutputs> {
    return this.exclusive(() => this.#run(inputs));
  }

  async #run(inputs: ScanInputs): Promise<ScanOutputs> {
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
    const buf = this.buffers(rows, tokens);
    for (let r = 0; r < rows; r++) buf.lens[r] = inputs.lengths[r];
    buf.dt.set(inputs.dt);
    buf.u.set(inputs.u);
    buf.gate.set(inputs.gate);
    buf.b.set(inputs.b);
    buf.c.set(inputs.c);
    buf.a.set(inputs.a);
    buf.d.set(inputs.d);
    buf.h.set(inputs.h);
    await this.scan(buf, { siluGate: inputs.siluGate });
    return { y: buf.y, h: buf.h, deltaSum: buf.deltaSum };
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
