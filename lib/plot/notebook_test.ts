import { assertEquals } from "../../tests/_assert.ts";
import { showFigures, toBase64 } from "./notebook.ts";
import { PROJECT_ROOT, projectPath } from "../hub/sources.ts";

Deno.test("toBase64() agrees with btoa on every byte value, across its chunk size", () => {
  const bytes = Uint8Array.from({ length: 0x8000 * 2 + 7 }, (_, i) => (i * 131) % 256);
  assertEquals(toBase64(bytes), btoa(Array.from(bytes, (b) => String.fromCharCode(b)).join("")));
  assertEquals(toBase64(new Uint8Array()), "");
});

Deno.test("projectPath() shortens paths inside the project only", () => {
  assertEquals(projectPath(`${PROJECT_ROOT}/results/icl/icl.png`), "results/icl/icl.png");
  assertEquals(projectPath("/tmp/x.png"), "/tmp/x.png");
});

Deno.test("showFigures() picks the PNGs in order (no kernel here: nothing displayed)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "soup-notebook-" });
  try {
    await Deno.writeFile(`${dir}/a.png`, new Uint8Array([1]));
    await Deno.writeFile(`${dir}/b.png`, new Uint8Array([2]));
    const shown = await showFigures([`${dir}/b.png`, `${dir}/t.csv`, `${dir}/a.png`]);
    assertEquals(shown, ["b.png", "a.png"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
