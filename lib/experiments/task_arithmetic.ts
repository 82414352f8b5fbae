/**
 * The task arithmetic anecdote of State Soup: a counting state mixed with an English-to-French
 * state should count in French. The paper's exact prompts could not be looked up here; this
 * module's setup, in the Q/A format of the skill states (Todd et al.'s template):
 *
 * - counting state: the state after `encodeDemos()` of the demonstrations
 *   `Q: one\nA: two\n\n ... Q: thirteen\nA: fourteen\n\n` (`countTo` 14: n -> n + 1 for n = 1 ..
 *   countTo - 1, number words), i.e. `<|endoftext|>` then the demonstrations;
 * - translation state: the state after `shots` demonstrations of `english-french`, drawn with
 *   `seed` from the training part of its 70/30 split, number words (zero .. twenty) left out of
 *   the pool so the state holds no French number;
 * - mix: `mixWeighted([count, french], [1 - w, w])` (`mode` "interpolate"), or
 *   `taskArithmetic(count, [{ state: french, weight: w }])` (`mode` "add");
 * - query: `Q: fourteen\nA:` read from the mix; the next-token distribution is recorded.
 *
 * Counting alone answers " fifteen", translating alone " quatorze", and counting in French
 * " quinze" (tokens 42116 " quin", 2721 "ze"): the targets are scored by their first token
 * (`firstTargetToken`), which differs for the three words.
 *
 * @module
 */

import { mixWeighted } from "../mixing/mix_weighted.ts";
import {
  COUNTING_TASK,
  countingTask,
  type PairParams,
  type PairPlan,
  type PairRow,
  pairRows,
  planPairs,
  summarizePairs,
} from "./arithmetic_pairs.ts";
import { FIGURE1_TASKS } from "./clustering.ts";
import { loadFigureTasks } from "./_tasks.ts";
import { taskArithmetic } from "../mixing/task_arithmetic.ts";
import { plotArithmeticPairs, plotTaskArithmetic } from "../plot/task_arithmetic.ts";
import type { Row } from "../results/csv.ts";
import type { State } from "../states/state.ts";
import { buildQueryPrompt } from "../tasks/build_prompt.ts";
import { encodeDemos } from "../tasks/encode_demos.ts";
import { firstTargetToken } from "../tasks/first_target_token.ts";
import { loadTask } from "../tasks/load_task.ts";
import { sampleDemoSets } from "../tasks/sample_demo_sets.ts";
import { splitTask } from "../tasks/split_task.ts";
import type { TaskItem } from "../tasks/types.ts";
import { ConfigError } from "../util/errors.ts";
import { softmaxParts } from "../util/softmax.ts";
import { ownUnit } from "./result_cache.ts";
import {
  type ExperimentOptions,
  type ExperimentOutput,
  type ExperimentRun,
  runExperiment,
} from "./context.ts";

/**
 * Parameters of {@link runTaskArithmetic}.
 *
 * @example
 * ```ts
 * import type { TaskArithmeticParams } from "./task_arithmetic.ts";
 * const params: Partial<TaskArithmeticParams> = { weights: [0, 0.5, 1], mode: "add" };
 * if (params.mode !== "add") throw new Error();
 * ```
 */
export type TaskArithmeticParams = PairParams & {
  /** Counting demonstrations n -> n + 1 for n = 1 .. countTo - 1 (2 .. 20). */
  countTo: number;
  /** The query's input, `Q: {query}\nA:`. */
  query: string;
  /** Task of the second state. */
  translationTask: string;
  /** Demonstrations in the translation state. */
  shots: number;
  /** Seed of the task split and of the demonstrations drawn. */
  seed: number;
  /** Mixing weights w of the translation state. */
  weights: number[];
  /** `"interpolate"`: (1 - w) count + w french; `"add"`: count + w french. */
  mode: "interpolate" | "add";
  /** Answers whose first-token probability is tracked (without the leading space). */
  targets: string[];
  /** Most probable tokens recorded per weight. */
  topK: number;
};

/**
 * English number words 0 .. 20, the counting vocabulary.
 *
 * @example
 * ```ts
 * import { NUMBER_WORDS } from "./task_arithmetic.ts";
 * if (NUMBER_WORDS[15] !== "fifteen" || NUMBER_WORDS.length !== 21) throw new Error();
 * ```
 */
export const NUMBER_WORDS: readonly string[] = [
  "zero",
  "one",
  "two",
  "three",
  "four",
  "five",
  "six",
  "seven",
  "eight",
  "nine",
  "ten",
  "eleven",
  "twelve",
  "thirteen",
  "fourteen",
  "fifteen",
  "sixteen",
  "seventeen",
  "eighteen",
  "nineteen",
  "twenty",
];

/**
 * The anecdote's setup as this project reads it (the paper's prompts could not be looked up):
 * counting to fourteen, 16 English-French demonstrations, w = 0, 0.1, ..., 1 interpolated.
 *
 * @example
 * ```ts
 * import { PAPER_TASK_ARITHMETIC } from "./task_arithmetic.ts";
 * if (PAPER_TASK_ARITHMETIC.weights.length !== 11) throw new Error();
 * ```
 */
export const PAPER_TASK_ARITHMETIC: TaskArithmeticParams = {
  countTo: 14,
  query: "fourteen",
  translationTask: "english-french",
  shots: 16,
  seed: 0,
  weights: [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1],
  mode: "interpolate",
  targets: ["fifteen", "quinze", "quatorze"],
  topK: 5,
  pairTasks: [...FIGURE1_TASKS, COUNTING_TASK],
  pairShots: 16,
  pairItems: 40,
  pairMinItems: 5,
  pairWeights: [0, 0.25, 0.5, 0.75, 1],
};

/**
 * The same with five weights (0, 0.25, 0.5, 0.75, 1): about 8 s with a mamba-130m-sized model
 * on a 2-core CPU (measured on a random checkpoint of that shape), under a second on a tiny one.
 *
 * @example
 * ```ts
 * import { QUICK_TASK_ARITHMETIC } from "./task_arithmetic.ts";
 * if (QUICK_TASK_ARITHMETIC.weights.join() !== "0,0.25,0.5,0.75,1") throw new Error();
 * ```
 */
export const QUICK_TASK_ARITHMETIC: TaskArithmeticParams = {
  ...PAPER_TASK_ARITHMETIC,
  weights: [0, 0.25, 0.5, 0.75, 1],
  pairItems: 10,
  pairWeights: [0, 0.5, 1],
};

/**
 * The counting demonstrations `{ input: NUMBER_WORDS[n], output: NUMBER_WORDS[n + 1] }` for
 * n = 1 .. countTo - 1.
 *
 * @param countTo The last number word written (2 .. 20).
 * @example
 * ```ts
 * import { countingDemos } from "./task_arithmetic.ts";
 * const demos = countingDemos(3);
 * if (JSON.stringify(demos) !== '[{"input":"one","output":"two"},{"input":"two","output":"three"}]') {
 *   throw new Error(JSON.stringify(demos));
 * }
 * ```
 */
export function countingDemos(countTo: number): TaskItem[] {
  if (!Number.isInteger(countTo) || countTo < 2 || countTo >= NUMBER_WORDS.length) {
    throw new ConfigError(
      `Cannot build counting demonstrations: countTo ${countTo} is not an integer in 2..${
        NUMBER_WORDS.length - 1
      }`,
      { field: "countTo" },
    );
  }
  return NUMBER_WORDS.slice(1, countTo).map((w, i) => ({ input: w, output: NUMBER_WORDS[i + 2] }));
}

/** What is cached per weight. */
export interface WeightResult {
  top: { token_id: number; probability: number }[];
  targets: number[];
}

/**
 * Runs the task arithmetic anecdote (figure `arithmetic`) and writes `results/arithmetic/`:
 *
 * - `arithmetic.csv`: the `topK` most probable next tokens after the query for each weight:
 *   `weight`, `rank` (1 = most probable), `token_id`, `token` (decoded, with its leading space),
 *   `probability`. Ordered by weight as given, then rank (ties by token id).
 * - `targets.csv`: per weight and target: `weight`, `target` (the answer word), `token_id` (its
 *   first token), `token` (decoded), `probability`.
 * - `arithmetic.svg` / `.png`: {@link plotTaskArithmetic}, target probabilities against weight.
 *
 * Probabilities are the softmax over the model's whole (padded) vocabulary; the top tokens are
 * taken among the tokenizer's ids (padding rows have no text). The two skill states are cached
 * (`count-to<N>`, `<task>-k<shots>-seed<seed>`), and each weight's result (`weight-<w>`).
 *
 * @param params Overrides of {@link PAPER_TASK_ARITHMETIC}.
 * @param options Model, device, result and cache folders, progress lines.
 * @returns The paths written.
 * @example
 * ```ts ignore
 * import { QUICK_TASK_ARITHMETIC, runTaskArithmetic } from "./task_arithmetic.ts";
 * await runTaskArithmetic(QUICK_TASK_ARITHMETIC, { model: "state-spaces/mamba-130m-hf" });
 * ```
 */
export async function runTaskArithmetic(
  params: Partial<TaskArithmeticParams> = {},
  options: ExperimentOptions = {},
): Promise<string[]> {
  const inputs = await prepareTaskArithmetic(params, options);
  return await runExperiment("arithmetic", inputs.cacheParams, options, async (run) => {
    const states = await arithmeticStates(run, inputs);
    const results: WeightResult[] = [];
    for (const w of inputs.params.weights) {
      const r = await ownUnit(() => mixAndRead(run, inputs, states, w));
      if (r) results.push(r);
    }
    const pairs: PairRow[] = [];
    for (const plan of inputs.pairs) {
      const rows = await ownUnit(() => pairRows(run, plan, inputs.params));
      if (rows) pairs.push(...rows);
    }
    if (run.cache.shard) return { tables: {} }; // a shard's part: the merge writes the results
    return arithmeticOutput(run, inputs, results, pairs);
  });
}

/** What the arithmetic figure reads before any model: {@link prepareTaskArithmetic}. */
export interface ArithmeticInputs {
  /** The parameters, defaults filled in and checked. */
  params: TaskArithmeticParams;
  /** The counting demonstrations ("one" -> "two", ...). */
  count: TaskItem[];
  /** The English-French demonstrations (no number words among them), and their indices. */
  french: TaskItem[];
  picked: number[];
  /** The ordered pairs of tasks whose composition the data defines (`planPairs`). */
  pairs: PairPlan[];
  /** What the result cache is keyed by: the parameters and the translation file's sha256. */
  cacheParams: Record<string, unknown>;
}

/**
 * Step 1 of the arithmetic figure: the counting demonstrations and `shots` English-French ones
 * drawn from the training split (no number words). No model is needed.
 *
 * @example
 * ```ts ignore
 * const inputs = await prepareTaskArithmetic(PRESETS.organism.arithmetic);
 * inputs.count[0]; // { input: "one", output: "two" }
 * ```
 */
export async function prepareTaskArithmetic(
  params: Partial<TaskArithmeticParams> = {},
  options: ExperimentOptions = {},
): Promise<ArithmeticInputs> {
  const p: TaskArithmeticParams = { ...PAPER_TASK_ARITHMETIC, ...params };
  checkParams(p);
  const count = countingDemos(p.countTo);
  const task = await loadTask(p.translationTask, {
    mirror: options.mirror,
    offline: options.offline,
  });
  const numbers = new Set(NUMBER_WORDS);
  const pool = splitTask(task, { seed: p.seed, testFraction: 0.3 }).train
    .filter((i) => !numbers.has(task.items[i].input.trim().toLowerCase()));
  const [picked] = sampleDemoSets(pool, { count: 1, k: p.shots, seed: p.seed });
  const french = picked.map((i) => task.items[i]);
  const named = p.pairTasks.filter((t) => t !== COUNTING_TASK);
  const loaded = await loadFigureTasks(named, options, p.seed);
  const pairTasks = p.pairTasks.map((name) =>
    name === COUNTING_TASK ? countingTask(NUMBER_WORDS) : loaded.tasks[named.indexOf(name)]
  );
  return {
    params: p,
    count,
    french,
    picked,
    pairs: planPairs(pairTasks, p),
    cacheParams: { ...p, translationSha256: task.sha256, pairTaskSha256: loaded.sha256 },
  };
}

/** Step 2: the counting skill's state and the translation skill's, read from the zero state. */
export async function arithmeticStates(
  run: ExperimentRun,
  inputs: ArithmeticInputs,
): Promise<{ count: State; french: State }> {
  const { engine, tokenizer } = run.model;
  const [count, french] = await run.model.store.extract(engine, [
    { ids: encodeDemos(tokenizer, inputs.count) },
    { ids: encodeDemos(tokenizer, inputs.french) },
  ], { batchSize: 1 });
  return { count, french };
}

/**
 * Step 3, for one weight w: the two states mixed (`add`: count + w french; `interpolate`:
 * (1 - w) count + w french), the query read from the mix, and the next token's probabilities:
 * the `topK` most likely tokens and each target's. Cached as `weight-<w>`.
 */
export async function mixAndRead(
  run: ExperimentRun,
  inputs: ArithmeticInputs,
  states: { count: State; french: State },
  w: number,
): Promise<WeightResult> {
  const p = inputs.params;
  const { engine, tokenizer } = run.model;
  const prompt = buildQueryPrompt({ input: p.query });
  const r = await run.cache.json<WeightResult>(`weight-${w}`, async () => {
    const mixed: State = p.mode === "add"
      ? taskArithmetic(states.count, [{ state: states.french, weight: w }])
      : mixWeighted([states.count, states.french], [1 - w, w]);
    const { logits } = await engine.run(tokenizer.encode(prompt), { state: mixed });
    const probs = softmax(logits);
    const targetIds = p.targets.map((t) => firstTargetToken(tokenizer, prompt, t));
    return {
      top: topTokens(probs, p.topK, tokenizer.vocabSize),
      targets: targetIds.map((id) => probs[id]),
    };
  });
  const best = r.top[0];
  run.log(
    `w=${w}: ${p.weights.indexOf(w) + 1}/${p.weights.length} weights, top ${
      JSON.stringify(tokenizer.decode([best.token_id]))
    } (${best.probability.toFixed(3)})`,
  );
  return r;
}

/**
 * Step 4: the tables (`arithmetic`: the top tokens per weight; `targets`: each target's
 * probability per weight), the figure and meta.json's facts, as `results/arithmetic/` holds them.
 * `results` are {@link mixAndRead}'s, one per weight in order.
 */
export function arithmeticOutput(
  run: ExperimentRun,
  inputs: ArithmeticInputs,
  results: readonly WeightResult[],
  pairs: readonly PairRow[] = [],
): ExperimentOutput {
  const p = inputs.params;
  const { tokenizer } = run.model;
  const prompt = buildQueryPrompt({ input: p.query });
  const targetIds = p.targets.map((t) => firstTargetToken(tokenizer, prompt, t));
  const top: Row[] = [];
  const targets: Row[] = [];
  for (const [i, w] of p.weights.entries()) {
    const r = results[i];
    for (const [rank, t] of r.top.entries()) {
      top.push({
        weight: w,
        rank: rank + 1,
        token_id: t.token_id,
        token: tokenizer.decode([t.token_id]),
        probability: t.probability,
      });
    }
    for (const [j, target] of p.targets.entries()) {
      targets.push({
        weight: w,
        target,
        token_id: targetIds[j],
        token: tokenizer.decode([targetIds[j]]),
        probability: r.targets[j],
      });
    }
  }
  const rates = summarizePairs(pairs);
  return {
    tables: { arithmetic: top, targets, pairs: [...pairs], rates },
    figures: {
      arithmetic: plotTaskArithmetic(targets, { mode: p.mode }),
      ...(rates.length > 0 ? { arithmetic_pairs: plotArithmeticPairs(rates) } : {}),
    },
    meta: {
      pairs: inputs.pairs.map((plan) => ({
        first: plan.first,
        second: plan.second,
        firstDemos: plan.firstDemos,
        secondDemos: plan.secondDemos,
        candidates: plan.queries.length,
      })),
      countingDemos: inputs.count,
      translationDemos: inputs.french,
      translationDemoIndices: inputs.picked,
      query: prompt,
    },
  };
}

function checkParams(p: TaskArithmeticParams): void {
  const bad = (field: string, problem: string) =>
    new ConfigError(`Cannot run the task arithmetic experiment: ${problem}`, { field });
  if (!Array.isArray(p.weights) || p.weights.length === 0) {
    throw bad("weights", "weights must list at least one weight");
  }
  for (const w of p.weights) {
    if (!Number.isFinite(w)) throw bad("weights", `weight ${w} is not a finite number`);
  }
  if (new Set(p.weights).size !== p.weights.length) {
    throw bad("weights", `weights [${p.weights.join(", ")}] repeat`);
  }
  if (p.mode !== "interpolate" && p.mode !== "add") {
    throw bad("mode", `mode "${p.mode}" is neither "interpolate" nor "add"`);
  }
  for (const field of ["shots", "topK"] as const) {
    if (!Number.isInteger(p[field]) || p[field] < 1) {
      throw bad(field, `${field} ${p[field]} is not a positive integer`);
    }
  }
  if (!Array.isArray(p.targets)) throw bad("targets", "targets must be a list of words");
  if (!Array.isArray(p.pairTasks) || new Set(p.pairTasks).size !== p.pairTasks.length) {
    throw bad("pairTasks", "pairTasks must be a list of distinct task names");
  }
  for (const field of ["pairShots", "pairItems", "pairMinItems"] as const) {
    if (!Number.isInteger(p[field]) || p[field] < 1) {
      throw bad(field, `${field} ${p[field]} is not a positive integer`);
    }
  }
  if (!Array.isArray(p.pairWeights) || p.pairWeights.some((w) => !Number.isFinite(w))) {
    throw bad("pairWeights", "pairWeights must be a list of finite numbers");
  }
  if (new Set(p.pairWeights).size !== p.pairWeights.length) {
    throw bad("pairWeights", `pairWeights [${p.pairWeights.join(", ")}] repeat`);
  }
}

/** Softmax in float64. */
function softmax(logits: Float32Array): Float64Array {
  const { max, sum } = softmaxParts(logits);
  return Float64Array.from(logits, (x) => Math.exp(x - max) / sum);
}

/** The k most probable ids below `limit`, most probable first, ties by id. */
function topTokens(
  probs: Float64Array,
  k: number,
  limit: number,
): { token_id: number; probability: number }[] {
  const top: { token_id: number; probability: number }[] = [];
  for (let id = 0; id < Math.min(limit, probs.length); id++) {
    const p = probs[id];
    if (top.length === k && p <= top[k - 1].probability) continue;
    let at = top.length;
    while (at > 0 && top[at - 1].probability < p) at--;
    top.splice(at, 0, { token_id: id, probability: p });
    if (top.length > k) top.pop();
  }
  return top;
}
