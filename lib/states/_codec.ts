/**
 * The one codec of a state's arrays on disk, shared by state folders (`saveState`, `loadState`)
 * and the state store's entries: `conv.npy` (m, d_in, K), `ssm.npy` (m, d_in, n),
 * `delta_sum.npy` (m, d_in) and, when present, `logits.npy` (V), float32, for m layer rows.
 * What describes the arrays (a state folder's meta.json, a store entry's) is its writer's.
 *
 * @module
 */

import { readNpy, writeNpy } from "../npy/mod.ts";
import { FormatError, NotFoundError } from "../util/errors.ts";
import type { StateArrays, StateShape } from "./state.ts";

/** Writes `arrays` (`rows` layers of `shape`) into the folder `dir` (which must exist). */
export async function writeStateFiles(
  dir: string,
  arrays: StateArrays,
  rows: number,
  shape: StateShape,
): Promise<void> {
  const { dInner: d, convKernel: k, stateSize: n } = shape;
  await writeNpy(`${dir}/conv.npy`, { data: arrays.conv, shape: [rows, d, k] });
  await writeNpy(`${dir}/ssm.npy`, { data: arrays.ssm, shape: [rows, d, n] });
  await writeNpy(`${dir}/delta_sum.npy`, { data: arrays.deltaSum, shape: [rows, d] });
  if (arrays.logits) {
    await writeNpy(`${dir}/logits.npy`, { data: arrays.logits, shape: [arrays.logits.length] });
  }
}

/**
 * Reads the arrays of `rows` layers of `shape` from `dir`, each checked to be float32 of the
 * dims its description implies (`what`, e.g. "meta.json"): a file of another dtype or shape is
 * a {@link FormatError} naming it. `logits`: read when true, when present if "optional".
 * Folders written before `delta_sum.npy` had its name hold `decay.npy`, also read.
 */
export async function readStateFiles(
  dir: string,
  rows: number,
  shape: StateShape & { vocab: number },
  options: { logits: boolean | "optional"; what?: string },
): Promise<StateArrays> {
  const { dInner: d, convKernel: k, stateSize: n, vocab } = shape;
  const read = async (name: string, dims: number[], optional = false) => {
    const path = `${dir}/${name}`;
    let arr;
    try {
      arr = await readNpy(path);
    } catch (err) {
      if (optional && err instanceof NotFoundError) return undefined;
      throw err;
    }
    if (arr.dtype !== "float32" || arr.shape.join() !== dims.join()) {
      throw FormatError.at(
        path,
        `holds ${arr.dtype} (${arr.shape.join(", ")}) but ${options.what ?? "meta.json"} ` +
          `implies float32 (${dims.join(", ")})`,
      );
    }
    const data = arr.data as Float32Array;
    // A state is finite: a NaN or an infinity would spread through every later token. (Logits
    // may hold -Infinity for a masked token; NaN is refused there too.)
    const bad = name === "logits.npy"
      ? data.findIndex((v) => Number.isNaN(v))
      : data.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) {
      throw FormatError.at(
        path,
        `value ${bad} is ${data[bad]}: a state holds finite numbers (a NaN or an infinity would ` +
          `spread through every token read from it)`,
      );
    }
    return data;
  };
  const conv = (await read("conv.npy", [rows, d, k]))!;
  const ssm = (await read("ssm.npy", [rows, d, n]))!;
  const deltaSum = (await read("delta_sum.npy", [rows, d], true)) ??
    (await read("decay.npy", [rows, d]))!;
  const logits = options.logits === false
    ? undefined
    : await read("logits.npy", [vocab], options.logits === "optional");
  return { conv, ssm, deltaSum, ...(logits ? { logits } : {}) };
}
