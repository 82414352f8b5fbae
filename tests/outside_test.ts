/**
 * The library imports from a script anywhere: lib/ names its npm packages in full (`npm:x@v`,
 * the versions of deno.json's import map), so a script outside the repository, which Deno runs
 * without this project's deno.json, resolves every import.
 */

import { assertEquals } from "./_assert.ts";
import { inTempDir } from "./_temp.ts";
import { openEngine, tinyMambaConfig, writeRandomCheckpoint } from "../lib/mod.ts";

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

function libFiles(): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of Deno.readDirSync(dir)) {
      const p = `${dir}/${e.name}`;
      if (e.isDirectory) walk(p);
      else if (e.name.endsWith(".ts")) out.push(p);
    }
  };
  walk(`${ROOT}/lib`);
  return out.sort();
}

Deno.test("lib/ imports only relative paths and full npm: specifiers of deno.json's versions", () => {
  const imports: Record<string, string> = JSON.parse(
    Deno.readTextFileSync(`${ROOT}/deno.json`),
  ).imports;
  const allowed = new Set(Object.values(imports));
  const bad: string[] = [];
  let npm = 0;
  for (const file of libFiles()) {
    const text = Deno.readTextFileSync(file);
    const found = text.matchAll(
      /^(?:import|export)\b[^;]*?\bfrom\s+"([^"]+)"|\bimport\(\s*"([^"]+)"/gm,
    );
    for (const m of found) {
      const spec = m[1] ?? m[2];
      if (spec.startsWith("./") || spec.startsWith("../") || spec.startsWith("node:")) continue;
      if (spec.startsWith("npm:") && allowed.has(spec)) {
        npm++;
        continue;
      }
      bad.push(`${file.slice(ROOT.length + 1)}: "${spec}"`);
    }
  }
  assertEquals(bad, [], "bare or unpinned specifiers in lib/ (use deno.json's npm: versions)");
  if (npm < 10) throw new Error(`expected the library's npm imports, found ${npm}`);
});

Deno.test("a script outside the repository imports lib/mod.ts and runs a model", async () => {
  await inTempDir("soup-outside-", async (dir) => {
    // No deno.json here or above (the system's temporary folder): Deno runs it without the
    // project's import map.
    for (let d = dir; d !== "/" && d !== ""; d = d.replace(/\/[^/]*$/, "") || "/") {
      for (const name of ["deno.json", "deno.jsonc"]) {
        const found = (() => {
          try {
            return Deno.statSync(`${d}/${name}`).isFile;
          } catch {
            return false;
          }
        })();
        if (found) throw new Error(`${d}/${name} exists: the script would not be outside`);
      }
    }
    await writeRandomCheckpoint(`${dir}/m`, tinyMambaConfig());
    const script = `${dir}/use_soup.ts`;
    await Deno.writeTextFile(
      script,
      `import { openEngine, formatCsv } from ${JSON.stringify(`${ROOT}/lib/mod.ts`)};
const engine = await openEngine(${JSON.stringify(`${dir}/m`)}, { device: "cpu" });
const { logits } = await engine.run([1, 2, 3]);
await engine.close();
console.log(formatCsv([{ engine: engine.name, first: logits[0], n: logits.length }]));
`,
    );
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", script],
      cwd: dir,
      stdin: "null",
      env: { NO_COLOR: "1" },
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    if (out.code !== 0) throw new Error(`the outside script failed (${out.code}):\n${stderr}`);
    const engine = await openEngine(`${dir}/m`, { device: "cpu" });
    const { logits } = await engine.run([1, 2, 3]);
    await engine.close();
    assertEquals(
      new TextDecoder().decode(out.stdout).trim(),
      `engine,first,n\n${engine.name},${logits[0]},${logits.length}`,
    );
  });
});
