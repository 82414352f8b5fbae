/**
 * What a user sees for a mistyped command line: one line naming the option, name or value and
 * the fix (with the nearest known name), never the parser's message with the whole usage.
 */
import "../tests/_cache.ts";
import { assert, assertEquals } from "../tests/_assert.ts";

async function run(script: string, args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", new URL(script, import.meta.url).pathname, ...args],
    env: { HF_HUB_OFFLINE: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stderr: dec.decode(out.stderr).trim() };
}

/** The stderr lines that are the tool's own (Deno's notice about build scripts left out). */
const own = (stderr: string) =>
  stderr.split("\n").filter((l) => l.startsWith("soup ") || l.startsWith("Unknown"));

Deno.test("soup: option errors are one line naming the option and the fix", async () => {
  const cases: [string[], string][] = [
    [
      ["prompt", "--task", "antonym", "--shots", "-1"],
      '--shots -1: a value starting with "-" is written --shots=-1',
    ],
    [
      ["prompt", "--task", "antonym", "--shot", "2"],
      'unknown option --shot (did you mean "shots"?)',
    ],
    [["prompt", "--task", "antonym", "--shots"], "--shots needs a value"],
    [["prompt", "--shots", "2"], 'Missing --task; "soup help" shows the usage'],
    [["prompt", "--task", "antonym", "extra"], 'unexpected argument "extra"'],
  ];
  for (const [args, expected] of cases) {
    const { code, stderr } = await run("./soup.ts", args);
    assertEquals(code, 1, `${args.join(" ")}: ${stderr}`);
    const lines = own(stderr);
    assertEquals(lines.length, 1, `${args.join(" ")}: one line, got\n${stderr}`);
    assert(lines[0].includes(expected), `${args.join(" ")}: ${lines[0]}`);
    assertEquals(stderr.includes("Usage:"), false, `${args.join(" ")}: the whole usage`);
  }
  const shots = await run("./soup.ts", ["prompt", "--task", "antonym", "--shots=-1"]);
  assert(shots.stderr.includes('--shots must be a non-negative integer, got "-1"'), shots.stderr);
});

Deno.test("misspelt commands, tasks, models, figures and presets get the nearest name", async () => {
  const command = await run("./soup.ts", ["promt", "--task", "antonym"]);
  assertEquals(command.code, 2);
  assert(
    command.stderr.includes('Unknown command "promt" (did you mean "prompt"?)'),
    command.stderr,
  );
  const task = await run("./soup.ts", ["prompt", "--task", "antonim"]);
  assertEquals(task.code, 1);
  assert(task.stderr.includes('Cannot load task "antonim" (did you mean "antonym"?)'), task.stderr);
  const model = await run("./soup.ts", ["info", "--model", "organizm"]);
  assertEquals(model.code, 1);
  assert(model.stderr.includes('"organizm" as a model (did you mean "organism"?)'), model.stderr);
  const figure = await run("./reproduce.ts", ["clusterin"]);
  assertEquals(figure.code, 2);
  assert(
    figure.stderr.includes('Unknown figure "clusterin" (did you mean "clustering"?)'),
    figure.stderr,
  );
  const preset = await run("./reproduce.ts", ["--preset", "organsm"]);
  assertEquals(preset.code, 2);
  assert(preset.stderr.includes('(did you mean "organism"?)'), preset.stderr);
  // Names far from every known one get no guess.
  const far = await run("./soup.ts", ["prompt", "--task", "zzzzzzzz"]);
  assertEquals(far.stderr.includes("did you mean"), false, far.stderr);
});
