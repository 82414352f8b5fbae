/**
 * Task arithmetic, quantified: State Soup's one anecdote (counting + english-french ->
 * "quinze") over every pair of tasks whose composition the data defines.
 *
 * For tasks f and g, the composition g(f(x)) is defined by the data when f's answer y = f(x) is
 * itself an input of g (after trimming): a capitalised antonym (antonym, then capitalize), the
 * French for the next number (counting, then english-french), the past tense of an antonym. For
 * each such ordered pair with at least `pairMinItems` queries:
 *
 * - a state of `pairShots` demonstrations of f and one of g, each from its task's train part
 *   (50/50 split with `seed`, so that the 20 items of counting leave 10 to query; counting is the
 *   synthetic task "n" -> "n + 1" over the number words zero .. twenty);
 * - queries `Q: x\nA:` for inputs x from f's test part whose y is an input of g but not of g's
 *   demonstrations, at most `pairItems` of them (drawn with `seed`), keeping only those whose
 *   composed answer z = g(y) starts with another token than y and than g(x) (when x is an input
 *   of g), so that the three outcomes can be told apart by the first token; a pair left with
 *   fewer than `pairMinItems` such queries is left out;
 * - for each weight w of `pairWeights`, the query read from `mixWeighted([f, g], [1 - w, w])`;
 *   its most probable next token (among the tokenizer's) is `composed` when it is z's first
 *   token, `first_task` when y's, `second_task` when g(x)'s, else `other`.
 *
 * w = 0 is f's state alone and w = 1 g's alone: the composed answer's rate there is what each
 * task gives by itself; the anecdote's claim is that a mix in between gives the composition.
 *
 * @module
 */

// @ts-types="npm:@types/d3-array@3.2.1"
import { group } from "npm:d3-array@3.2.5";
import { mixWeighted } from "../mixing/mix_weighted.ts";
import type { Row } from "../results/csv.ts";
import { buildQueryPrompt } from "../tasks/build_prompt.ts";
import { encodeDemos } from "../tasks/encode_demos.ts";
import { firstTargetToken } from "../tasks/first_target_token.ts";
import { sampleDemoSets } from "../tasks/sample_demo_sets.ts";
import { splitTask } from "../tasks/split_task.ts";
import type { Task, TaskItem } from "../tasks/types.ts";
import { Rng } from "../util/random.ts";
import { softmaxParts } from "../util/softmax.ts";
import { deriveSeed } from "./_demo_sets.ts";
import type { ExperimentRun } from "./context.ts";

/** The synthetic counting task's name among `pairTasks`. */
export const COUNTING_TASK = "counting";

/** The outcomes of one query, in table order. */
export const PAIR_OUTCOMES = ["composed", "first_task", "second_task", "other"] as const;

/** One of {@link PAIR_OUTCOMES}. */
export type PairOutcome = typeof PAIR_OUTCOMES[number];

/** The parameters of the pairs' study (part of the arithmetic figure's). */
export interface PairParams {
  /** Tasks among which ordered pairs are formed (`counting` is the synthetic one). */
  pairTasks: string[];
  /** Demonstrations behind each task's state. */
  pairShots: number;
  /** Queries per pair, at most. */
  pairItems: number;
  /** Pairs with fewer queries are left out. */
  pairMinItems: number;
  /** Weights w of g's state: (1 - w) f + w g. */
  pairWeights: number[];
  /** Seed of the splits, demonstrations and queries. */
  seed: number;
}

/** One query of a pair: x, f's answer y, g's answer on x (if any) and the composed z. */
export interface PairQuery {
  x: string;
  y: string;
  gx: string | null;
  z: string;
}

/** One ordered pair of tasks with its demonstrations and queries (before tokenizing). */
export interface PairPlan {
  first: string;
  second: string;
  firstDemos: TaskItem[];
  secondDemos: TaskItem[];
  queries: PairQuery[];
}

/** A row of `pairs.csv`: one query of one pair at one weight. */
export type PairRow = {
  first: string;
  second: string;
  weight: number;
  x: string;
  y: string;
  z: string;
  gx: string | null;
  /** The most probable next token, its id and its text. */
  predicted_id: number;
  predicted: string;
  outcome: PairOutcome;
  p_composed: number;
  p_first: number;
};

/**
 * The number words' counting task: "zero" -> "one" ... "nineteen" -> "twenty".
 *
 * @example
 * ```ts
 * import { countingTask } from "./arithmetic_pairs.ts";
 * const t = countingTask(["zero", "one", "two"]);
 * if (t.items.length !== 2 || t.items[1].output !== "two") throw new Error();
 * ```
 */
export function countingTask(numberWords: readonly string[]): Pick<Task, "name" | "items"> {
  return {
    name: COUNTING_TASK,
    items: numberWords.slice(0, -1).map((w, i) => ({ input: w, output: numberWords[i + 1] })),
  };
}

/**
 * Every ordered pair of `tasks` whose composition the data defines, with its demonstrations and
 * (up to `pairItems`) queries; pairs with fewer than `pairMinItems` queries are left out. The
 * first-token checks need the tokenizer, so they are {@link pairQueries}'; here only the data.
 *
 * @example
 * ```ts
 * import { planPairs } from "./arithmetic_pairs.ts";
 * const f = { name: "f", items: ["a", "b", "c", "d"].map((x) => ({ input: x, output: x + "1" })) };
 * const g = { name: "g", items: ["a1", "b1", "c1", "d1"].map((x) => ({ input: x, output: x + "2" })) };
 * const plans = planPairs([f, g], { pairShots: 1, pairItems: 10, pairMinItems: 1, seed: 0 });
 * if (plans.length !== 1 || plans[0].first !== "f" || plans[0].queries[0].z !== plans[0].queries[0].y + "2") {
 *   throw new Error(JSON.stringify(plans));
 * }
 * ```
 */
export function planPairs(
  tasks: readonly Pick<Task, "name" | "items">[],
  p: Pick<PairParams, "pairShots" | "pairItems" | "pairMinItems" | "seed">,
): PairPlan[] {
  const parts = tasks.map((task) => {
    const { train, test } = splitTask(task, { seed: p.seed, testFraction: 0.5 });
    const [demos] = sampleDemoSets(train, {
      count: 1,
      k: Math.min(p.pairShots, train.length),
      seed: deriveSeed(p.seed, task.name, "pair demos"),
    });
    const answer = new Map<string, string>();
    for (const it of task.items) {
      if (!answer.has(it.input.trim())) answer.set(it.input.trim(), it.output.trim());
    }
    return { task, test, demos: demos.map((i) => task.items[i]), answer };
  });
  const plans: PairPlan[] = [];
  for (const f of parts) {
    for (const g of parts) {
      if (f === g) continue;
      const taught = new Set(g.demos.map((d) => d.input.trim()));
      const seen = new Set<string>();
      const queries: PairQuery[] = [];
      for (const i of f.test) {
        const x = f.task.items[i].input.trim(), y = f.task.items[i].output.trim();
        const z = g.answer.get(y);
        if (z === undefined || z === y || taught.has(y) || seen.has(x)) continue;
        seen.add(x);
        queries.push({ x, y, gx: g.answer.get(x) ?? null, z });
      }
      if (queries.length < p.pairMinItems) continue;
      plans.push({
        first: f.task.name,
        second: g.task.name,
        firstDemos: f.demos,
        secondDemos: g.demos,
        queries: new Rng(deriveSeed(p.seed, f.task.name, g.task.name, "queries")).shuffle(queries),
      });
    }
  }
  return plans;
}

/** Token ids of a query's prompt and the first tokens of its three answers. */
interface TokenizedQuery {
  query: PairQuery;
  ids: number[];
  composed: number;
  first: number;
  second: number | null;
}

/**
 * A pair's queries that the first token tells apart (z's first token differs from y's and
 * g(x)'s), at most `pairItems`, tokenized.
 */
function pairQueries(
  run: ExperimentRun,
  plan: PairPlan,
  pairItems: number,
): TokenizedQuery[] {
  const tok = run.model.tokenizer;
  const out: TokenizedQuery[] = [];
  for (const query of plan.queries) {
    if (out.length === pairItems) break;
    const prompt = buildQueryPrompt({ input: query.x });
    const composed = firstTargetToken(tok, prompt, query.z);
    const first = firstTargetToken(tok, prompt, query.y);
    const second = query.gx === null ? null : firstTargetToken(tok, prompt, query.gx);
    if (composed === first || composed === second) continue;
    out.push({ query, ids: tok.encode(prompt), composed, first, second });
  }
  return out;
}

/**
 * One pair's rows of `pairs.csv`: the two states read (through the state store), then at each
 * weight every query read from the mix (one engine call per weight). Cached as
 * `pair-<first>-<second>`.
 */
export async function pairRows(
  run: ExperimentRun,
  plan: PairPlan,
  p: PairParams,
): Promise<PairRow[]> {
  const rows = await run.cache.json<PairRow[]>(`pair-${plan.first}-${plan.second}`, async () => {
    const { engine, tokenizer } = run.model;
    const queries = pairQueries(run, plan, p.pairItems);
    if (queries.length < p.pairMinItems) return []; // too few that the first token tells apart
    const [sf, sg] = await run.model.store.extract(engine, [
      { ids: encodeDemos(tokenizer, plan.firstDemos) },
      { ids: encodeDemos(tokenizer, plan.secondDemos) },
    ], { batchSize: 2 });
    const out: PairRow[] = [];
    for (const w of p.pairWeights) {
      const mixed = mixWeighted([sf, sg], [1 - w, w]);
      const results = await engine.runBatch(queries.map((q) => q.ids), {
        states: queries.map(() => mixed),
      });
      for (const [i, q] of queries.entries()) {
        const logits = results[i].logits;
        const { max, sum } = softmaxParts(logits);
        const prob = (id: number) => Math.exp(logits[id] - max) / sum;
        // The most likely of the tokenizer's ids (not Mamba's padding).
        const best = softmaxParts(logits, Math.min(tokenizer.vocabSize, logits.length)).argmax;
        const outcome: PairOutcome = best === q.composed
          ? "composed"
          : best === q.first
          ? "first_task"
          : best === q.second
          ? "second_task"
          : "other";
        out.push({
          first: plan.first,
          second: plan.second,
          weight: w,
          ...q.query,
          predicted_id: best,
          predicted: tokenizer.decode([best]),
          outcome,
          p_composed: prob(q.composed),
          p_first: prob(q.first),
        });
      }
    }
    return out;
  });
  const at = (w: number) => rows.filter((r) => r.weight === w && r.outcome === "composed").length;
  const n = rows.filter((r) => r.weight === p.pairWeights[0]).length;
  if (n === 0) {
    run.log(`pair ${plan.first} -> ${plan.second}: left out, fewer than ${p.pairMinItems} queries`);
    return rows;
  }
  run.log(
    `pair ${plan.first} -> ${plan.second}: ${n} queries, composed answers by weight ${
      p.pairWeights.map((w) => `${w}: ${at(w)}`).join(", ")
    }`,
  );
  return rows;
}

/**
 * Per pair and weight, the share of each outcome and the mean probability of the composed
 * answer's first token; then the same averaged over pairs (`first` and `second` "mean", each
 * pair counting once): rows of `rates.csv`.
 *
 * @example
 * ```ts
 * import { summarizePairs } from "./arithmetic_pairs.ts";
 * import type { PairOutcome } from "./arithmetic_pairs.ts";
 * const row = (w: number, outcome: PairOutcome) => ({ first: "f", second: "g", weight: w, outcome, p_composed: 0.5 });
 * const rates = summarizePairs([row(0, "first_task"), row(0.5, "composed"), row(0.5, "other")]);
 * const pair = rates.find((r) => r.first === "f" && r.weight === 0.5)!;
 * if (pair.composed !== 0.5 || pair.other !== 0.5 || pair.n !== 2) throw new Error(JSON.stringify(rates));
 * const mean = rates.find((r) => r.first === "mean" && r.weight === 0.5)!;
 * if (mean.composed !== 0.5 || mean.n !== 1) throw new Error("the mean over one pair");
 * ```
 */
export function summarizePairs(
  rows: readonly Pick<PairRow, "first" | "second" | "weight" | "outcome" | "p_composed">[],
): Row[] {
  const out: Row[] = [];
  const byPair = group(rows, (r) => `${r.first}\u0000${r.second}`, (r) => r.weight);
  for (const weights of byPair.values()) {
    for (const [weight, rs] of weights) {
      const share = (o: string) => rs.filter((r) => r.outcome === o).length / rs.length;
      out.push({
        first: rs[0].first,
        second: rs[0].second,
        weight,
        n: rs.length,
        ...Object.fromEntries(PAIR_OUTCOMES.map((o) => [o, share(o)])),
        p_composed: rs.reduce((a, r) => a + r.p_composed, 0) / rs.length,
      });
    }
  }
  const byWeight = group(out, (r) => r.weight as number);
  for (const [weight, rs] of byWeight) {
    const mean = (k: string) => rs.reduce((a, r) => a + Number(r[k]), 0) / rs.length;
    out.push({
      first: "mean",
      second: "mean",
      weight,
      n: rs.length,
      ...Object.fromEntries(PAIR_OUTCOMES.map((o) => [o, mean(o)])),
      p_composed: mean("p_composed"),
    });
  }
  return out;
}
