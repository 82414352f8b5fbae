/**
 * Which shard of a run this process computes (`reproduce --shard`): given as `I/N`, or read from
 * a Slurm job array's or a Kubernetes Indexed Job's environment.
 *
 * @module
 */

import { SoupError } from "../util/errors.ts";
import type { Shard } from "./result_cache.ts";

export type { Shard };

/**
 * `--shard I/N` (I from 0), `--shard slurm` (`SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN` of
 * `SLURM_ARRAY_TASK_COUNT`), `--shard k8s` with `--shard-count N` (`JOB_COMPLETION_INDEX` of
 * N), or undefined when `spec` is. A malformed one is a one-line {@link SoupError}.
 *
 * @example
 * ```ts
 * import { parseShard } from "./shard.ts";
 * const a = parseShard("1/3", undefined, {});
 * const b = parseShard("slurm", undefined, {
 *   SLURM_ARRAY_TASK_ID: "5", SLURM_ARRAY_TASK_MIN: "4", SLURM_ARRAY_TASK_COUNT: "3",
 * });
 * if (a?.index !== 1 || a.count !== 3 || b?.index !== 1 || b.count !== 3) throw new Error();
 * ```
 */
export function parseShard(
  spec: string | undefined,
  count: string | undefined,
  env: Record<string, string | undefined>,
): Shard | undefined {
  if (spec === undefined) {
    if (count !== undefined) throw new SoupError("--shard-count goes with --shard k8s");
    return undefined;
  }
  const int = (v: string | undefined, what: string) => {
    const n = Number(v);
    if (v === undefined || v.trim() === "" || !Number.isInteger(n) || n < 0) {
      throw new SoupError(`--shard ${spec}: ${what} is ${JSON.stringify(v)}, not a whole number`);
    }
    return n;
  };
  let index: number, total: number;
  if (spec === "slurm") {
    const id = int(env.SLURM_ARRAY_TASK_ID, "SLURM_ARRAY_TASK_ID");
    index = id - int(env.SLURM_ARRAY_TASK_MIN ?? "0", "SLURM_ARRAY_TASK_MIN");
    total = int(env.SLURM_ARRAY_TASK_COUNT, "SLURM_ARRAY_TASK_COUNT");
  } else if (spec === "k8s") {
    index = int(env.JOB_COMPLETION_INDEX, "JOB_COMPLETION_INDEX");
    total = int(count, "--shard-count");
  } else {
    const m = /^(\d+)\/(\d+)$/.exec(spec);
    if (m === null) {
      throw new SoupError(`--shard must be I/N (e.g. 0/4), slurm or k8s, got "${spec}"`);
    }
    [index, total] = [Number(m[1]), Number(m[2])];
  }
  if (total < 1 || index >= total) {
    throw new SoupError(`--shard ${spec}: shard ${index} of ${total} does not exist`);
  }
  return { index, count: total };
}
