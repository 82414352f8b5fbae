/** `deno task setup cuda`: a wheel that is not the pinned one is refused before anything is written. */
import { assert, assertEquals } from "../tests/_assert.ts";
import { inTempDir } from "../tests/_temp.ts";
import { bindingDir, ORT_GPU_WHEELS, ORT_VERSION, PROVIDER_FILES } from "../lib/onnx/cuda.ts";

async function setup(args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", new URL("./setup.ts", import.meta.url).pathname, ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr).trim() };
}

const stamp = (path: string) => Deno.stat(path).then((i) => i.mtime?.getTime(), () => undefined);

Deno.test("setup cuda refuses a wheel whose sha256 is not the pinned one, writing nothing", () =>
  inTempDir("soup-setup-", async (dir) => {
    const wheel = `${dir}/${ORT_GPU_WHEELS[ORT_VERSION].file}`;
    await Deno.writeTextFile(wheel, "not a wheel");
    const before = await Promise.all(PROVIDER_FILES.map((f) => stamp(`${bindingDir()}/${f}`)));
    const { code, stderr } = await setup(["cuda", "--wheel", wheel]);
    assertEquals(code, 1, stderr);
    const line = stderr.split("\n").filter((l) => l.startsWith("setup cuda:"));
    assertEquals(line.length, 1, stderr);
    assert(line[0].includes(`not the pinned ${ORT_GPU_WHEELS[ORT_VERSION].sha256}`), line[0]);
    const after = await Promise.all(PROVIDER_FILES.map((f) => stamp(`${bindingDir()}/${f}`)));
    assertEquals(after, before, "the provider files were left as they were");
  }));

Deno.test("setup: an unknown target is one line with the nearest name", async () => {
  const { code, stderr } = await setup(["cudaa"]);
  assertEquals(code, 2);
  assert(stderr.includes(`Unknown command "cudaa" (did you mean "cuda"?)`), stderr);
});
