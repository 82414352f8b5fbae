/**
 * Types of the Todd et al. (2024) function-vector tasks.
 *
 * @module
 */

/**
 * The two folders of Todd et al.'s `dataset_files/`: abstractive tasks (the answer is not in the
 * input, e.g. antonym) and extractive tasks (the answer is one of the input's words).
 *
 * @example
 * ```ts
 * import type { TaskKind } from "./types.ts";
 * const kind: TaskKind = "abstractive";
 * if (kind !== "abstractive") throw new Error("unreachable");
 * ```
 */
export type TaskKind = "abstractive" | "extractive";

/**
 * One input-output pair of a task, e.g. `{ input: "hot", output: "cold" }` for antonym.
 *
 * @example
 * ```ts
 * import type { TaskItem } from "./types.ts";
 * const item: TaskItem = { input: "hot", output: "cold" };
 * if (item.output !== "cold") throw new Error("unreachable");
 * ```
 */
export interface TaskItem {
  /** The query text, written after `Q: `. */
  readonly input: string;
  /** The answer, written after `A: ` (the target is `" " + output`). */
  readonly output: string;
}

/**
 * A loaded task: its pairs in the file's order and where they came from.
 *
 * @example
 * ```ts
 * import type { Task } from "./types.ts";
 * const task: Task = {
 *   name: "antonym",
 *   kind: "abstractive",
 *   items: [{ input: "hot", output: "cold" }],
 *   source: "/data/function_vectors/abstractive/antonym.json",
 *   sha256: "ba66e8e399944b557251b11a37b11f9ba7a50f0a57286f7021a8a7b26b469e8d",
 * };
 * if (task.items.length !== 1) throw new Error("one item");
 * ```
 */
export interface Task {
  /** Task name, e.g. `"antonym"`; `"antonym_randomized"` once its outputs were shuffled. */
  readonly name: string;
  /** Folder of the task in Todd et al.'s `dataset_files/`. */
  readonly kind: TaskKind;
  /** The pairs, in the order of the file (or shuffled outputs for a randomized task). */
  readonly items: readonly TaskItem[];
  /** The local file the pairs were read from (in the mirror or the download cache). */
  readonly source: string;
  /** Lowercase hex sha256 of that file's bytes, for cache keys of experiments. */
  readonly sha256: string;
  /** The seed the outputs were shuffled with; present only for a randomized task. */
  readonly shuffleSeed?: number;
}

/**
 * A task as `listTasks()` reports it.
 *
 * @example
 * ```ts
 * import type { TaskInfo } from "./types.ts";
 * const info: TaskInfo = { name: "antonym", kind: "abstractive", size: 2398 };
 * if (info.size !== 2398) throw new Error("unreachable");
 * ```
 */
export interface TaskInfo {
  /** Task name, e.g. `"antonym"`. */
  readonly name: string;
  /** Folder of the task. */
  readonly kind: TaskKind;
  /** Number of input-output pairs. */
  readonly size: number;
}

/**
 * What the token helpers need of a tokenizer: `encode`, adding no special tokens. The
 * `MambaTokenizer` of `loadTokenizer()` (lib/tokenizer) is one.
 *
 * @example
 * ```ts
 * import type { TokenEncoder } from "./types.ts";
 * const bytes: TokenEncoder = { encode: (text) => [...new TextEncoder().encode(text)] };
 * if (bytes.encode("A:").join() !== "65,58") throw new Error("unreachable");
 * ```
 */
export interface TokenEncoder {
  /** Token ids of `text`, with no special token added. */
  encode(text: string): number[];
}
