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

Deno.test("reproduce refuses an unknown preset and a contradiction, with the usage", async () => {
  const unknown = await reproduce(["--preset", "nope"]);
  assertEquals(unknown.code, 2);
  assert(unknown.stderr.includes('Unknown preset "nope"'), unknown.stderr);
  assert(unknown.stderr.includes("--preset organism"), unknown.stderr);
  const both = await reproduce(["--quick", "--preset", "organism"]);
  assertEquals(both.code, 2);
  assert(both.stderr.includes("contradict"), both.stderr);
});
