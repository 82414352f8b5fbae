import { Plot, renderPlot } from "../lib/plot/render.ts";
import { assert, assertEquals, assertRejects } from "./_assert.ts";
import { assertSvgSnapshot, normalizeSvg } from "./_snapshot.ts";

/** A tiny line-and-dot plot from a fixture of five rows. */
function tinyPlot(rows: { k: number; accuracy: number }[]): string {
  return renderPlot({
    width: 240,
    height: 160,
    y: { domain: [0, 1], grid: true },
    marks: [
      Plot.line(rows, { x: "k", y: "accuracy" }),
      Plot.dot(rows, { x: "k", y: "accuracy" }),
    ],
  });
}

const FIXTURE = [
  { k: 1, accuracy: 0.12 },
  { k: 2, accuracy: 0.31 },
  { k: 4, accuracy: 0.47 },
  { k: 8, accuracy: 0.63 },
  { k: 16, accuracy: 0.71 },
];

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

Deno.test("assertSvgSnapshot() matches a tiny plot with its committed snapshot", async () => {
  await assertSvgSnapshot(tinyPlot(FIXTURE), "snapshot_self_test");
});

Deno.test("normalizeSvg() rounds decimals to three places and keeps the rest", () => {
  assertEquals(
    normalizeSvg(' <path d="M10,20.00049L3.14159,-0.0004" y="0.32em" class="plot-d6a7b5"/>\n'),
    '<path d="M10,20L3.142,-0" y="0.32em" class="plot-d6a7b5"/>',
  );
  assertEquals(normalizeSvg("1.23e-7 4.5678e2"), "0 456.78");
});

Deno.test("assertSvgSnapshot() writes -changed.svg on a mismatch and updates on request", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const svg = tinyPlot(FIXTURE);
    const changed = `${dir}/fig-changed.svg`;

    // No snapshot yet: fails, and writes the figure beside it to look at.
    await assertRejects(
      () => assertSvgSnapshot(svg, "fig", { dir, update: false }),
      Error,
      "does not exist",
    );
    assertEquals(await Deno.readTextFile(changed), `${svg}\n`);
    assert(!(await exists(`${dir}/fig.svg`)), "no snapshot written without update");

    // Update writes the snapshot and clears the -changed file; then the same figure matches.
    await assertSvgSnapshot(svg, "fig", { dir, update: true });
    assertEquals(await Deno.readTextFile(`${dir}/fig.svg`), `${svg}\n`);
    assert(!(await exists(changed)), "-changed.svg removed after update");
    await assertSvgSnapshot(svg, "fig", { dir, update: false });

    // Noise below three decimals is not a change.
    const noisy = svg.replace(/(\d+\.\d+)/g, (d) => String(+d + 1e-5));
    assert(noisy !== svg, "the fixture has decimals to perturb");
    await assertSvgSnapshot(noisy, "fig", { dir, update: false });

    // A real change fails, names the element, and leaves the new figure in -changed.svg.
    const moved = tinyPlot(FIXTURE.map((r) => r.k === 16 ? { ...r, accuracy: 0.9 } : r));
    const err = await assertRejects(
      () => assertSvgSnapshot(moved, "fig", { dir, update: false }),
      Error,
      "differs from snapshot",
    );
    assert(err.message.includes("<path") || err.message.includes("<circle"), err.message);
    assertEquals(await Deno.readTextFile(changed), `${moved}\n`);
    assertEquals(await Deno.readTextFile(`${dir}/fig.svg`), `${svg}\n`, "snapshot untouched");

    // Matching again removes the stale -changed.svg.
    await assertSvgSnapshot(svg, "fig", { dir, update: false });
    assert(!(await exists(changed)), "stale -changed.svg removed on a match");

    await assertRejects(() => assertSvgSnapshot(svg, "../escape", { dir }), Error, "must be");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
