import "../tests/_cache.ts";
import { assert, assertEquals } from "../tests/_assert.ts";
import { inTempDir } from "../tests/_temp.ts";
import { tinyMambaConfig, writeRandomCheckpoint } from "../lib/model/mod.ts";
import { redrawFigures } from "./figures.ts";

Deno.test("deno task figures redraws every figure from the tables, byte for byte", async () => {
  await inTempDir("soup-figures-", async (dir) => {
    await writeRandomCheckpoint(
      `${dir}/m`,
      tinyMambaConfig({ numHiddenLayers: 2, vocabSize: 50280 }),
      { seed: 5 },
    );
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-all",
        new URL("./reproduce.ts", import.meta.url).pathname,
        "--quick",
        "--model",
        `${dir}/m`,
        "--device",
        "cpu",
        "--results",
        `${dir}/r`,
      ],
      env: { SOUP_CACHE: `${dir}/cache` },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert(out.success, new TextDecoder().decode(out.stderr));
    const figures: Record<string, Uint8Array> = {};
    for (const figure of Deno.readDirSync(`${dir}/r`)) {
      for (const f of Deno.readDirSync(`${dir}/r/${figure.name}`)) {
        if (!/\.(svg|png)$/.test(f.name)) continue;
        const path = `${figure.name}/${f.name}`;
        figures[path] = await Deno.readFile(`${dir}/r/${path}`);
        await Deno.remove(`${dir}/r/${path}`);
      }
    }
    // A folder reproduce did not write is left alone.
    await Deno.mkdir(`${dir}/r/icl-copy`);
    await Deno.writeTextFile(`${dir}/r/icl-copy/icl.svg`, "mine");
    const written = await redrawFigures(`${dir}/r`);
    assertEquals(Object.keys(figures).length, 26, "13 figures as SVG and PNG");
    assertEquals(written.length, Object.keys(figures).length);
    for (const [path, bytes] of Object.entries(figures)) {
      const again = await Deno.readFile(`${dir}/r/${path}`);
      assertEquals(again, bytes, `${path} redrawn from its tables differs`);
    }
    assertEquals(await Deno.readTextFile(`${dir}/r/icl-copy/icl.svg`), "mine");
  });
});
