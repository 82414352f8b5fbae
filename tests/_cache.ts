/**
 * Test helper, imported for its effect by tests that run the command line in-process: when
 * SOUP_CACHE is unset (a test file run directly rather than through `deno task test`, which sets
 * it), it points SOUP_CACHE at a temporary folder removed when the tests end, so that no test
 * writes into the project's `data/cache`.
 *
 * @module
 */

if (!Deno.env.get("SOUP_CACHE")) {
  const dir = Deno.makeTempDirSync({ prefix: "soup-test-cache-" });
  Deno.env.set("SOUP_CACHE", dir);
  globalThis.addEventListener("unload", () => {
    try {
      Deno.removeSync(dir, { recursive: true });
    } catch (err) {
      console.error(`could not remove ${dir}: ${(err as Error).message}`);
    }
  });
}
