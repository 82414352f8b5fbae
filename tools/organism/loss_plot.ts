/**
 * The organism's loss curve from the trainer's `loss.csv`, as `loss.svg` and `loss.png` beside it:
 *
 *   deno run --allow-all tools/organism/loss_plot.ts [data/models/organism]
 *
 * @module
 */
import { Plot, readCsv, renderPlot, svgToPng } from "../../lib/mod.ts";
import { atomicWrite } from "../../lib/util/atomic_write.ts";

const dir = Deno.args[0] ?? new URL("../../data/models/organism", import.meta.url).pathname;
const rows = await readCsv(`${dir}/loss.csv`);
const long = rows.flatMap((r) => [
  { step: r.step, series: "task answers", value: r.task_loss },
  // text_loss: English text (Brown, nlp-corpus, news); news_loss in the earlier trainer's loss.csv.
  { step: r.step, series: "English text", value: r.text_loss ?? r.news_loss },
]).concat(
  // The trainer's quick look at Fig. 3 on the held-out news (T = 32), every --eval-every steps.
  rows.filter((r) => r.news_seq !== null && r.news_seq !== "").flatMap((r) => [
    { step: r.step, series: "held-out x3 after x1 x2", value: r.news_seq },
    { step: r.step, series: "held-out x3 after x2", value: r.news_x2 },
  ]),
);
const acc = rows.flatMap((r) => [
  { step: r.step, series: "k = 0", value: r.acc_k0 },
  { step: r.step, series: "k = 1-3", value: r.acc_k1_3 },
  { step: r.step, series: "k = 4-15", value: r.acc_k4_15 },
  { step: r.step, series: "k = 16-32", value: r.acc_k16_32 },
]).concat(
  // Clean k-shot prompts of the six main tasks (16 per task), every --eval-every steps.
  rows.filter((r) => r.icl_k0 !== null && r.icl_k0 !== "").flatMap((r) => [
    { step: r.step, series: "clean k = 0", value: r.icl_k0 },
    { step: r.step, series: "clean k = 1", value: r.icl_k1 },
    { step: r.step, series: "clean k = 32", value: r.icl_k32 },
  ]),
);
const panel = (data: typeof long, label: string, domain?: [number, number]) =>
  renderPlot({
    width: 640,
    height: 260,
    marginRight: 150,
    x: { label: "training step" },
    y: { label, grid: true, domain },
    color: { type: "categorical", scheme: "tableau10", legend: false },
    marks: [
      Plot.line(data, { x: "step", y: "value", stroke: "series" }),
      Plot.text(
        data,
        Plot.selectLast({
          x: "step",
          y: "value",
          z: "series",
          text: "series",
          fill: "series",
          textAnchor: "start",
          dx: 6,
          fontSize: 10,
        }),
      ),
    ],
  });
// Two panels stacked in one SVG: the losses, then first-token accuracy (training batches, whose
// demonstrations may be of a partner task, and the clean prompts of the quick look).
const top = panel(long, "loss (nats/token)");
const bottom = panel(acc, "first-token accuracy", [0, 1]);
const inner = (svg: string) => svg.replace(/^<svg[^>]*>/, "").replace(/<\/svg>$/, "");
const svg =
  `<svg xmlns="http://www.w3.org/2000/svg" width="640" height="520" viewBox="0 0 640 520">` +
  `<g>${inner(top)}</g><g transform="translate(0,260)">${inner(bottom)}</g></svg>`;
await atomicWrite(`${dir}/loss.svg`, new TextEncoder().encode(svg));
await atomicWrite(`${dir}/loss.png`, await svgToPng(svg));
console.log(`wrote ${dir}/loss.svg and loss.png`);
