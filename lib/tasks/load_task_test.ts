/**
 * Loading task files: sizes and hashes against the mirror's SOURCE.md (read here, independently
 * of the pinned table in the code), the download path through a local HTTP server (a good file
 * is cached, a file with the wrong sha256 is refused and not cached), offline and unknown names,
 * and malformed files.
 */
import { assert, assertEquals, assertRejects } from "../../tests/_assert.ts";
import { mirrorDir } from "../hub/sources.ts";
import { FormatError, NotFoundError, SoupError } from "../util/errors.ts";
import { listTasks, loadTask, taskCacheDir } from "./mod.ts";

const MIRROR = mirrorDir()!;
const FV = `${MIRROR}/function_vectors`;

/** SOURCE.md's table: file -> entries and sha256. */
async function sourceTable(): Promise<Map<string, { kind: string; size: number; sha: string }>> {
  const text = await Deno.readTextFile(`${FV}/SOURCE.md`);
  const rows = new Map<string, { kind: string; size: number; sha: string }>();
  for (const m of text.matchAll(/^\| (\w+)\/(\S+)\.json \| \S+ \| (\d+) \| ([0-9a-f]{64}) \|$/gm)) {
    rows.set(m[2], { kind: m[1], size: Number(m[3]), sha: m[4] });
  }
  return rows;
}

/** Serves `routes` (path -> bytes) on 127.0.0.1 and counts the requests. */
async function withServer(
  routes: Record<string, Uint8Array>,
  fn: (baseUrl: string, requests: string[]) => Promise<void>,
): Promise<void> {
  const requests: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const path = new URL(req.url).pathname;
    requests.push(path);
    const body = routes[path];
    return body === undefined
      ? new Response("not here", { status: 404 })
      : new Response(body as Uint8Array<ArrayBuffer>);
  });
  try {
    await fn(`http://127.0.0.1:${server.addr.port}/dataset_files`, requests);
  } finally {
    await server.shutdown();
  }
}

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    for await (const e of Deno.readDir(d)) {
      if (e.isDirectory) await walk(`${d}/${e.name}`);
      else out.push(`${d}/${e.name}`.slice(dir.length + 1));
    }
  };
  await walk(dir);
  return out.sort();
}

/** A temporary mirror holding `function_vectors/abstractive/<name>.json` files. */
async function tempMirror(files: Record<string, string | Uint8Array>): Promise<string> {
  const dir = await Deno.makeTempDir();
  await Deno.mkdir(`${dir}/function_vectors/abstractive`, { recursive: true });
  for (const [name, content] of Object.entries(files)) {
    const path = `${dir}/function_vectors/abstractive/${name}.json`;
    if (typeof content === "string") await Deno.writeTextFile(path, content);
    else await Deno.writeFile(path, content);
  }
  return dir;
}

Deno.test("loadTask() gives the entry counts SOURCE.md lists", async () => {
  const expected: Record<string, number> = {
    "antonym": 2398,
    "country-capital": 197,
    "present-past": 293,
    "singular-plural": 205,
    "capitalize": 813,
    "english-french": 4698,
  };
  const table = await sourceTable();
  for (const [name, size] of Object.entries(expected)) {
    const task = await loadTask(name, { mirror: MIRROR, offline: true });
    assertEquals(task.items.length, size, name);
    assertEquals(table.get(name)?.size, size, `SOURCE.md's count of ${name}`);
    assertEquals(task.sha256, table.get(name)?.sha, name);
    assertEquals(task.kind, "abstractive");
    assertEquals(task.source, `${FV}/abstractive/${name}.json`);
    assert(task.items.every((x) => typeof x.input === "string" && typeof x.output === "string"));
  }
});

Deno.test("loadTask() keeps the file's order and text", async () => {
  const task = await loadTask("antonym", { mirror: MIRROR, offline: true });
  const raw = JSON.parse(await Deno.readTextFile(`${FV}/abstractive/antonym.json`));
  assertEquals(task.items, raw);
  assertEquals(task.items[0], { input: "flawed", output: "perfect" });
  const extractive = await loadTask("choose_first_of_3", { mirror: MIRROR, offline: true });
  assertEquals(extractive.kind, "extractive");
  assertEquals(extractive.items[0], { input: "ostrich, since, out", output: "ostrich" });
});

Deno.test("listTasks() lists every mirror file with SOURCE.md's count", async () => {
  const table = await sourceTable();
  assertEquals(table.size, 56);
  const listed = await listTasks({ mirror: MIRROR });
  assertEquals(listed.length, table.size);
  for (const t of listed) {
    assertEquals({ kind: t.kind, size: t.size }, {
      kind: table.get(t.name)?.kind,
      size: table.get(t.name)?.size,
    }, t.name);
  }
  assertEquals(listed.slice(0, 2).map((t) => t.name), ["ag_news", "antonym"]);
  assertEquals(listed.at(-1)?.name, "verb_v_adjective_5");
});

Deno.test("listTasks() without a mirror lists the pinned table, which agrees with SOURCE.md", async () => {
  const fromMirror = await listTasks({ mirror: MIRROR });
  assertEquals(await listTasks({ mirror: null }), fromMirror);
});

Deno.test("loadTask() downloads a pinned file, checks its sha256 and caches it", async () => {
  const bytes = await Deno.readFile(`${FV}/abstractive/country-capital.json`);
  const cacheDir = await Deno.makeTempDir();
  await withServer(
    { "/dataset_files/abstractive/country-capital.json": bytes },
    async (baseUrl, requests) => {
      const options = { mirror: null, cacheDir, offline: false, baseUrl };
      const task = await loadTask("country-capital", options);
      assertEquals(requests, ["/dataset_files/abstractive/country-capital.json"]);
      assertEquals(task.items.length, 197);
      assertEquals(task.source, `${cacheDir}/abstractive/country-capital.json`);
      assertEquals(await Deno.readFile(task.source), bytes);
      assertEquals(await listFiles(cacheDir), ["abstractive/country-capital.json"]);
      // A second load reads the cache: no request, even offline.
      const again = await loadTask("country-capital", { ...options, offline: true });
      assertEquals(again, task);
      assertEquals(requests.length, 1);
    },
  );
  await Deno.remove(cacheDir, { recursive: true });
});

Deno.test("loadTask() refuses a download with the wrong sha256 and caches nothing", async () => {
  const good = await Deno.readFile(`${FV}/abstractive/present-past.json`);
  const bad = new Uint8Array([...good, 0x0a]); // still valid JSON, one byte more
  const cacheDir = await Deno.makeTempDir();
  await withServer({ "/dataset_files/abstractive/present-past.json": bad }, async (baseUrl) => {
    const err = await assertRejects(
      () => loadTask("present-past", { mirror: null, cacheDir, offline: false, baseUrl }),
      FormatError,
      "expected bd6f7d484a967646aa5854740c70803568225f47a5630e1555c39e827ba9c78b",
    );
    assert(err.message.includes(`${baseUrl}/abstractive/present-past.json`), err.message);
    assert(err.message.includes("nothing was cached"), err.message);
  });
  assertEquals(await listFiles(cacheDir), []);
  await Deno.remove(cacheDir, { recursive: true });
});

Deno.test("loadTask() reports an HTTP error with the URL and where it looked", async () => {
  const cacheDir = await Deno.makeTempDir();
  await withServer({}, async (baseUrl) => {
    const err = await assertRejects(
      () => loadTask("antonym", { mirror: null, cacheDir, offline: false, baseUrl }),
      SoupError,
      "HTTP 404",
    );
    assert(err.message.includes(`"${baseUrl}/abstractive/antonym.json"`), err.message);
    assert(err.message.includes("no mirror is set"), err.message);
    assert(err.message.includes(`${cacheDir}/abstractive/antonym.json`), err.message);
  });
  assertEquals(await listFiles(cacheDir), []);
  await Deno.remove(cacheDir, { recursive: true });
});

Deno.test("loadTask() offline with neither mirror nor cache says where it looked", async () => {
  const cacheDir = await Deno.makeTempDir();
  const emptyMirror = await Deno.makeTempDir();
  const err = await assertRejects(
    () => loadTask("antonym", { mirror: emptyMirror, cacheDir, offline: true }),
    NotFoundError,
    "offline",
  );
  assert(err.message.includes(`not in the mirror "${emptyMirror}/function_vectors"`), err.message);
  assert(
    err.message.includes(`not in the cache "${cacheDir}/abstractive/antonym.json"`),
    err.message,
  );
  assert(
    err.message.includes("raw.githubusercontent.com/ericwtodd/function_vectors/fb9eac7"),
    err.message,
  );
  await assertRejects(
    () => loadTask("antonym", { mirror: null, cacheDir, offline: true }),
    NotFoundError,
    "no mirror is set",
  );
  await Deno.remove(cacheDir, { recursive: true });
  await Deno.remove(emptyMirror, { recursive: true });
});

Deno.test("loadTask() refuses a cached file whose sha256 is not the pinned one", async () => {
  const cacheDir = await Deno.makeTempDir();
  await Deno.mkdir(`${cacheDir}/abstractive`);
  await Deno.writeTextFile(
    `${cacheDir}/abstractive/antonym.json`,
    '[{"input": "a", "output": "b"}]',
  );
  const err = await assertRejects(
    () => loadTask("antonym", { mirror: null, cacheDir, offline: true }),
    FormatError,
    `Cannot read "${cacheDir}/abstractive/antonym.json": sha256 is`,
  );
  assert(err.message.includes("delete the file"), err.message);
  await Deno.remove(cacheDir, { recursive: true });
});

Deno.test("loadTask() rejects unknown task names and names that leave the folder", async () => {
  await assertRejects(
    () => loadTask("no-such-task", { mirror: MIRROR, offline: true }),
    NotFoundError,
    'Cannot load task "no-such-task"',
  );
  for (const name of ["../antonym", "a/b", "", "_randomized", ".hidden"]) {
    await assertRejects(
      () => loadTask(name, { mirror: MIRROR, offline: true }),
      NotFoundError,
      name,
    );
  }
});

Deno.test("loadTask() names the file when a task file is malformed", async () => {
  const cases: Record<string, [string | Uint8Array, string]> = {
    "not-json": ['[{"input": "a", ', "malformed JSON"],
    "object": ['{"input": "a", "output": "b"}', "expected a JSON array"],
    "number-entry": ['[{"input": "a", "output": "b"}, 3]', "entry 1 is a number"],
    "no-output": ['[{"input": "a"}]', 'entry 0 has no value as "output"'],
    "number-input": ['[{"input": 1, "output": "b"}]', 'entry 0 has a number as "input"'],
    "null-output": ['[{"input": "a", "output": null}]', 'entry 0 has null as "output"'],
    "list-entry": ['[["a", "b"]]', "entry 0 is an array"],
    "latin1": [new Uint8Array([0x5b, 0x22, 0xe9, 0x22, 0x5d]), "not UTF-8"],
  };
  const mirror = await tempMirror(
    Object.fromEntries(Object.entries(cases).map(([k, v]) => [k, v[0]])),
  );
  for (const [name, [, problem]] of Object.entries(cases)) {
    const file = `${mirror}/function_vectors/abstractive/${name}.json`;
    const err = await assertRejects(
      () => loadTask(name, { mirror, offline: true }),
      FormatError,
      `Cannot read "${file}": ${problem}`,
    );
    assertEquals((err as FormatError).file, file);
  }
  await assertRejects(
    () => listTasks({ mirror }),
    FormatError,
    `${mirror}/function_vectors/abstractive/`,
  );
  await Deno.remove(mirror, { recursive: true });
});

Deno.test("loadTask() reads a mirror task that is not pinned, without a hash check", async () => {
  const mirror = await tempMirror({
    "antonym": '[{"input": "hot", "output": "cold", "note": "extra keys are ignored"}]',
    "my-task": '[{"input": "x", "output": "y"}]',
  });
  assertEquals((await loadTask("my-task", { mirror, offline: true })).items, [{
    input: "x",
    output: "y",
  }]);
  assertEquals((await loadTask("antonym", { mirror, offline: true })).items, [{
    input: "hot",
    output: "cold",
  }]);
  assertEquals(await listTasks({ mirror }), [
    { name: "antonym", kind: "abstractive", size: 1 },
    { name: "my-task", kind: "abstractive", size: 1 },
  ]);
  await Deno.remove(mirror, { recursive: true });
});

Deno.test("loadTask() shuffles the outputs of a name ending in _randomized, seed 0 by default", async () => {
  const options = { mirror: MIRROR, offline: true };
  const plain = await loadTask("singular-plural", options);
  const r0 = await loadTask("singular-plural_randomized", options);
  const r0again = await loadTask("singular-plural_randomized", { ...options, seed: 0 });
  const r1 = await loadTask("singular-plural_randomized", { ...options, seed: 1 });
  assertEquals(r0.name, "singular-plural_randomized");
  assertEquals(r0.shuffleSeed, 0);
  assertEquals(r1.shuffleSeed, 1);
  assertEquals(r0, r0again);
  assert(JSON.stringify(r0.items) !== JSON.stringify(r1.items), "seeds give different shuffles");
  assertEquals(r0.items.map((x) => x.input), plain.items.map((x) => x.input));
  assertEquals(r0.sha256, plain.sha256);
  assertEquals(plain.shuffleSeed, undefined);
});

Deno.test("taskCacheDir() uses the option, then $SOUP_CACHE, then data/cache beside the project", async () => {
  assertEquals(taskCacheDir({ cacheDir: "/x/y/" }), "/x/y");
  const code = 'import { taskCacheDir } from "./lib/tasks/mod.ts"; console.log(taskCacheDir());';
  const root = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");
  const run = async (env: Record<string, string>) => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["eval", code],
      cwd: root,
      env,
      clearEnv: false,
      stdout: "piped",
      stderr: "inherit",
    }).output();
    assert(out.success, "deno eval failed");
    return new TextDecoder().decode(out.stdout).trim();
  };
  assertEquals(await run({ SOUP_CACHE: "/tmp/soup-cache" }), "/tmp/soup-cache/function_vectors");
  assertEquals(await run({ SOUP_CACHE: "" }), `${root}/data/cache/function_vectors`);
});
