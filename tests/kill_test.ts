/**
 * Hard stops: `reproduce`, `soup library add`, `soup extract` and `soup mix` are SIGKILLed at
 * seeded random moments (one to three times in a row on the same folders) and then rerun to the
 * end. After every rerun the outputs equal an uninterrupted run's (byte for byte; the `created`
 * time stamps of meta.json and index.json, a library's lock file and timing.json aside), no temporary or moved-aside file or folder is
 * left anywhere, and every state-store entry reads back whole (its arrays against the sha256 in
 * its meta.json, as NumPy and hashlib read them).
 *
 * CI kills 8 times (about a minute); `deno task kills` kills 60 times (SOUP_KILLS, SOUP_KILL_SEED).
 */
import "./_cache.ts";
import { assert, assertEquals } from "./_assert.ts";
import { checkStoreEntries } from "./_store.ts";
import { Rng } from "../lib/util/random.ts";
import { tinyMambaConfig, writeRandomCheckpoint } from "../lib/model/random_checkpoint.ts";

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const KILLS = Number(Deno.env.get("SOUP_KILLS") ?? 8);
const SEED = Number(Deno.env.get("SOUP_KILL_SEED") ?? 20261207);

/** One command to kill: its arguments in a work folder, and the outputs to compare. */
interface Target {
  name: string;
  /** `deno run -A` arguments, given the work folder (its cache is `<work>/cache`). */
  args: (work: string) => string[];
  /** Outputs compared with the uninterrupted run's, relative to the work folder. */
  outputs: string[];
}

function targets(model: string, states: string): Target[] {
  const soup = `${ROOT}/cli/soup.ts`;
  return [
    {
      name: "reproduce retrieval",
      args: (w) => [
        `${ROOT}/cli/reproduce.ts`,
        "retrieval",
        "--quick",
        "--model",
        model,
        "--offline",
        "--device",
        "cpu",
        "--results",
        `${w}/results`,
        "--force",
      ],
      outputs: ["results"],
    },
    {
      name: "library add",
      args: (w) => [
        soup,
        "library",
        "add",
        "--library",
        `${w}/library`,
        "--model",
        model,
        "--task",
        "antonym",
        "--shots",
        "4",
        "--count",
        "6",
        "--device",
        "cpu",
        "--offline",
      ],
      outputs: ["library"],
    },
    {
      name: "extract",
      args: (w) => [
        soup,
        "extract",
        "--model",
        model,
        "--text",
        "Q: hot\\nA: cold\\n\\nQ: up\\nA: down\\n\\n",
        "--device",
        "cpu",
        "--offline",
        "--out",
        `${w}/state`,
        "--force",
      ],
      outputs: ["state"],
    },
    {
      name: "mix",
      args: (w) => [
        soup,
        "mix",
        "--mode",
        "adecay",
        "--states",
        `${states}/a,${states}/b`,
        "--model",
        model,
        "--offline",
        "--out",
        `${w}/mixed`,
        "--force",
      ],
      outputs: ["mixed"],
    },
  ];
}

async function run(args: string[], work: string, killAfterMs?: number) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", ...args],
    env: { SOUP_CACHE: `${work}/cache` },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let timer: ReturnType<typeof setTimeout> | undefined;
  if (killAfterMs !== undefined) {
    timer = setTimeout(() => {
      try {
        child.kill("SIGKILL");
      } catch { /* it ended first */ }
    }, killAfterMs);
  }
  const out = await child.output();
  clearTimeout(timer);
  return { code: out.code, signal: out.signal, stderr: new TextDecoder().decode(out.stderr) };
}

/** Every file under `dir` (relative path -> bytes), JSON with its `created` fields removed. */
function snapshot(dir: string, base = dir, out = new Map<string, string>()): Map<string, string> {
  for (const e of Deno.readDirSync(dir)) {
    const path = `${dir}/${e.name}`;
    if (e.isDirectory) snapshot(path, base, out);
    else if (e.name !== "timing.json" && e.name !== ".lock") {
      const bytes = Deno.readFileSync(path);
      let text: string;
      if (e.name.endsWith(".json")) {
        text = JSON.stringify(
          JSON.parse(new TextDecoder().decode(bytes)),
          (k, v) => (k === "created" ? undefined : v),
        );
      } else text = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
      out.set(path.slice(base.length + 1), text);
    }
  }
  return out;
}

/** Paths under `dir` that an interrupted write left (temporary or moved-aside names). */
function leftovers(dir: string, out: string[] = []): string[] {
  for (const e of Deno.readDirSync(dir)) {
    const path = `${dir}/${e.name}`;
    if (/\.tmp-|\.old-|\.tmp$|\.soup-write-check-|\.lock-/.test(e.name)) out.push(path);
    if (e.isDirectory) leftovers(path, out);
  }
  return out;
}

Deno.test(`killed at ${KILLS} random moments, reproduce, library add, extract and mix rerun to what an uninterrupted run writes`, async () => {
  const dir = await Deno.makeTempDir({ prefix: "soup-kill-" });
  try {
    const model = `${dir}/model`;
    await writeRandomCheckpoint(model, tinyMambaConfig({ vocabSize: 50280, numHiddenLayers: 2 }));
    // Two saved states for mix, made once.
    for (const [name, text] of [["a", "Q: big\\nA:"], ["b", " small\\n\\n"]]) {
      const r = await run([
        `${ROOT}/cli/soup.ts`,
        "extract",
        "--model",
        model,
        "--text",
        text,
        "--device",
        "cpu",
        "--offline",
        "--out",
        `${dir}/states/${name}`,
      ], `${dir}/prep`);
      assertEquals(r.code, 0, r.stderr);
    }
    const list = targets(model, `${dir}/states`);
    // Each target uninterrupted: what every rerun must write, and how long it takes.
    const reference = new Map<string, { files: Map<string, string>; ms: number }>();
    for (const t of list) {
      const work = `${dir}/ref-${t.name.replace(/ /g, "-")}`;
      const started = performance.now();
      const r = await run(t.args(work), work);
      assertEquals(r.code, 0, `${t.name}: ${r.stderr}`);
      const files = new Map<string, string>();
      for (const o of t.outputs) {
        for (const [k, v] of snapshot(`${work}/${o}`)) files.set(`${o}/${k}`, v);
      }
      reference.set(t.name, { files, ms: performance.now() - started });
    }

    const rng = new Rng(SEED);
    let kills = 0, killedMidway = 0, round = 0;
    const perTarget = new Map(list.map((t) => [t.name, 0]));
    while (kills < KILLS) {
      const t = list[round % list.length];
      const ref = reference.get(t.name)!;
      const work = `${dir}/round-${round++}`;
      // One to three kills in a row on the same folders, each at a moment within the run.
      const times = 1 + Math.floor(rng.uniform() * 3);
      for (let i = 0; i < times && kills < KILLS; i++) {
        const at = 50 + rng.uniform() * ref.ms;
        const r = await run(t.args(work), work, at);
        kills++;
        perTarget.set(t.name, perTarget.get(t.name)! + 1);
        if (r.signal === "SIGKILL") killedMidway++;
        else assertEquals(r.code, 0, `${t.name} after a kill: ${r.stderr}`);
      }
      const r = await run(t.args(work), work);
      assertEquals(r.code, 0, `${t.name}, rerun after kills (round ${round - 1}): ${r.stderr}`);
      const files = new Map<string, string>();
      for (const o of t.outputs) {
        for (const [k, v] of snapshot(`${work}/${o}`)) files.set(`${o}/${k}`, v);
      }
      assertEquals([...files.keys()].sort(), [...ref.files.keys()].sort(), t.name);
      for (const [k, v] of files) assert(v === ref.files.get(k), `${t.name}: ${k} differs`);
      assertEquals(leftovers(work), [], `${t.name}: left behind`);
      try {
        Deno.statSync(`${work}/cache/states`);
        await checkStoreEntries(`${work}/cache/states`);
      } catch (err) {
        if (!(err instanceof Deno.errors.NotFound)) throw err;
      }
    }
    console.log(
      `${kills} kills (${killedMidway} while running) over ${round} rounds: ${
        [...perTarget].map(([n, k]) => `${n} ${k}`).join(", ")
      }; every rerun equal to an uninterrupted run, nothing left behind`,
    );
    assert(
      killedMidway >= Math.ceil(KILLS / 2),
      `only ${killedMidway} kills hit a running process`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
