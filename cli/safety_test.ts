/**
 * The command line never destroys or mixes up a user's data, tried as a new user would: outputs
 * over things the tool did not write, concurrent and interrupted `library add`, states of other
 * weights, unwritable locations, bad numbers.
 */
import "../tests/_cache.ts";
import { assert, assertEquals } from "../tests/_assert.ts";
import { inTempDir, tree } from "../tests/_temp.ts";
import { main } from "./soup.ts";
import { SkillLibrary } from "../lib/library/mod.ts";
import { loadTask, splitTask } from "../lib/tasks/mod.ts";
import { tinyMambaConfig, writeRandomCheckpoint } from "../lib/model/mod.ts";

/** Runs the CLI in a child process: exit code and what it printed. */
async function soup(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", new URL("./soup.ts", import.meta.url).pathname, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

const model = (dir: string, seed = 1) =>
  writeRandomCheckpoint(
    `${dir}/m${seed}`,
    tinyMambaConfig({ numHiddenLayers: 2, vocabSize: 50280 }),
    { seed },
  ).then(() => `${dir}/m${seed}`);

Deno.test("mix and extract refuse to write over a library, a project folder or a file", async () => {
  await inTempDir("soup-safety-", async (dir) => {
    const m = await model(dir);
    assertEquals(await main(["extract", "--model", m, "--ids", "1,2,3", "--out", `${dir}/a`]), 0);
    assertEquals(await main(["extract", "--model", m, "--ids", "4,5", "--out", `${dir}/b`]), 0);
    assertEquals(
      await main([
        "library",
        "add",
        "--library",
        `${dir}/lib`,
        "--model",
        m,
        "--task",
        "antonym",
        "--shots",
        "2",
        "--count",
        "2",
      ]),
      0,
    );
    await Deno.mkdir(`${dir}/project`);
    await Deno.writeTextFile(`${dir}/project/README.md`, "# my project");
    await Deno.writeTextFile(`${dir}/notes.txt`, "my notes");
    const before = tree(dir);
    const states = `${dir}/a,${dir}/b`;
    const r = await soup(["mix", "--mode", "mean", "--states", states, "--out", `${dir}/lib`]);
    assert(r.stderr.includes("not a state folder this tool wrote"), r.stderr);
    for (const force of [[], ["--force"]]) {
      for (const out of ["lib", "project", "notes.txt"]) {
        const mix = ["mix", "--mode", "mean", "--states", states, "--out", `${dir}/${out}`];
        assertEquals(await main([...mix, ...force]), 1, `mix --out ${out} ${force}`);
        const extract = ["extract", "--model", m, "--ids", "1", "--out", `${dir}/${out}`];
        assertEquals(await main([...extract, ...force]), 1, `extract --out ${out} ${force}`);
      }
    }
    assertEquals(tree(dir), before, "nothing was touched");
    // A state folder the tool wrote is replaced only with --force.
    const mix = ["mix", "--mode", "mean", "--states", states, "--out", `${dir}/a`];
    assertEquals(await main(mix), 1);
    assertEquals(tree(dir), before);
    assertEquals(await main([...mix, "--force"]), 0);
  });
});

Deno.test("eval: bad numbers are usage errors; --csv is checked before the evaluation", async () => {
  await inTempDir("soup-safety-", async (dir) => {
    const m = await model(dir);
    const evalArgs = ["eval", "--model", m, "--task", "antonym", "--shots", "1"];
    for (const n of ["0", "-3", "x"]) {
      const r = await soup([...evalArgs, `--n=${n}`]);
      assertEquals(r.code, 1, `--n ${n}`);
      assert(r.stderr.includes("--n must be a positive integer"), r.stderr);
    }
    // An unwritable location fails at once, in one line, before any item is evaluated.
    const t0 = performance.now();
    const r = await soup([...evalArgs, "--n", "50", "--csv", "/proc/soup-no-such/eval.csv"]);
    assertEquals(r.code, 1);
    assert(r.stderr.trim().split("\n").length === 1, `one line: ${r.stderr}`);
    assert(r.stderr.includes("is not writable"), r.stderr);
    assert(performance.now() - t0 < 20_000, "failed before the evaluation");
    // A file the tool did not write is never replaced; its own CSV only with --force.
    await Deno.writeTextFile(`${dir}/mine.csv`, "name,score\nme,1\n");
    const mine = [...evalArgs, "--n", "2", "--csv", `${dir}/mine.csv`];
    assertEquals(await main([...mine, "--force"]), 1);
    assertEquals(await Deno.readTextFile(`${dir}/mine.csv`), "name,score\nme,1\n");
    const ours = [...evalArgs, "--n", "2", "--csv", `${dir}/eval.csv`];
    assertEquals(await main(ours), 0);
    assertEquals(await main(ours), 1, "exists");
    assertEquals(await main([...ours, "--force"]), 0);
  });
});

Deno.test("a state of other weights of the same shape is refused by eval, generate and mix", async () => {
  await inTempDir("soup-safety-", async (dir) => {
    const m1 = await model(dir, 1), m2 = await model(dir, 2);
    assertEquals(await main(["extract", "--model", m1, "--ids", "1,2", "--out", `${dir}/s1`]), 0);
    assertEquals(await main(["extract", "--model", m2, "--ids", "3", "--out", `${dir}/s2`]), 0);
    const r = await soup(["eval", "--model", m2, "--task", "antonym", "--state", `${dir}/s1`]);
    assertEquals(r.code, 1);
    assert(r.stderr.includes("made with other weights"), r.stderr);
    const g = await soup(["generate", "--model", m2, "--from", `${dir}/s1`, "--text", "Hi"]);
    assertEquals(g.code, 1);
    assert(g.stderr.includes("made with other weights"), g.stderr);
    const mix = ["mix", "--mode", "mean", "--states", `${dir}/s1,${dir}/s2`, "--out", `${dir}/x`];
    assertEquals(await main(mix), 1);
    const adecay = ["mix", "--mode", "adecay", "--states", `${dir}/s1,${dir}/s1`, "--model", m2];
    assertEquals(await main([...adecay, "--out", `${dir}/y`]), 1);
    const picaso = ["mix", "--mode", "picaso", "--states", `${dir}/s1,${dir}/s1`, "--model", m2];
    assertEquals(await main([...picaso, "--out", `${dir}/z`]), 1);
    assertEquals(await main(["generate", "--model", m1, "--from", `${dir}/s1`, "--text", "Hi"]), 0);
  });
});

Deno.test("library add: concurrent runs take turns, reruns complete to --count, leftovers go", async () => {
  await inTempDir("soup-safety-", async (dir) => {
    const m = await model(dir);
    const lib = `${dir}/lib`;
    const add = (count: number) => [
      "library",
      "add",
      "--library",
      lib,
      "--model",
      m,
      "--task",
      "antonym",
      "--shots",
      "3",
      "--count",
      String(count),
    ];
    const missing = await soup(add(2).filter((a) => a !== "--shots" && a !== "3"));
    assertEquals(missing.code, 1);
    assert(missing.stderr.includes("Missing --shots"), missing.stderr);
    // Two processes at once: together they complete the library to 8, never sharing a set.
    const [a, b] = await Promise.all([soup(add(8)), soup(add(8))]);
    assertEquals([a.code, b.code], [0, 0], a.stderr + b.stderr);
    const added = (a.stdout + b.stdout).split("\n").filter((l) => l.includes("] added "));
    assertEquals(added.length, 8, "8 states added in all");
    let entries = (await SkillLibrary.open(lib)).list();
    assertEquals(entries.length, 8);
    const used = new Set<number>();
    for (const e of entries) {
      const meta = JSON.parse(await Deno.readTextFile(`${lib}/${e.folder}/meta.json`));
      for (const i of meta.extra.demoIndices) {
        assert(!used.has(i), `demonstration ${i} used twice`);
        used.add(i);
      }
    }
    // What an interrupted add leaves is cleaned; a rerun completes to the count asked for.
    await Deno.mkdir(`${lib}/states/antonym-k3-seed0-9.tmp-0123abcd`);
    await Deno.writeTextFile(`${lib}/states/antonym-k3-seed0-9.tmp-0123abcd/conv.npy`, "partial");
    await Deno.writeTextFile(`${lib}/index.json.4242.89abcdef.tmp`, "{");
    await Deno.writeTextFile(
      `${lib}/.lock`,
      JSON.stringify({ pid: 999999, host: Deno.hostname() }),
    );
    const rerun = await soup(add(10));
    assertEquals(rerun.code, 0, rerun.stderr);
    entries = (await SkillLibrary.open(lib)).list();
    assertEquals(entries.length, 10);
    const again = await soup(add(10));
    assert(again.stdout.includes("none to add"), again.stdout);
    assertEquals((await SkillLibrary.open(lib)).list().length, 10);
    const left = [...Deno.readDirSync(lib), ...Deno.readDirSync(`${lib}/states`)]
      .map((e) => e.name)
      .filter((n) => n.includes(".tmp"));
    assertEquals(left, []);
  });
});

Deno.test("an unwritable --out is one line before any work", async () => {
  await inTempDir("soup-safety-", async (dir) => {
    const m = await model(dir);
    const r = await soup(["extract", "--model", m, "--ids", "1", "--out", "/proc/soup-x/state"]);
    assertEquals(r.code, 1);
    assertEquals(r.stderr.trim().split("\n").length, 1, r.stderr);
    assert(r.stderr.includes("is not writable"), r.stderr);
    const f = await soup(["extract", "--model", m, "--ids", "1", "--out", `${m}/config.json/s`]);
    assertEquals(f.code, 1);
    assert(f.stderr.includes("is a file, not a folder"), f.stderr);
  });
});

Deno.test("checkpoint --out never replaces a real checkpoint, and its own only with --force", async () => {
  await inTempDir("soup-safety-", async (dir) => {
    // A checkpoint this tool did not write (no generator in its safetensors metadata).
    await Deno.mkdir(`${dir}/real`);
    await Deno.writeTextFile(`${dir}/real/config.json`, "{}");
    await Deno.writeFile(`${dir}/real/model.safetensors`, new Uint8Array(64));
    const before = tree(dir);
    for (const force of [[], ["--force"]]) {
      const r = await soup(["checkpoint", "--out", `${dir}/real`, ...force]);
      assertEquals(r.code, 1, r.stderr);
      assert(r.stderr.includes("not a random checkpoint this tool wrote"), r.stderr);
    }
    assertEquals(tree(dir), before, "nothing was touched");
    assertEquals(await main(["checkpoint", "--out", `${dir}/mine`, "--seed", "1"]), 0);
    const first = await Deno.readFile(`${dir}/mine/model.safetensors`);
    assertEquals(await main(["checkpoint", "--out", `${dir}/mine`, "--seed", "2"]), 1);
    assertEquals(await Deno.readFile(`${dir}/mine/model.safetensors`), first);
    assertEquals(await main(["checkpoint", "--out", `${dir}/mine/`, "--seed", "2", "--force"]), 0);
    assert((await Deno.readFile(`${dir}/mine/model.safetensors`)).some((b, i) => b !== first[i]));
    assertEquals(tree(dir).filter((p) => p.includes(".tmp") || p.includes(".old")), []);
  });
});

Deno.test("--out with trailing slashes writes the state folder, in one line on error", async () => {
  await inTempDir("soup-safety-", async (dir) => {
    const m = await model(dir);
    assertEquals(await main(["extract", "--model", m, "--ids", "1,2", "--out", `${dir}/s//`]), 0);
    const r = await soup(["extract", "--model", m, "--ids", "3", "--out", `${dir}/s//`]);
    assertEquals(r.code, 1);
    assertEquals(r.stderr.trim().split("\n").length, 1, r.stderr);
    assert(r.stderr.includes("pass --force"), r.stderr);
    const f = await soup(["extract", "--model", m, "--ids", "3", "--out", `${dir}/s//`, "--force"]);
    assertEquals(f.code, 0, f.stderr);
  });
});

Deno.test("a library of one checkpoint refuses states of another of the same shape", async () => {
  await inTempDir("soup-safety-", async (dir) => {
    const m1 = await model(dir, 1), m2 = await model(dir, 2);
    const add = (m: string) =>
      soup(["library", "add", "--library", `${dir}/lib`, "--model", m, "--task", "antonym"].concat(
        ["--shots", "2", "--count", "2"],
      ));
    assertEquals((await add(m1)).code, 0);
    const other = await add(m2);
    assertEquals(other.code, 1, other.stdout);
    assert(other.stderr.includes("holds states of other weights"), other.stderr);
    assertEquals((await SkillLibrary.open(`${dir}/lib`)).list().length, 2);
    assertEquals(await main(["extract", "--model", m2, "--ids", "1", "--out", `${dir}/q`]), 0);
    const r = await soup(["retrieve", "--library", `${dir}/lib`, "--state", `${dir}/q`]);
    assertEquals(r.code, 1);
    assert(r.stderr.includes("holds states of other weights"), r.stderr);
  });
});

Deno.test("what a killed extract left beside --out is cleaned at the next start", async () => {
  await inTempDir("soup-safety-", async (dir) => {
    const m = await model(dir);
    const out = `${dir}/s`;
    assertEquals(await main(["extract", "--model", m, "--ids", "1,2", "--out", out]), 0);
    const kept = await Deno.readFile(`${out}/ssm.npy`);
    // A writer killed mid-write (its temporary folder) and one killed between a swap's two
    // renames (the state moved aside, nothing at --out), by a process that really ran and ended.
    const script = `${dir}/killed.ts`;
    await Deno.writeTextFile(
      script,
      `import { tempSibling, writerStamp } from ${
        JSON.stringify(new URL("../lib/util/output.ts", import.meta.url).href)
      };
const tmp = tempSibling(${JSON.stringify(out)});
await Deno.mkdir(tmp);
await Deno.writeTextFile(tmp + "/conv.npy", "half");
await Deno.rename(${JSON.stringify(out)}, ${JSON.stringify(out)} + ".old-" + writerStamp());
Deno.exit(0);
`,
    );
    const child = await new Deno.Command(Deno.execPath(), { args: ["run", "-A", script] }).output();
    assertEquals(child.code, 0, new TextDecoder().decode(child.stderr));
    assertEquals(tree(dir).filter((p) => p.startsWith("/s/")), []);
    // The next start puts the state back (so it is refused without --force, unchanged) and
    // removes the half-written folder.
    const r = await soup(["extract", "--model", m, "--ids", "3", "--out", out]);
    assertEquals(r.code, 1, r.stderr);
    assert(r.stderr.includes("pass --force"), r.stderr);
    assertEquals(await Deno.readFile(`${out}/ssm.npy`), kept);
    assertEquals(
      [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => n.startsWith("s.")),
      [],
    );
  });
});

Deno.test("library add: a library completed in several runs holds the sets one run draws", async () => {
  await inTempDir("soup-safety-", async (dir) => {
    const m = await model(dir);
    const add = (lib: string, task: string, shots: number, count: number) =>
      main([
        "library",
        "add",
        "--library",
        `${dir}/${lib}`,
        "--model",
        m,
        "--task",
        task,
        "--shots",
        String(shots),
        "--count",
        String(count),
      ]);
    const sets = async (lib: string, k: number) => {
      const out: number[][] = [];
      for (const e of (await SkillLibrary.open(`${dir}/${lib}`)).list({ task: "antonym", k })) {
        const meta = JSON.parse(await Deno.readTextFile(`${dir}/${lib}/${e.folder}/meta.json`));
        out.push(meta.extra.demoIndices);
      }
      return out;
    };
    const quiet = console.log;
    console.log = () => {};
    try {
      // Another k of the task first, in both libraries: its items stay out of every later set.
      for (const lib of ["once", "parts"]) assertEquals(await add(lib, "antonym", 2, 2), 0);
      assertEquals(await add("once", "antonym", 3, 5), 0);
      for (const count of [1, 2, 5]) assertEquals(await add("parts", "antonym", 3, count), 0);
    } finally {
      console.log = quiet;
    }
    const once = await sets("once", 3);
    assertEquals(once.length, 5);
    assertEquals(await sets("parts", 3), once);
    const k2 = new Set((await sets("once", 2)).flat());
    assert(once.flat().every((i) => !k2.has(i)), "no item shared with the k=2 states");
    assertEquals(new Set(once.flat()).size, 15, "no item in two sets");
    // Other states of the task added in between: the missing sets come from the items still
    // free, all of them, never shared.
    console.log = () => {};
    try {
      assertEquals(await add("between", "antonym", 3, 2), 0);
      assertEquals(await add("between", "antonym", 2, 3), 0);
      assertEquals(await add("between", "antonym", 3, 6), 0);
    } finally {
      console.log = quiet;
    }
    const between = await sets("between", 3);
    assertEquals(between.length, 6);
    const all = [...between, ...await sets("between", 2)].flat();
    assertEquals(new Set(all).size, all.length, "no item in two sets");
    // And up to exhaustion on a small task: every free item of the training split is used.
    console.log = () => {};
    try {
      assertEquals(await add("full", "country-capital", 3, 5), 0);
      assertEquals(await add("full", "country-capital", 2, 10), 0);
      assertEquals(await add("full", "country-capital", 3, 1000), 0);
    } finally {
      console.log = quiet;
    }
    const train = splitTask(await loadTask("country-capital", { seed: 0 }), {
      seed: 0,
      testFraction: 0.3,
    }).train;
    const used = new Set<number>();
    for (const e of (await SkillLibrary.open(`${dir}/full`)).list()) {
      const meta = JSON.parse(await Deno.readTextFile(`${dir}/full/${e.folder}/meta.json`));
      for (const i of meta.extra.demoIndices) used.add(i);
    }
    assert(train.length - used.size < 3, `${train.length - used.size} free items left unused`);
  });
});
