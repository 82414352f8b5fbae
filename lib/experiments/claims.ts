/**
 * What each figure says about the paper's claim it tests, computed from the tidy tables the
 * experiment wrote: the claim, the numbers that test it, and whether it holds by a stated rule.
 * The README's claim table (`tools/docs/claims.ts`) and every notebook's reading are this, so no
 * number in them is typed by hand.
 *
 * @module
 */
import { showMarkdown } from "../plot/notebook.ts";
import { readCsv, type Row } from "../results/csv.ts";
import type { FigureEntry } from "./figures.ts";

/** One claim of the paper against a run's numbers. */
export interface Claim {
  /** The paper's claim, in one line. */
  readonly claim: string;
  /** The numbers that test it. */
  readonly measured: string;
  /** "yes", "no", or how far it holds ("only from k = 8 (>= 0.9)"). */
  readonly holds: string;
}

const claim = (c: string, measured: string, holds: string): Claim => ({
  claim: c,
  measured,
  holds,
});

/** The table each figure's claims are read from, in its results folder. */
export const CLAIM_TABLES: Readonly<Record<FigureEntry["id"], string>> = Object.freeze({
  icl: "accuracy.csv",
  clustering: "points.csv",
  retrieval: "accuracy.csv",
  mixing: "accuracy.csv",
  adecay: "summary.csv",
  arithmetic: "targets.csv",
  layers: "summary.csv",
  composition: "summary.csv",
  scale: "accuracy.csv",
});

/** Further tables a figure's claims read, beside its main one (`CLAIM_TABLES`). */
export const CLAIM_MORE_TABLES: Readonly<Partial<Record<FigureEntry["id"], readonly string[]>>> =
  Object.freeze({ arithmetic: ["rates.csv"] });

const num = (x: unknown) => Number(x);
const f3 = (x: number) => x.toFixed(3);
const f2 = (x: number) => x.toFixed(2);

/** Mean over tasks ("mean" rows) of an accuracy table at k, for one method when given. */
function meanAt(rows: Row[], k: number, method?: string): number {
  const r = rows.find((r) =>
    r.task === "mean" && num(r.k) === k && (method === undefined || r.method === method)
  );
  if (r === undefined) throw new Error(`no mean row at k = ${k}${method ? ` (${method})` : ""}`);
  return num(r.accuracy);
}

/** Leave-one-out 5-nearest-neighbour accuracy of `label` among `pts` (2-D, Euclidean). */
function knnAccuracy(pts: { x: number; y: number; label: string }[], k = 5): number {
  let hits = 0;
  for (const [i, p] of pts.entries()) {
    const near = pts
      .map((q, j) => ({ j, d: (q.x - p.x) ** 2 + (q.y - p.y) ** 2, label: q.label }))
      .filter((q) => q.j !== i)
      .sort((a, b) => a.d - b.d || a.j - b.j)
      .slice(0, k);
    const votes = new Map<string, number>();
    for (const q of near) votes.set(q.label, (votes.get(q.label) ?? 0) + 1);
    const best = [...votes.entries()].sort((a, b) => b[1] - a[1])[0][0];
    if (best === p.label) hits++;
  }
  return hits / pts.length;
}

/** In-context learning: accuracy rises with k (what the paper presumes). */
function iclClaims(icl: Row[], claims: Claim[]): void {
  // In-context learning: accuracy rises with k (what the paper presumes).
  const ks = [...new Set(icl.filter((r) => r.task === "mean").map((r) => num(r.k)))].sort((a, b) =>
    a - b
  );
  const acc = ks.map((k) => meanAt(icl, k));
  if (ks.length < 2) throw new Error("mean accuracy at fewer than two k");
  const tasks = new Set(icl.filter((r) => r.task !== "mean").map((r) => r.task)).size;
  const rise = acc[acc.length - 1] - acc[0];
  claims.push(claim(
    "(presumed) the model learns the task in context: accuracy rises with k",
    `mean first-token accuracy of the ${tasks} tasks ${
      ks.map((k, i) => `${f3(acc[i])} (k=${k})`).join(", ")
    }`,
    rise >= 0.1 ? "yes" : "no",
  ));
}

/** Fig. 1 left: the middle layer's SSM states in t-SNE. */
function clusteringClaims(points: Row[], claims: Claim[]): void {
  // Clustering: the main view (the middle layer's SSM state, t-SNE).
  const layers = points.map((r) => num(r.layer));
  const mid = Math.floor((Math.max(...layers) + 1) / 2);
  const view = points.filter((r) =>
    num(r.layer) === mid && r.kind === "ssm" && r.method === "tsne"
  );
  const plain = view.filter((r) => r.randomized !== true && r.randomized !== "true")
    .map((r) => ({ x: num(r.x), y: num(r.y), label: String(r.task) }));
  const controls = view.filter((r) => r.randomized === true || r.randomized === "true");
  const knn = knnAccuracy(plain);
  claims.push(claim(
    "Fig. 1 left: states of one task cluster, apart from other tasks",
    `5-nearest-neighbour accuracy of the task among the ${plain.length} states in the t-SNE of ` +
      `layer ${mid}'s SSM states: ${f2(knn)}`,
    knn >= 0.9 ? "yes" : "no",
  ));
  const ownNearest = controls.filter((c) => {
    const p = { x: num(c.x), y: num(c.y) };
    const nearest = plain.reduce((a, b) =>
      (b.x - p.x) ** 2 + (b.y - p.y) ** 2 < (a.x - p.x) ** 2 + (a.y - p.y) ** 2 ? b : a
    );
    return nearest.label === c.task;
  }).length;
  const share = ownNearest / controls.length;
  claims.push(claim(
    "Fig. 1 left: randomized (shuffled-output) controls do not form their task's cluster",
    `${ownNearest} of ${controls.length} controls (${f2(share)}) have a state of their own task ` +
      `as nearest neighbour`,
    share <= 0.5 ? "yes" : "no",
  ));
}

/** Fig. 1 right: retrieval accuracy against k. */
function retrievalClaims(retrieval: Row[], claims: Claim[]): void {
  // Retrieval vs k.
  const rks = [...new Set(retrieval.filter((r) => r.task === "mean").map((r) => num(r.k)))].sort((
    a,
    b,
  ) => a - b);
  const racc = rks.map((k) => meanAt(retrieval, k));
  const from = rks.find((_, i) => racc.slice(i).every((a) => a >= 0.9));
  claims.push(claim(
    "Fig. 1 right: the nearest library state names the task even for small k",
    `mean retrieval accuracy ${rks.map((k, i) => `${f2(racc[i])} (k=${k})`).join(", ")}`,
    from === undefined ? "no" : from <= 2 ? "yes" : `only from k = ${from} (>= 0.9)`,
  ));
}

/** Fig. 2: mixing, and retrieval + mixing, against k. */
function mixingClaims(mixing: Row[], claims: Claim[]): void {
  // Mixing vs k.
  const pks = mixing.filter((r) => r.task === "mean" && r.method === "prompt").map((r) => num(r.k));
  const kMax = Math.max(...pks);
  const mks = [...new Set(mixing.filter((r) => r.method === "mix").map((r) => num(r.k)))]
    .sort((a, b) => a - b).filter((k) => k < kMax);
  const p32 = meanAt(mixing, kMax, "prompt");
  const mix = mks.map((k) => meanAt(mixing, k, "mix"));
  const within = mks.find((_, i) => mix.slice(i).every((a) => a >= p32 - 0.01));
  claims.push(claim(
    "Fig. 2: the mean of 32/k k-shot states matches or beats 32-shot prompting",
    `mixed ${mks.map((k, i) => `${f3(mix[i])} (k=${k})`).join(", ")}; ${kMax}-shot prompt ${
      f3(p32)
    }; ` +
      `k-shot prompts ${mks.map((k) => `${f3(meanAt(mixing, k, "prompt"))} (${k})`).join(", ")}`,
    within === undefined ? "no" : within === mks[0] ? "yes" : `within 0.01 from k = ${within}`,
  ));
  const small = [1, 2].filter((k) => mks.includes(k));
  const rmix = small.map((k) => meanAt(mixing, k, "retrieve_mix"));
  const query = small.map((k) => meanAt(mixing, k, "query"));
  const helps = small.every((_, i) => rmix[i] > query[i]);
  claims.push(claim(
    "Fig. 2: mixing the k-shot query state with its retrieved state helps for small k",
    `retrieve + mix ${small.map((k, i) => `${f3(rmix[i])} (k=${k})`).join(", ")} against the ` +
      `query state alone ${small.map((k, i) => `${f3(query[i])} (k=${k})`).join(", ")}`,
    helps ? "yes" : "no",
  ));
  const composed = ["retrieve_weighted", "retrieve_adecay", "retrieve_picaso"].filter((m) =>
    mixing.some((r) => r.task === "mean" && r.method === m)
  );
  if (composed.length === 0 || small.length === 0) return;
  const names: Record<string, string> = {
    retrieve_mix: "mean",
    retrieve_weighted: "weighted by shots",
    retrieve_adecay: "A-decay",
    retrieve_picaso: "PICASO",
  };
  const at = (m: string) => small.map((k) => meanAt(mixing, k, m));
  const beat = composed.filter((m) => at(m).every((a, i) => a > rmix[i] + 0.01));
  claims.push(claim(
    "Composition beyond the mean, retrieval + mixing: composing the query state with its " +
      "retrieved state by shots' weights, A-decay or PICASO beats their mean for small k",
    ["retrieve_mix", ...composed].map((m) =>
      `${names[m]} ${small.map((k, i) => `${f3(at(m)[i])} (k=${k})`).join(", ")}`
    ).join("; ") + `; query state alone ${
      small.map((k, i) => `${f3(query[i])} (k=${k})`).join(", ")
    }`,
    beat.length === 0 ? "no" : `yes: ${beat.map((m) => names[m]).join(", ")}`,
  ));
}

/** Fig. 3: A-decay mixing against sequential reading, at the smallest T. */
function adecayClaims(adecay: Row[], claims: Claim[]): void {
  // A-decay (Fig. 3), at the smallest T.
  const T = Math.min(...adecay.map((r) => num(r.T)));
  const at = (m: string) =>
    adecay.find((r) => num(r.T) === T && r.method === m && r.measure === "loss")!;
  const [seq, x2, mean, ad] = ["sequential", "x2_only", "mean", "adecay"].map((m) =>
    num(at(m).mean)
  );
  const closer = Math.abs(ad - seq) < Math.abs(mean - seq) && ad < x2;
  claims.push(claim(
    "Fig. 3: A-decay mixing of x1 and x2 approaches reading x1 then x2, better than the mean",
    `held-out news, T = ${T}: sequential ${f3(seq)}, A-decay ${f3(ad)}, x2 only ${f3(x2)}, ` +
      `mean ${f3(mean)} nats/token`,
    closer ? "yes" : "no",
  ));
  const gain = at("x2_only");
  const lo = num(gain.ci95_low), hi = num(gain.ci95_high);
  const ciText = Number.isFinite(lo) ? ` (95% CI ${f3(lo)} to ${f3(hi)})` : "";
  claims.push(claim(
    "Fig. 3 (what it needs): reading x1 first lowers the loss on x3 against x2 alone",
    `by ${f3(x2 - seq)} nats/token${ciText}, T = ${T}`,
    Number.isFinite(lo) && lo > 0 && x2 - seq >= 0.1 ? "yes" : "no",
  ));
}

/** Task arithmetic: the anecdote's targets, then the pairs of tasks (`rates.csv`). */
function arithmeticClaims(arithmetic: Row[], claims: Claim[], more: Record<string, Row[]>): void {
  // Task arithmetic: the tracked targets' probabilities over the french state's weight.
  const weights = [...new Set(arithmetic.map((r) => num(r.weight)))].sort((a, b) => a - b);
  const prob = (w: number, t: string) =>
    num(arithmetic.find((r) => num(r.weight) === w && r.target === t)?.probability ?? NaN);
  const quinzeTop = weights.filter((w) =>
    arithmetic.filter((r) => num(r.weight) === w).every((r) =>
      prob(w, "quinze") >= num(r.probability)
    )
  );
  const wMax = weights[weights.length - 1];
  claims.push(claim(
    "Task arithmetic: a counting state mixed with an english-french state counts in French",
    `at w = ${wMax}: P(quinze) ${prob(wMax, "quinze").toExponential(1)}, P(quatorze) ${
      prob(wMax, "quatorze").toExponential(1)
    }, P(fifteen) ${prob(wMax, "fifteen").toExponential(1)}; quinze the most likely target at ` +
      `${quinzeTop.length} of ${weights.length} weights`,
    quinzeTop.length > 0 ? "yes" : "no",
  ));
  const rates = more["rates.csv"];
  if (rates === undefined) return;
  const mean = rates.filter((r) => r.first === "mean").sort((a, b) =>
    num(a.weight) - num(b.weight)
  );
  if (mean.length < 3) throw new Error("rates.csv has fewer than three weights");
  const ends = [mean[0], mean[mean.length - 1]].map((r) => num(r.composed));
  const inner = mean.slice(1, -1);
  const bestInner = Math.max(...inner.map((r) => num(r.composed)));
  const pairs = rates.filter((r) => r.first !== "mean");
  const pairNames = [...new Set(pairs.map((r) => `${r.first} -> ${r.second}`))];
  const composing = pairNames.filter((name) =>
    pairs.some((r) =>
      `${r.first} -> ${r.second}` === name && num(r.weight) > num(mean[0].weight) &&
      num(r.weight) < num(mean[mean.length - 1].weight) && num(r.composed) >= 0.2
    )
  );
  claims.push(claim(
    "Task arithmetic, quantified: mixing the states of two tasks answers their composition " +
      "g(f(x)) more often than either state alone",
    `share of queries answered g(f(x)), mean over ${pairNames.length} pairs of tasks, by the ` +
      `second state's weight: ${
        mean.map((r) => `${f3(num(r.composed))} (w=${r.weight})`).join(", ")
      }; ` +
      `pairs reaching 0.2 at a mixed weight: ${composing.length ? composing.join(", ") : "none"}`,
    bestInner >= Math.max(...ends) + 0.05 ? "yes" : "no",
  ));
}

/** Beyond the paper: which layer, and which part of its state, holds the task. */
function layersClaims(summary: Row[], claims: Claim[]): void {
  const layers = [...new Set(summary.map((r) => num(r.layer)))].sort((a, b) => a - b);
  const nl = Math.max(...layers) + 1;
  const mid = Math.floor(nl / 2);
  const ks = [...new Set(summary.filter((r) => r.measure === "retrieval").map((r) => num(r.k)))]
    .sort((a, b) => a - b);
  if (ks.length === 0 || !layers.includes(mid)) {
    throw new Error(`no retrieval rows at layer ${mid}`);
  }
  /** Mean over k of the mean retrieval accuracy at a layer, for one state part. */
  const retrievalAt = (layer: number, kind: string) => {
    const rows = summary.filter((r) =>
      r.measure === "retrieval" && num(r.layer) === layer && r.kind === kind
    );
    if (rows.length === 0) throw new Error(`no ${kind} retrieval rows at layer ${layer}`);
    return rows.reduce((a, r) => a + num(r.value), 0) / rows.length;
  };
  const scoreAt = (layer: number, measure: string) =>
    num(
      summary.find((r) => r.measure === measure && num(r.layer) === layer && r.kind === "ssm")
        ?.value ?? NaN,
    );
  const acc = layers.map((l) => retrievalAt(l, "ssm"));
  const best = Math.max(...acc);
  const bestLayers = layers.filter((_, i) => acc[i] >= best - 0.005);
  const atMid = acc[layers.indexOf(mid)];
  const inner = (l: number) => l > 0 && l < nl - 1;
  const byLayer = (f: (l: number) => number, digits: (x: number) => string) =>
    layers.map((l) => `${digits(f(l))} (${l})`).join(", ");
  claims.push(claim(
    `Intermediate layers hold the task most reliably (the paper retrieves with layer L/2 = ${mid})`,
    `SSM-state retrieval accuracy averaged over k = ${ks.join(", ")}, by layer: ${
      byLayer((l) => acc[layers.indexOf(l)], f2)
    }; 5-NN accuracy of the library states: ${byLayer((l) => scoreAt(l, "knn"), f2)}; ` +
      `silhouette: ${byLayer((l) => scoreAt(l, "silhouette"), f2)}`,
    bestLayers.some(inner) && atMid >= best - 0.02
      ? "yes"
      : bestLayers.every((l) => !inner(l))
      ? `no: best at layer ${bestLayers.join(", ")}`
      : `partly: layer ${mid} is ${f2(best - atMid)} below layer ${bestLayers.join(", ")}`,
  ));
  const kinds = ["ssm", "conv", "both"].filter((kind) =>
    summary.some((r) => r.kind === kind && r.measure === "retrieval" && num(r.layer) === mid)
  );
  if (kinds.length > 1 && kinds.includes("ssm")) {
    const part = kinds.map((kind) => retrievalAt(mid, kind));
    const ssm = part[kinds.indexOf("ssm")];
    claims.push(claim(
      "(what the paper assumes) the SSM state is the part of a layer's state to compare",
      `retrieval accuracy at layer ${mid}, averaged over k: ${
        kinds.map((kind, i) => `${kind} ${f2(part[i])}`).join(", ")
      }`,
      part.every((p) => ssm >= p - 0.01) ? "yes" : "no",
    ));
  }
}

/** Beyond the paper: composing the states of x1 and x2 beyond the mean, on ordered text. */
function compositionClaims(summary: Row[], claims: Claim[]): void {
  const loss = summary.filter((r) => r.measure === "loss");
  const Ts = [...new Set(loss.map((r) => num(r.T)))].sort((a, b) => a - b);
  const gap = (T: number, method: string) => {
    const r = loss.find((r) => num(r.T) === T && r.method === method);
    if (r === undefined) throw new Error(`no ${method} row at T = ${T}`);
    return num(r.minus_sequential);
  };
  if (Ts.length === 0) throw new Error("no loss rows");
  const f4 = (x: number) => x.toFixed(4);
  const others = ["picaso", "weighted", "sum", "mean", "x2_only"];
  const closest = Ts.filter((T) =>
    others.every((m) => Math.abs(gap(T, "adecay")) < Math.abs(gap(T, m)))
  );
  claims.push(claim(
    "Composition: on ordered text A-decay comes closest to reading x1 then x2 (PICASO averages " +
      "over both orders; the weighted mix keeps one decay for all; the sum drops the decay; the " +
      "mean both)",
    `loss on x3 minus after x1 then x2, nats/token: ${
      Ts.map((T) =>
        `T = ${T}: A-decay ${f4(gap(T, "adecay"))}, PICASO ${f4(gap(T, "picaso"))}, weighted ${
          f4(gap(T, "weighted"))
        }, sum ${f4(gap(T, "sum"))}, mean ${f4(gap(T, "mean"))}, x2 only ${f4(gap(T, "x2_only"))}`
      ).join("; ")
    }`,
    closest.length === Ts.length
      ? "yes"
      : closest.length === 0
      ? "no"
      : `at T = ${closest.join(", ")}`,
  ));
  const short = Ts.filter((T) => gap(T, "adecay") !== gap(T, "adecay_no_conv"));
  if (short.length > 0) {
    const better = short.filter((T) =>
      Math.abs(gap(T, "adecay")) < Math.abs(gap(T, "adecay_no_conv"))
    );
    claims.push(claim(
      "A-decay with the conv state: carrying x1's conv state brings the mix closer to reading x1 " +
        "then x2 when x2 is shorter than the conv",
      `loss on x3 minus after x1 then x2, nats/token, x1's conv carried / x2's alone: ${
        short.map((T) => `T = ${T}: ${f4(gap(T, "adecay"))} / ${f4(gap(T, "adecay_no_conv"))}`)
          .join("; ")
      } (identical at T = ${Ts.filter((T) => !short.includes(T)).join(", ") || "none"})`,
      better.length === short.length
        ? "yes"
        : better.length === 0
        ? "no"
        : `at T = ${better.join(", ")}`,
    ));
  }
}

/** Beyond the paper: retrieval from a large library, exactly and through approximate indexes. */
function scaleClaims(accuracy: Row[], claims: Claim[]): void {
  const exact = accuracy.filter((r) => r.index === "exact");
  const ks = [...new Set(exact.map((r) => num(r.k)))].sort((a, b) => a - b);
  const largest = Math.max(...exact.map((r) => num(r.size)));
  const at = (library: (r: Row) => boolean, k: number) => {
    const r = exact.find((r) => library(r) && num(r.k) === k);
    if (r === undefined) throw new Error(`no exact row at k = ${k}`);
    return num(r.accuracy);
  };
  const paper = ks.map((k) => at((r) => r.library === "paper", k));
  const big = ks.map((k) => at((r) => num(r.size) === largest && r.library !== "paper", k));
  const drop = Math.max(...ks.map((_, i) => paper[i] - big[i]));
  const paperSize = num(exact.find((r) => r.library === "paper")?.size);
  claims.push(claim(
    "Scale: retrieval survives a library of every task (distractors included) and many states per task",
    `exact cosine, accuracy with the paper's library (${paperSize} states) -> ${largest} states: ${
      ks.map((k, i) => `${f2(paper[i])} -> ${f2(big[i])} (k=${k})`).join(", ")
    }`,
    drop <= 0.05 ? "yes" : `no: down by up to ${f2(drop)}`,
  ));
  // Approximate indexes only: LanceDB's flat table, when named, is an exact search too.
  const indexes = [...new Set(accuracy.map((r) => String(r.index)))]
    .filter((i) => i !== "exact" && !i.startsWith("LanceDB flat"));
  const recall = (index: string) => {
    const rs = accuracy.filter((r) => r.index === index && num(r.size) === largest);
    return rs.reduce((a, r) => a + num(r.recall_at_1), 0) / rs.length;
  };
  if (indexes.length > 0) {
    claims.push(claim(
      "Scale: approximate indexes return exact search's first hit at that size",
      `recall@1 at ${largest} states, mean over k: ${
        indexes.map((i) => `${i} ${f3(recall(i))}`).join(", ")
      }`,
      indexes.every((i) => recall(i) >= 0.95)
        ? "yes"
        : `only ${indexes.filter((i) => recall(i) >= 0.95).join(", ") || "none"} (>= 0.95)`,
    ));
  }
}

const RULES: Readonly<
  Record<FigureEntry["id"], (rows: Row[], claims: Claim[], more: Record<string, Row[]>) => void>
> = {
  icl: iclClaims,
  clustering: clusteringClaims,
  retrieval: retrievalClaims,
  mixing: mixingClaims,
  adecay: adecayClaims,
  arithmetic: arithmeticClaims,
  layers: layersClaims,
  composition: compositionClaims,
  scale: scaleClaims,
};

/**
 * The claims of one figure, from its table (`CLAIM_TABLES[figure]`) read as rows.
 *
 * @example
 * ```ts
 * import { claimsOf } from "./claims.ts";
 * const rows = [0, 1, 32].map((k, i) => ({ task: "mean", k, accuracy: [0.2, 0.5, 0.9][i] }));
 * const [c] = claimsOf("icl", rows);
 * if (c.holds !== "yes" || !c.measured.includes("0.900 (k=32)")) throw new Error(c.measured);
 * ```
 */
export function claimsOf(
  figure: FigureEntry["id"],
  rows: Row[],
  more: Record<string, Row[]> = {},
): Claim[] {
  const rule = RULES[figure];
  if (rule === undefined) throw new Error(`no claims for a figure "${figure}"`);
  const claims: Claim[] = [];
  try {
    rule(rows, claims, more);
  } catch (e) {
    // A run too small for a rule (a preset without the ks it reads) says so instead of failing.
    const why = e instanceof Error ? e.message : String(e);
    claims.push(
      claim(`the rest of ${figure}'s claims`, `not readable from this run: ${why}`, "cannot tell"),
    );
  }
  return claims;
}

/** The claims of one figure from the results folder its experiment wrote (`results/<figure>/`). *
 * @example
 * ```ts
 * import { readClaims } from "./claims.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/accuracy.csv`, "task,k,accuracy\nmean,1,0.4\nmean,8,0.95\n");
 * const [c] = await readClaims("retrieval", dir);
 * if (c.holds !== "only from k = 8 (>= 0.9)") throw new Error(c.holds);
 * ```
 */
export async function readClaims(figure: FigureEntry["id"], dir: string): Promise<Claim[]> {
  return claimsOf(
    figure,
    await readCsv(`${dir}/${CLAIM_TABLES[figure]}`),
    await readMoreTables(figure, (table) => `${dir}/${table}`),
  );
}

/**
 * The further tables of `figure` (`CLAIM_MORE_TABLES`) that exist, read from `pathOf(table)`;
 * a run written before a table existed has none, and its claims leave that part out.
 */
export async function readMoreTables(
  figure: FigureEntry["id"],
  pathOf: (table: string) => string,
): Promise<Record<string, Row[]>> {
  const more: Record<string, Row[]> = {};
  for (const table of CLAIM_MORE_TABLES[figure] ?? []) {
    try {
      more[table] = await readCsv(pathOf(table));
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
  }
  return more;
}

/** Claims as a markdown table, `header` naming the column of numbers. */
export function claimsMarkdown(claims: readonly Claim[], header = "Measured"): string {
  return [
    `| Paper's claim | ${header} | Holds? |`,
    "| --- | --- | --- |",
    ...claims.map((c) => `| ${c.claim} | ${c.measured} | ${c.holds} |`),
  ].join("\n") + "\n";
}

/**
 * A notebook's reading: the claims of `figure` from the results folder its experiment just wrote,
 * shown as a markdown table; returns them.
 *
 * @example
 * ```ts
 * import { showClaims } from "./claims.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/accuracy.csv`, "task,k,accuracy\nmean,0,0.2\nmean,32,0.9\n");
 * const [c] = await showClaims("icl", dir); // displayed in a notebook; returned everywhere
 * if (c.holds !== "yes") throw new Error(c.holds);
 * ```
 */
export async function showClaims(figure: FigureEntry["id"], dir: string): Promise<Claim[]> {
  const claims = await readClaims(figure, dir);
  await showMarkdown(claimsMarkdown(claims));
  return claims;
}
