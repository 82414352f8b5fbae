/**
 * Two writers and full or read-only disks, with real processes and real file systems:
 * - two `reproduce retrieval` runs at the same time on one cache write what one run writes, and
 *   every store entry stays whole;
 * - a results folder or a cache on a full tmpfs, or on a read-only one: the run fails with one
 *   line naming the path (no stack trace), leaves nothing half-written there, and the results an
 *   earlier run wrote stay as they were.
 * Mounting needs root (the test command runs as root in CI, as the Slurm test does).
 */
import "./_cache.ts";
import { assert, assertEquals } from "./_assert.ts";
import { checkStoreEntries } from "./_store.ts";
import { tinyMambaConfig, writeRandomCheckpoint } from "../lib/model/random_checkpoint.ts";

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
let MODEL = "";

async function reproduce(cache: string, results: string, force = false) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      `${ROOT}/cli/reproduce.ts`,
      "retrieval",
      "--quick",
      "--model",
      MODEL,
      "--offline",
      "--device",
      "cpu",
      "--results",
      results,
      ...(force ? ["--force"] : []),
    ],
    env: { SOUP_CACHE: cache },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
}

/** Every file under `dir` but timing.json, relative path -> bytes as hex. */
function files(dir: string, base = dir, out = new Map<string, string>()): Map<string, string> {
  for (const e of Deno.readDirSync(dir)) {
    const path = `${dir}/${e.name}`;
    if (e.isDirectory) files(path, base, out);
    else if (e.name !== "timing.json") {
      out.set(
        path.slice(base.length + 1),
        Array.from(Deno.readFileSync(path), (b) => b.toString(16).padStart(2, "0")).join(""),
      );
    }
  }
  return out;
}

function assertSameFiles(a: string, b: string, what: string) {
  const [x, y] = [files(a), files(b)];
  assertEquals([...x.keys()].sort(), [...y.keys()].sort(), what);
  for (const [k, v] of x) assert(v === y.get(k), `${what}: ${k} differs`);
}

async function sh(cmd: string): Promise<void> {
  const out = await new Deno.Command("bash", { args: ["-c", cmd], stderr: "piped" }).output();
  if (!out.success) throw new Error(`${cmd}: ${new TextDecoder().decode(out.stderr)}`);
}

/** The error a failed run printed: one line, naming `path`, no stack trace. */
function assertOneLine(stderr: string, path: string, what: string) {
  const errors = stderr.split("\n").filter((l) => /error|cannot|no space|read-only/i.test(l));
  assert(errors.length >= 1, `${what}: nothing said (${stderr})`);
  assert(!/^\s+at /m.test(stderr), `${what}: a stack trace\n${stderr}`);
  assert(errors.some((l) => l.includes(path)), `${what}: no line names ${path}\n${stderr}`);
}

Deno.test("two runs at once on one cache, and full or read-only disks: one line, nothing half-written, earlier results intact", async () => {
  if (Deno.uid() !== 0) throw new Error("the disk test mounts tmpfs: run the tests as root");
  const dir = await Deno.makeTempDir({ prefix: "soup-disk-" });
  const mounts: string[] = [];
  const mount = async (name: string, options: string) => {
    const at = `${dir}/${name}`;
    await Deno.mkdir(at);
    await sh(`mount -t tmpfs -o ${options} tmpfs ${at}`);
    mounts.push(at);
    return at;
  };
  try {
    MODEL = `${dir}/model`;
    await writeRandomCheckpoint(
      MODEL,
      tinyMambaConfig({ vocabSize: 50280, numHiddenLayers: 2 }),
    );
    const single = await reproduce(`${dir}/cache-single`, `${dir}/single`);
    assertEquals(single.code, 0, single.stderr);

    // Two writers of the same figure on one cache, at the same time.
    const [a, b] = await Promise.all([
      reproduce(`${dir}/cache-shared`, `${dir}/a`),
      reproduce(`${dir}/cache-shared`, `${dir}/b`),
    ]);
    assertEquals([a.code, b.code], [0, 0], a.stderr + b.stderr);
    assertSameFiles(`${dir}/a`, `${dir}/single`, "the first of two writers");
    assertSameFiles(`${dir}/b`, `${dir}/single`, "the second of two writers");
    assert((await checkStoreEntries(`${dir}/cache-shared/states`)) > 0, "the two writers' store");

    // Results on a small disk: a first run fits; with the disk then full, a rerun fails in one
    // line, and the first run's results are intact.
    const small = await mount("small", "size=1m");
    const first = await reproduce(`${dir}/cache-single`, `${small}/results`);
    assertEquals(first.code, 0, first.stderr);
    const before = files(`${small}/results`);
    await sh(`dd if=/dev/zero of=${small}/filler bs=4k 2>/dev/null || true`);
    const full = await reproduce(`${dir}/cache-single`, `${small}/results`, true);
    assertEquals(full.code, 1, full.stderr);
    assertOneLine(full.stderr, `${small}/results`, "results on a full disk");
    assertEquals(files(`${small}/results`), before, "the earlier results changed");
    assertEquals(
      [...Deno.readDirSync(small)].map((e) => e.name).sort(),
      ["filler", "results"],
      "something half-written is left beside the results",
    );

    // The cache on a full disk: one line, and nothing but whole entries in it.
    const fullCache = await mount("fullcache", "size=256k");
    await sh(`dd if=/dev/zero of=${fullCache}/filler bs=4k count=60 2>/dev/null`);
    const cacheFull = await reproduce(fullCache, `${dir}/unused`);
    assertEquals(cacheFull.code, 1, cacheFull.stderr);
    assertOneLine(cacheFull.stderr, fullCache, "the cache on a full disk");
    for (const sub of ["states", "_states"]) {
      try {
        await checkStoreEntries(`${fullCache}/${sub}`);
      } catch (err) {
        if (!String(err).includes("No such file")) throw err;
      }
    }

    // Read-only results and cache.
    const ro = await mount("ro", "ro,size=64k");
    const roResults = await reproduce(`${dir}/cache-single`, `${ro}/results`);
    assertEquals(roResults.code, 1, roResults.stderr);
    assertOneLine(roResults.stderr, `${ro}/results`, "read-only results");
    const roCache = await reproduce(ro, `${dir}/unused2`);
    assertEquals(roCache.code, 1, roCache.stderr);
    assertOneLine(roCache.stderr, ro, "a read-only cache");
    assertEquals([...Deno.readDirSync(ro)], []);
  } finally {
    for (const m of mounts.reverse()) await sh(`umount ${m}`).catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
});
