/**
 * First-token accuracy on a task's test items, as `soup eval` and the ICL figure draw them: the
 * experiments' 70/30 split, the first `n` test items, each read from one state or inside a k-shot
 * prompt whose demonstrations that item draws from the training items.
 *
 * @module
 */
import type { Engine } from "../engine/types.ts";
import type { State } from "../states/state.ts";
import { sampleDemoSets } from "../tasks/sample_demo_sets.ts";
import { splitTask } from "../tasks/split_task.ts";
import type { Task, TaskItem, TokenEncoder } from "../tasks/types.ts";
import { SoupError } from "../util/errors.ts";
import { evaluateFirstToken, type EvaluateResult } from "./first_token_accuracy.ts";

/** Options of {@link evaluateTask}: a state, or a number of shots. */
export interface EvaluateTaskOptions {
  /** The state every query is read from; without it, k-shot prompts from zeros. */
  state?: State;
  /** Demonstrations per prompt, without a state. @default 0 */
  shots?: number;
  /** Test items. */
  n: number;
  /** Seed of the split and of the demonstrations. */
  seed: number;
  /** Only ids below this count as predictions (the tokenizer's size). @default all */
  vocabLimit?: number;
  /** Called after each batch with (items done, items in all). */
  onProgress?: (done: number, total: number) => void;
}

/** The outcome, with the test items' indices in the task and the items themselves. */
export interface TaskEvaluation extends EvaluateResult {
  /** Index in `task.items` of each evaluated item. */
  testIndices: number[];
  /** The evaluated items. */
  testItems: TaskItem[];
  /** Demonstrations per prompt (0 with a state). */
  k: number;
}

/**
 * Evaluates `engine` on `task`'s test items. Each test item draws its own k training items
 * (seeded by the item), as the ICL figure does: the protocol keeps test items out of every
 * prompt's demonstrations, not the sets apart. Too few training items is a {@link SoupError}.
 *
 * @example
 * ```ts
 * import { evaluateTask } from "./evaluate_task.ts";
 * import { openEngine } from "../engine/open_engine.ts";
 * import { tinyMambaConfig, writeRandomCheckpoint } from "../model/random_checkpoint.ts";
 * const dir = await Deno.makeTempDir();
 * await writeRandomCheckpoint(dir, tinyMambaConfig({ vocabSize: 64 }));
 * const engine = await openEngine(dir, { device: "cpu" });
 * const tok = { encode: (t: string) => [...t].map((c) => c.charCodeAt(0) % 64) };
 * const items = Array.from({ length: 20 }, (_, i) => ({ input: `x${i}`, output: `y${i}` }));
 * const task = { name: "toy", kind: "abstractive" as const, items, source: "", sha256: "" };
 * const out = await evaluateTask(engine, tok, task, { shots: 2, n: 3, seed: 0 });
 * if (out.testItems.length !== 3 || out.k !== 2) throw new Error();
 * await engine.close();
 * ```
 */
export async function evaluateTask(
  engine: Engine,
  tokenizer: TokenEncoder,
  task: Task,
  options: EvaluateTaskOptions,
): Promise<TaskEvaluation> {
  const { state, seed } = options;
  const split = splitTask(task, { seed, testFraction: 0.3 });
  const testIndices = split.test.slice(0, options.n);
  const testItems = testIndices.map((i) => task.items[i]);
  const k = state ? 0 : options.shots ?? 0;
  if (!state && split.train.length < k) {
    throw new SoupError(
      `--shots ${k}: task "${task.name}" has only ${split.train.length} training items`,
    );
  }
  const demoSets = state
    ? []
    : testIndices.map((index) =>
      sampleDemoSets(split.train, { count: 1, k, seed: seed * 1_000_003 + index })[0]
    );
  const result = await evaluateFirstToken(engine, tokenizer, testItems, {
    state,
    demos: state ? undefined : (i) => demoSets[i].map((j) => task.items[j]),
    vocabLimit: options.vocabLimit,
    onProgress: options.onProgress,
  });
  return { ...result, testIndices, testItems, k };
}

/** The columns of {@link evaluationRows} (`soup eval --csv`; its first line names an older file). */
export const EVALUATION_COLUMNS = [
  "task",
  "item",
  "input",
  "output",
  "target",
  "predicted",
  "correct",
  "target_probability",
] as const;

/** One row per evaluated item: the item (its index in the task), target, prediction, probability. */
export function evaluationRows(
  task: Task,
  evaluation: TaskEvaluation,
): Record<(typeof EVALUATION_COLUMNS)[number], string | number | boolean>[] {
  return evaluation.items.map((r) => ({
    task: task.name,
    item: evaluation.testIndices[r.index],
    input: evaluation.testItems[r.index].input,
    output: evaluation.testItems[r.index].output,
    target: r.target,
    predicted: r.predicted,
    correct: r.correct,
    target_probability: r.targetProbability,
  }));
}
