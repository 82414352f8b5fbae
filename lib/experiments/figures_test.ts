import { assertEquals } from "../../tests/_assert.ts";
import { REDRAW } from "../plot/redraw.ts";
import { FIGURE_REGISTRY } from "./figures.ts";
import { PRESETS } from "./presets.ts";

Deno.test("the figure registry covers every figure notebook, preset and redrawing", () => {
  const dir = new URL("../../notebooks/", import.meta.url).pathname;
  const notebooks = [...Deno.readDirSync(dir)].map((e) => e.name)
    .filter((n) => n.endsWith(".ipynb") && n !== "00_explore.ipynb").sort();
  assertEquals(FIGURE_REGISTRY.map((f) => f.notebook).sort(), notebooks);
  const ids = FIGURE_REGISTRY.map((f) => f.id).sort();
  assertEquals(Object.keys(REDRAW).sort(), ids, "a redrawing per figure");
  for (const preset of Object.values(PRESETS)) {
    const fields = Object.keys(preset).filter((k) => k !== "model").sort();
    assertEquals(fields, ids, "a preset holds each figure's parameters");
  }
});
