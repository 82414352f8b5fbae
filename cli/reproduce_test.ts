import "../tests/_cache.ts";
import { assert, assertEquals } from "../tests/_assert.ts";

const SCRIPT = new URL("./reproduce.ts", import.meta.url).pathname;

async function reproduce(args: string[], env: Record<string, string> = {}) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", SCRIPT, ...args],
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test("reproduce without the paper's model says how to run on the organism", async () => {
  const cache = await Deno.makeTempDir({ prefix: "soup-reproduce-" });
  const results = await Deno.makeTempDir({ prefix: "soup-reproduce-" });
  try {
    const { code, stderr } = await reproduce(["arithmetic", "--results", results], {
      HF_HUB_CACHE: cache,
      HF_HUB_OFFLINE: "1",
    });
    assertEquals(code, 1, stderr);
    assert(stderr.includes("state-spaces/mamba-2.8b-hf"), stderr);
    assert(stderr.includes("deno task reproduce --model organism"), stderr);
    assertEquals(stderr.includes("    at "), false, `a stack trace:\n${stderr}`);
  } finally {
    await Deno.remove(cache, { recursive: true });
    await Deno.remove(results, { recursive: true });
  }
});

Deno.test("reproduce says how to run on the organism when the hub cannot be reached", async () => {
  const cache = await Deno.makeTempDir({ prefix: "soup-reproduce-" });
  const results = await Deno.makeTempDir({ prefix: "soup-reproduce-" });
  // A port on this machine that nothing listens on: the fetch is refused at once.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  try {
    const { code, stderr } = await reproduce(["arithmetic", "--results", results], {
      HF_HUB_CACHE: cache,
      HF_HUB_OFFLINE: "0",
      HF_ENDPOINT: `http://127.0.0.1:${port}`,
    });
    assertEquals(code, 1, stderr);
    assert(stderr.includes("Cannot fetch"), stderr);
    assert(stderr.includes("deno task reproduce --model organism"), stderr);
    assertEquals(stderr.includes("    at "), false, `a stack trace:\n${stderr}`);
  } finally {
    await Deno.remove(cache, { recursive: true });
    await Deno.remove(results, { recursive: true });
  }
});

Deno.test("reproduce refuses an unknown preset, a contradiction and a bad option, in one line each", async () => {
  const unknown = await reproduce(["--preset", "nope"]);
  assertEquals(unknown.code, 2);
  assert(unknown.stderr.includes('Unknown preset "nope"'), unknown.stderr);
  assert(unknown.stderr.includes("paper, quick, organism"), unknown.stderr);
  const both = await reproduce(["--quick", "--preset", "organism"]);
  assertEquals(both.code, 2);
  assert(both.stderr.includes("contradict"), both.stderr);
  const option = await reproduce(["--modell", "organism"]);
  assertEquals(option.code, 2);
  assert(option.stderr.includes('unknown option --modell (did you mean "model"?)'), option.stderr);
  for (const r of [unknown, both, option]) {
    assertEquals(r.stderr.trim().split("\n").length, 1, r.stderr);
  }
});

Deno.test("reproduce never writes over a folder it did not write, and over its own only with --force", async () => {
  const dir = await Deno.makeTempDir({ prefix: "soup-reproduce-" });
  try {
    const { tinyMambaConfig, writeRandomCheckpoint } = await import("../lib/model/mod.ts");
    await writeRandomCheckpoint(`${dir}/m`, tinyMambaConfig({ vocabSize: 50280 }), { seed: 1 });
    const run = (results: string, ...more: string[]) =>
      reproduce(["arithmetic", "--quick", "--model", `${dir}/m`, "--results", results, ...more], {
        SOUP_CACHE: `${dir}/cache`,
      });
    // Somebody's folder where the figure's results would go: refused, even with --force.
    await Deno.mkdir(`${dir}/mine/arithmetic`, { recursive: true });
    await Deno.writeTextFile(`${dir}/mine/arithmetic/notes.txt`, "mine");
    for (const force of [[], ["--force"]]) {
      const r = await run(`${dir}/mine`, ...force);
      assertEquals(r.code, 1, r.stderr);
      assert(r.stderr.includes("not a results folder this tool wrote"), r.stderr);
    }
    assertEquals(await Deno.readTextFile(`${dir}/mine/arithmetic/notes.txt`), "mine");
    // Its own earlier results: kept without --force, replaced as a whole with it.
    const first = await run(`${dir}/res`);
    assertEquals(first.code, 0, first.stderr);
    const again = await run(`${dir}/res`);
    assertEquals(again.code, 1, again.stderr);
    assert(again.stderr.includes("pass --force"), again.stderr);
    const firstMeta = await Deno.readTextFile(`${dir}/res/arithmetic/meta.json`);
    const forced = await run(`${dir}/res`, "--force");
    assertEquals(forced.code, 0, forced.stderr);
    assertEquals([...Deno.readDirSync(`${dir}/res`)].map((e) => e.name), ["arithmetic"]);
    assertEquals(
      JSON.parse(firstMeta).files,
      JSON.parse(
        await Deno.readTextFile(`${dir}/res/arithmetic/meta.json`),
      ).files,
    );
    // A file a user put there makes the folder theirs: refused even with --force, kept.
    await Deno.writeTextFile(`${dir}/res/arithmetic/my_notes.csv`, "a\n1\n");
    const mine = await run(`${dir}/res`, "--force");
    assertEquals(mine.code, 1, mine.stderr);
    assert(mine.stderr.includes("not a results folder this tool wrote"), mine.stderr);
    assertEquals(await Deno.readTextFile(`${dir}/res/arithmetic/my_notes.csv`), "a\n1\n");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an unusable cache is one line before any work", async () => {
  const dir = await Deno.makeTempDir({ prefix: "soup-reproduce-" });
  try {
    const { tinyMambaConfig, writeRandomCheckpoint } = await import("../lib/model/mod.ts");
    await writeRandomCheckpoint(`${dir}/m`, tinyMambaConfig({ vocabSize: 50280 }), { seed: 1 });
    await Deno.writeTextFile(`${dir}/a-file`, "not a folder");
    for (const cache of ["/proc/soup-x", `${dir}/a-file`]) {
      const r = await reproduce(
        ["arithmetic", "--quick", "--model", `${dir}/m`, "--results", `${dir}/res`],
        { SOUP_CACHE: cache },
      );
      assertEquals(r.code, 1, r.stderr);
      assertEquals(r.stderr.trim().split("\n").length, 1, r.stderr);
      assert(r.stderr.includes("set SOUP_CACHE"), r.stderr);
      assertEquals(r.stdout.includes("arithmetic:"), false, "no figure ran");
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
