/**
 * Work counters of this process: what the engines read and what the state folders and the store
 * wrote. `reproduce --plan` reads them around a run on a stand-in model to say what the real run
 * will process; tests compare them between a plan and a run.
 *
 * @module
 */

/** What was counted since the last {@link resetWorkCounters}. */
export interface WorkCounters {
  /** Engine calls (`runBatch`, a `run` being a batch of one). */
  engineCalls: number;
  /** Sequences read. */
  sequences: number;
  /** Tokens read. */
  tokens: number;
  /** Positions whose logits were computed (the last of each sequence, or every one). */
  logitPositions: number;
  /** Seconds spent inside engine calls. */
  engineSeconds: number;
  /** Layers of states written (a full state of L layers is L rows), to the store or a folder. */
  stateRows: number;
  /** Logits vectors written with them. */
  logitsStored: number;
}

const counters: WorkCounters = {
  engineCalls: 0,
  sequences: 0,
  tokens: 0,
  logitPositions: 0,
  engineSeconds: 0,
  stateRows: 0,
  logitsStored: 0,
};

/**
 * A copy of the counters.
 *
 * @example
 * ```ts
 * import { countWork, readWorkCounters, resetWorkCounters } from "./counters.ts";
 * resetWorkCounters();
 * countWork({ tokens: 3, sequences: 1 });
 * if (readWorkCounters().tokens !== 3) throw new Error();
 * ```
 */
export function readWorkCounters(): WorkCounters {
  return { ...counters };
}

/** Sets every counter to 0. */
export function resetWorkCounters(): void {
  for (const k of Object.keys(counters) as (keyof WorkCounters)[]) counters[k] = 0;
}

/** Adds to the counters. */
export function countWork(delta: Partial<WorkCounters>): void {
  for (const [k, v] of Object.entries(delta) as [keyof WorkCounters, number][]) counters[k] += v;
}
