import { assert, assertEquals, assertThrows } from "../../tests/_assert.ts";
import { experimentSetup } from "../../tests/_experiment.ts";
import { readCsv } from "../results/csv.ts";
import { ConfigError } from "../util/errors.ts";
import { claimsOf } from "./claims.ts";
import { knnAccuracy, type LayersParams, runLayers, silhouette } from "./layers.ts";
import { runRetrievalVsK } from "./retrieval_vs_k.ts";

const SMALL: Partial<LayersParams> = {
  tasks: ["antonym", "country-capital", "present-past"],
  libraryStates: 3,
  libraryShots: 4,
  queries: 2,
  ks: [1, 2],
  neighbours: 2,
};

Deno.test("silhouette(): three labels against a hand computation with cosine distance", () => {
  // Unit vectors at 0°, 10° (label a), 90° (b), 180°, 190° (c): distance 1 - cos(angle).
  const deg = (a: number) => [Math.cos((a * Math.PI) / 180), Math.sin((a * Math.PI) / 180)];
  const d = (a: number, b: number) => 1 - Math.cos(((a - b) * Math.PI) / 180);
  const angles = [0, 10, 90, 180, 190];
  const labels = ["a", "a", "b", "c", "c"];
  const s = (i: number, own: number[], others: number[][]) => {
    const a = own.reduce((x, j) => x + d(angles[i], angles[j]), 0) / own.length;
    const b = Math.min(
      ...others.map((g) => g.reduce((x, j) => x + d(angles[i], angles[j]), 0) / g.length),
    );
    return (b - a) / Math.max(a, b);
  };
  const want = (s(0, [1], [[2], [3, 4]]) + s(1, [0], [[2], [3, 4]]) + 0 +
    s(3, [4], [[0, 1], [2]]) + s(4, [3], [[0, 1], [2]])) / 5;
  const got = silhouette(angles.map(deg), labels);
  assert(Math.abs(got - want) < 1e-12, `${got} vs ${want}`);
  // Scaling a vector changes no cosine.
  const scaled = angles.map(deg).map((v, i) => v.map((x) => x * (i + 1)));
  assert(Math.abs(silhouette(scaled, labels) - want) < 1e-12);
});

Deno.test("knnAccuracy(): leave-one-out votes by cosine, against a hand count", () => {
  const v = [[1, 0], [0.9, 0.1], [0.9, -0.3], [0, 1], [0, -1]];
  const labels = ["a", "a", "b", "b", "b"];
  // Cosines by hand: v0-v1 0.994, v0-v2 0.949, v1-v2 0.908, v1-v3 0.110, v2-v4 0.316, v0-v3 0.
  // k = 1: v0 -> v1 (a, right), v1 -> v0 (right), v2 -> v0 (a, wrong), v3 -> v1 (a, wrong),
  // v4 -> v2 (right).
  assertEquals(knnAccuracy(v, labels, 1), 3 / 5);
  // k = 2: v0 -> v1 a, v2 b: a tie, a has the larger similarity (right); v1 -> v0 a, v2 b
  // (right); v2 -> v0, v1 (a, wrong); v3 -> v1, v0 (a, wrong); v4 -> v2 b, v0 a: a tie, b
  // larger (right).
  assertEquals(knnAccuracy(v, labels, 2), 3 / 5);
  // k = 4 (everyone else): a vectors see 1 a and 3 b (wrong); b vectors 2 a, 2 b: v2's b sum
  // 0.316 + (-0.316) = 0 against a 0.949 + 0.908 (wrong); v3's b sum -0.316 - 1 against
  // 0.110 + 0 (wrong); v4's b 0.316 - 1 against -0.110 + 0 (wrong).
  assertEquals(knnAccuracy(v, labels, 4), 0);
});

Deno.test("cluster scores refuse bad input with one-line errors", () => {
  assertThrows(() => silhouette([[1, 0]], ["a"]), ConfigError, "fewer than two vectors");
  assertThrows(() => silhouette([[1, 0], [0, 1]], ["a", "a"]), ConfigError, "only one label");
  assertThrows(
    () => knnAccuracy([[1, 0], [0, 1]], ["a"], 1),
    ConfigError,
    "2 vectors but 1 labels",
  );
  assertThrows(() => knnAccuracy([[1, 0], [0, 1]], ["a", "b"], 2), ConfigError, "neighbours");
});

Deno.test("runLayers(): at each layer the SSM rows are the retrieval figure's at that layer; resumes from its cache", async () => {
  const { options, lines } = await experimentSetup("layers-test-", { numHiddenLayers: 3 });
  await runLayers(SMALL, options);
  const dir = `${options.resultsDir}/layers`;
  const rows = await readCsv(`${dir}/retrieval.csv`);
  const summary = await readCsv(`${dir}/summary.csv`);
  // 3 tasks x 2 ks x 2 queries, at 3 layers and 3 kinds.
  assertEquals(rows.length, 3 * 2 * 2 * 3 * 3);
  // Per layer and kind: a retrieval row per k, then knn and silhouette.
  assertEquals(summary.length, 3 * 3 * (2 + 2));
  for (const r of summary) {
    const v = Number(r.value);
    assert(r.measure === "silhouette" ? v >= -1 && v <= 1 : v >= 0 && v <= 1, JSON.stringify(r));
  }
  // The retrieval figure, run on its own with the same sets at one layer, retrieves the same.
  for (const layer of [0, 2]) {
    const { neighbours: _, ...same } = SMALL;
    await runRetrievalVsK({ ...same, layer, kind: "ssm" }, options);
    const single = await readCsv(`${options.resultsDir}/retrieval/retrieval.csv`);
    const mine = rows.filter((r) => r.layer === layer && r.kind === "ssm")
      .map(({ layer: _l, kind: _k, ...rest }) => rest);
    assertEquals(mine, single);
  }
  // A second run reads every unit from the cache: same files, no engine work.
  const before = await Deno.readTextFile(`${dir}/summary.csv`);
  lines.length = 0;
  await runLayers(SMALL, options);
  assertEquals(await Deno.readTextFile(`${dir}/summary.csv`), before);
  assert(!lines.some((l) => l.includes("query states")), lines.join("\n"));
  // The claims read the summary.
  const claims = claimsOf("layers", summary);
  assertEquals(claims.length, 2);
  assert(claims[0].measured.includes("by layer"), claims[0].measured);
});

Deno.test("runLayers(): a layer the model lacks is a one-line ConfigError", async () => {
  const { options } = await experimentSetup("layers-test-", { numHiddenLayers: 2 });
  const err = await runLayers({ ...SMALL, layers: [0, 2] }, options).then(
    () => undefined,
    (e) => e,
  );
  assert(err instanceof ConfigError, String(err));
  assert(err.message.includes("layer 2 is not one of the model's layers 0..1"), err.message);
});
