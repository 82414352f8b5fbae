/**
 * The README's library example runs as written, from the project's folder, on the organism: it
 * prints the greedy answer read from the mixed state as a JSON string.
 */
import { assert, assertEquals } from "./_assert.ts";

Deno.test("the README's ten-line example runs as written", async () => {
  const root = new URL("../", import.meta.url).pathname;
  const readme = await Deno.readTextFile(`${root}README.md`);
  const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);
  assertEquals(blocks.length, 1, "one TypeScript example in the README");
  const script = `${root}.readme-example-${Deno.pid}.ts`; // beside lib/, as a user's file would be
  await Deno.writeTextFile(script, blocks[0]);
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", script],
      cwd: root,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const dec = new TextDecoder();
    assert(out.success, dec.decode(out.stderr));
    const printed = JSON.parse(dec.decode(out.stdout).trim());
    assertEquals(typeof printed, "string");
    assert(printed.length > 0, "an answer");
  } finally {
    await Deno.remove(script);
  }
});
