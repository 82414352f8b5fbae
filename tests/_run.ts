/**
 * `deno task test`: first provisions what the tests need beyond Deno (`tools/setup/test_deps.sh`:
 * Debian packages as root, else one line naming the command; the Jupyter kernel), then runs the
 * test suite with TMPDIR (and SOUP_CACHE below it) pointing at a fresh folder that is removed
 * afterwards, so that whatever temporary files a test, a doc example or a child process (Python,
 * Jupyter, the CLI) leaves behind are gone when the run ends. The optional packages some tests
 * load (LanceDB) are installed before the tests start, since a test loading one mid-run would
 * change node_modules/ under the tests running beside it; and deno.lock is put back as it was
 * afterwards, since Deno records them there, from where every later run would install them.
 * Arguments replace the default paths (`deno task test cli/` runs only cli/).
 *
 * @module
 */

import { OPTIONAL_PACKAGES } from "../lib/retrieval/lancedb_index.ts";

const deps = await new Deno.Command("bash", {
  args: [new URL("../tools/setup/test_deps.sh", import.meta.url).pathname, Deno.execPath()],
  stdin: "null",
  stdout: "inherit",
  stderr: "inherit",
}).output();
if (!deps.success) Deno.exit(deps.code);

const lockPath = new URL("../deno.lock", import.meta.url);
const lock = await Deno.readFile(lockPath).catch(() => undefined);
const optional = await new Deno.Command(Deno.execPath(), {
  args: [
    "eval",
    `await Promise.all(${JSON.stringify(OPTIONAL_PACKAGES)}.map((p) => import(p)));`,
  ],
  stdin: "null",
  stdout: "inherit",
  stderr: "inherit",
}).output();
if (!optional.success) {
  if (lock !== undefined) await Deno.writeFile(lockPath, lock);
  console.error(`could not install the optional packages ${OPTIONAL_PACKAGES.join(", ")}`);
  Deno.exit(optional.code || 1);
}

const tmp = await Deno.makeTempDir({ prefix: "soup-tests-" });
let code = 1;
try {
  const paths = Deno.args.length > 0 ? Deno.args : ["lib/", "cli/", "tests/"];
  const child = new Deno.Command(Deno.execPath(), {
    args: ["test", "--allow-all", "--doc", "--parallel", ...paths],
    // SOUP_CACHE too, so no test writes into the project's data/cache.
    env: { TMPDIR: tmp, SOUP_CACHE: `${tmp}/soup-cache` },
    stdin: "null",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
  code = (await child.status).code;
} finally {
  if (lock !== undefined) await Deno.writeFile(lockPath, lock);
  await Deno.remove(tmp, { recursive: true }).catch((err) => {
    console.error(`could not remove ${tmp}: ${err.message}`);
  });
}
Deno.exit(code);
