import "../tests/_cache.ts";
import { assert, assertClose, assertEquals } from "../tests/_assert.ts";
import { main } from "./soup.ts";
import { readNpy } from "../lib/npy/mod.ts";
import { loadState } from "../lib/states/mod.ts";
import { openEngine } from "../lib/engine/mod.ts";
import { runNumpy } from "../tests/_python.ts";

Deno.test("soup checkpoint, extract and extract --from give the state of one pass", async () => {
  const dir = await Deno.makeTempDir();
  assertEquals(
    await main([
      "checkpoint",
      "--out",
      `${dir}/m`,
      "--layers",
      "2",
      "--vocab",
      "50280",
      "--seed",
      "3",
    ]),
    0,
  );
  assertEquals(
    await main([
      "extract",
      "--model",
      `${dir}/m`,
      "--text",
      "Q: hot\nA: cold",
      "--out",
      `${dir}/a`,
    ]),
    0,
  );
  const a = await loadState(`${dir}/a`);
  assertEquals(a.meta.tokenIds, [50, 27, 3511, 187, 34, 27, 5412]); // GPT-NeoX ids, see NOTES.md
  assertEquals(
    await main([
      "extract",
      "--model",
      `${dir}/m`,
      "--ids",
      "187,187",
      "--from",
      `${dir}/a`,
      "--out",
      `${dir}/b`,
    ]),
    0,
  );
  const b = await loadState(`${dir}/b`);
  assertEquals(b.meta.source, `${dir}/a`);
  const engine = await openEngine(`${dir}/m`);
  const whole = await engine.run([50, 27, 3511, 187, 34, 27, 5412, 187, 187]);
  assertClose(b.ssm, whole.state.ssm, { rtol: 1e-5, atol: 1e-7 });
  assertClose(b.conv, whole.state.conv, { rtol: 1e-5, atol: 1e-7 });
  const logits = await readNpy(`${dir}/b/logits.npy`);
  assertEquals(logits.shape, [50280]);
  assertClose(logits.data as Float32Array, whole.logits, { rtol: 1e-4, atol: 1e-6 });
});

Deno.test("soup reports bad input as one clear line and exit code 1", async () => {
  const dir = await Deno.makeTempDir();
  const errors: string[] = [];
  const original = console.error;
  console.error = (...args: unknown[]) => errors.push(args.join(" "));
  try {
    assertEquals(
      await main(["extract", "--model", `${dir}/none`, "--ids", "1", "--out", `${dir}/s`]),
      1,
    );
    assertEquals(
      await main(["extract", "--model", `${dir}/none`, "--ids", "1,x", "--out", `${dir}/s`]),
      1,
    );
    assertEquals(await main(["checkpoint", "--out", `${dir}/m`, "--dtype", "F8"]), 1);
    assertEquals(await main(["nope"]), 2);
  } finally {
    console.error = original;
  }
  assert(errors[0].includes("no such directory"), errors[0]);
  assert(errors[2].includes("--dtype must be F32, F16 or BF16"), errors[2]);
});

Deno.test("soup extract gives the same state on onnx-cpu and on the reference", async () => {
  const dir = await Deno.makeTempDir();
  assertEquals(
    await main([
      "checkpoint",
      "--out",
      `${dir}/m`,
      "--layers",
      "3",
      "--state",
      "16",
      "--conv",
      "3",
    ]),
    0,
  );
  for (const device of ["cpu", "reference"]) {
    assertEquals(
      await main([
        "extract",
        "--model",
        `${dir}/m`,
        "--text",
        "Q: hot\\nA:",
        "--device",
        device,
        "--out",
        `${dir}/${device}`,
      ]),
      0,
    );
  }
  const onnx = await loadState(`${dir}/cpu`), ref = await loadState(`${dir}/reference`);
  assertEquals(onnx.meta.engine, "onnx-cpu");
  assertEquals(onnx.meta.tokenIds, [50, 27, 3511, 187, 34, 27]); // "\n" escape read as a newline
  for (const key of ["conv", "ssm", "deltaSum", "logits"] as const) {
    const scale = Math.max(...ref[key]!.map(Math.abs));
    assertClose(onnx[key]!, ref[key]!, { rtol: 0, atol: 1e-4 * scale, msg: key });
  }
});

Deno.test("soup generate streams a greedy continuation that matches the reference", async () => {
  const dir = await Deno.makeTempDir();
  assertEquals(await main(["checkpoint", "--out", `${dir}/m`, "--layers", "2", "--seed", "5"]), 0);
  const run = async (device: string) => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-all",
        new URL("./soup.ts", import.meta.url).pathname,
        "generate",
        "--model",
        `${dir}/m`,
        "--text",
        "The capital of France is",
        "--max-tokens",
        "6",
        "--device",
        device,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert(out.success, new TextDecoder().decode(out.stderr));
    return new TextDecoder().decode(out.stdout);
  };
  const onnx = await run("cpu");
  assert(onnx.trim().length > 0, "some text");
  assertEquals(onnx, await run("reference"));
});

Deno.test("soup library, retrieve and mix work end to end, checked with NumPy", async () => {
  const dir = await Deno.makeTempDir();
  const quiet = console.log;
  const lines: string[] = [];
  console.log = (...a: unknown[]) => lines.push(a.join(" "));
  try {
    assertEquals(
      await main(["checkpoint", "--out", `${dir}/m`, "--layers", "2", "--seed", "2"]),
      0,
    );
    for (const task of ["antonym", "capitalize"]) {
      const args = [
        "library",
        "add",
        "--library",
        `${dir}/lib`,
        "--model",
        `${dir}/m`,
        "--task",
        task,
      ];
      assertEquals(await main([...args, "--shots", "3", "--count", "2", "--device", "cpu"]), 0);
    }
    lines.length = 0;
    const st = `${dir}/lib/states`;
    assertEquals(
      await main([
        "retrieve",
        "--library",
        `${dir}/lib`,
        "--state",
        `${st}/capitalize-k3-seed0-2`,
        "--layer",
        "1",
        "--top",
        "2",
      ]),
      0,
    );
    assert(lines[0].startsWith("1.0000\tcapitalize-k3-seed0-2\tcapitalize"), lines[0]);
    const a = `${st}/antonym-k3-seed0`, b = `${st}/capitalize-k3-seed0`;
    assertEquals(
      await main(["mix", "--mode", "mean", "--states", `${a},${b}`, "--out", `${dir}/mean`]),
      0,
    );
    // The mix records its model and inputs, not the first input's tokens or task.
    const mixedMeta = (await loadState(`${dir}/mean`)).meta;
    assertEquals(mixedMeta.tokenIds, []);
    assertEquals(mixedMeta.extra?.states, [a, b]);
    assertEquals(mixedMeta.extra?.task, undefined);
    assertEquals(mixedMeta.configHash, (await loadState(a)).meta.configHash);
    assertEquals(
      await main([
        "mix",
        "--mode",
        "weighted",
        "--states",
        `${a},${b}`,
        "--weights",
        "2,-1",
        "--out",
        `${dir}/w`,
      ]),
      0,
    );
    assertEquals(
      await main([
        "mix",
        "--mode",
        "adecay",
        "--states",
        `${a},${b}`,
        "--model",
        `${dir}/m`,
        "--out",
        `${dir}/ad`,
      ]),
      0,
    );
    const c = `${st}/capitalize-k3-seed0-2`;
    const picaso = ["mix", "--mode", "picaso", "--states", `${a},${b},${c}`, "--model", `${dir}/m`];
    assertEquals(await main([...picaso, "--out", `${dir}/pi`]), 0);
    assertEquals((await loadState(`${dir}/pi`)).meta.engine, "mix-picaso");
  } finally {
    console.log = quiet;
  }
  const check = await runNumpy(
    `import sys, itertools, numpy as np
sys.path.insert(0, sys.argv[5])
import mamba_numpy as m
a, b, d, m_dir = sys.argv[1:5]
c = sys.argv[6]
L = lambda p, f: np.load(f"{p}/{f}.npy").astype(np.float64)
cfg, w = m.load_model(m_dir)
A = -np.exp(np.stack([w[f"backbone.layers.{i}.mixer.A_log"] for i in range(2)]))
errs = [
  np.abs(L(d + "/mean", "ssm") - (L(a, "ssm") + L(b, "ssm")) / 2).max(),
  np.abs(L(d + "/w", "conv") - (2 * L(a, "conv") - L(b, "conv"))).max(),
  np.abs(L(d + "/ad", "ssm") - (L(b, "ssm") + np.exp(A * L(b, "delta_sum")[:, :, None]) * L(a, "ssm"))).max(),
  np.abs(L(d + "/ad", "conv") - L(b, "conv")).max(),
]
# PICASO: read the three states one after another in each of the 6 orders, then average.
def read(order):
  h = np.zeros_like(L(a, "ssm"))
  for s in order:
    h = np.exp(A * L(s, "delta_sum")[:, :, None]) * h + L(s, "ssm")
  return h
orders = list(itertools.permutations([a, b, c]))
pi = sum(read(o) for o in orders) / 6
errs += [
  # relative: these ssm values are small (about 1e-2)
  np.abs(L(d + "/pi", "ssm") - pi).max() / np.abs(pi).max(),
  np.abs(L(d + "/pi", "conv") - sum(L(s, "conv") for s in (a, b, c)) / 3).max(),
  np.abs(L(d + "/pi", "delta_sum") - sum(L(s, "delta_sum") for s in (a, b, c))).max(),
]
print(max(errs))`,
    [
      `${dir}/lib/states/antonym-k3-seed0`,
      `${dir}/lib/states/capitalize-k3-seed0`,
      dir,
      `${dir}/m`,
      new URL("../tests/reference/", import.meta.url).pathname,
      `${dir}/lib/states/capitalize-k3-seed0-2`,
    ],
  );
  assert(Number(check) < 1e-5, `NumPy finds the mixes off by ${check}`);
});

Deno.test("soup library add never reuses demonstrations; mix adecay refuses a mixed second state", async () => {
  const dir = await Deno.makeTempDir();
  const errors: string[] = [];
  const [log, error] = [console.log, console.error];
  console.log = () => {};
  console.error = (...a: unknown[]) => errors.push(a.join(" "));
  try {
    assertEquals(await main(["checkpoint", "--out", `${dir}/m`, "--layers", "1"]), 0);
    const add = [
      "library",
      "add",
      "--library",
      `${dir}/lib`,
      "--model",
      `${dir}/m`,
      "--task",
      "antonym",
      "--device",
      "cpu",
    ];
    assertEquals(await main([...add, "--shots", "3", "--count", "2"]), 0);
    assertEquals(await main([...add, "--shots", "5", "--count", "2", "--seed", "1"]), 0);
    const demos: number[] = [];
    for (const e of Deno.readDirSync(`${dir}/lib/states`)) {
      const meta = JSON.parse(await Deno.readTextFile(`${dir}/lib/states/${e.name}/meta.json`));
      demos.push(...meta.extra.demoIndices);
    }
    assertEquals(demos.length, 16);
    assertEquals(new Set(demos).size, 16, "no demonstration in two states");
    const st = `${dir}/lib/states`;
    assertEquals(
      await main([
        "mix",
        "--mode",
        "mean",
        "--states",
        `${st}/antonym-k3-seed0,${st}/antonym-k3-seed0-2`,
        "--out",
        `${dir}/mixed`,
      ]),
      0,
    );
    assertEquals(
      await main([
        "mix",
        "--mode",
        "adecay",
        "--states",
        `${st}/antonym-k3-seed0,${dir}/mixed`,
        "--model",
        `${dir}/m`,
        "--out",
        `${dir}/bad`,
      ]),
      1,
    );
    assert(errors.at(-1)!.includes("records no tokens"), errors.at(-1));
    // PICASO composes states read from zeros: a mix is one, a state read on from another is not.
    const first = `${st}/antonym-k3-seed0`;
    const from = ["extract", "--model", `${dir}/m`, "--ids", "5,6", "--from", first];
    assertEquals(await main([...from, "--out", `${dir}/on`]), 0);
    const picaso = ["mix", "--mode", "picaso", "--model", `${dir}/m`, "--states"];
    assertEquals(await main([...picaso, `${first},${dir}/mixed`, "--out", `${dir}/pi`]), 0);
    assertEquals(await main([...picaso, `${first},${dir}/on`, "--out", `${dir}/bad2`]), 1);
    assert(errors.at(-1)!.includes(`"${dir}/on" started from "${first}"`), errors.at(-1));
    assertEquals(
      await main([
        "eval",
        "--model",
        `${dir}/m`,
        "--task",
        "antonym",
        "--shots",
        "1",
        "--n",
        "2",
        "--csv",
        `${dir}/no/such/dir/r.csv`,
      ]),
      0,
    );
    // The folders on the way are made (checked writable before the evaluation), so the
    // evaluation's rows are never lost to a missing folder.
    assert(Deno.statSync(`${dir}/no/such/dir/r.csv`).isFile, "CSV written");
  } finally {
    [console.log, console.error] = [log, error];
  }
});

/** Runs the CLI in a child process with its own state store; what it printed (exit code 0). */
async function soupWithCache(cache: string, args: string[]): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", new URL("./soup.ts", import.meta.url).pathname, ...args],
    env: { SOUP_CACHE: cache },
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  assertEquals(out.code, 0, text);
  return text;
}

Deno.test("soup library add extracts through the shared state store", async () => {
  const dir = await Deno.makeTempDir();
  try {
    assertEquals(
      await main(["checkpoint", "--out", `${dir}/m`, "--layers", "2", "--seed", "4"]),
      0,
    );
    const add = (lib: string) =>
      soupWithCache(`${dir}/cache`, [
        "library",
        "add",
        "--library",
        `${dir}/${lib}`,
        "--model",
        `${dir}/m`,
        "--task",
        "antonym",
        "--shots",
        "2",
        "--count",
        "3",
        "--device",
        "cpu",
      ]);
    const first = await add("lib1");
    assert(first.includes("3 states extracted, 0 found in"), first);
    assert(first.includes(`${dir}/cache/states`), first);
    // Another library of the same demonstrations finds every state in the store.
    const second = await add("lib2");
    assert(second.includes("0 states extracted, 3 found"), second);
    const engine = await openEngine(`${dir}/m`, { device: "cpu" });
    try {
      for (const id of ["antonym-k2-seed0", "antonym-k2-seed0-2", "antonym-k2-seed0-3"]) {
        const a = await loadState(`${dir}/lib1/states/${id}`);
        const b = await loadState(`${dir}/lib2/states/${id}`);
        assertEquals(b.ssm, a.ssm);
        // What the store gave is what the engine computes for those tokens alone.
        const { state, logits } = await engine.run(a.meta.tokenIds);
        assertEquals(a.ssm, state.ssm);
        assertEquals(a.conv, state.conv);
        assertEquals(a.deltaSum, state.deltaSum);
        assertEquals(a.logits, logits);
      }
    } finally {
      await engine.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("soup extract from zeros goes through the shared state store", async () => {
  const dir = await Deno.makeTempDir();
  try {
    assertEquals(
      await main(["checkpoint", "--out", `${dir}/m`, "--layers", "2", "--seed", "6"]),
      0,
    );
    const extract = (out: string) =>
      soupWithCache(`${dir}/cache`, [
        "extract",
        "--model",
        `${dir}/m`,
        "--ids",
        "5,6,7",
        "--device",
        "cpu",
        "--out",
        out,
      ]);
    assert((await extract(`${dir}/a`)).startsWith("Read 3 tokens on onnx-cpu"));
    assert(
      (await extract(`${dir}/b`)).startsWith("Found the state of 3 tokens in the state store"),
    );
    const [a, b] = [await loadState(`${dir}/a`), await loadState(`${dir}/b`)];
    assertEquals(b.ssm, a.ssm);
    assertEquals(b.logits, a.logits);
    assertEquals(b.meta.tokenIds, [5, 6, 7]);
    // A store that cannot be made is said, and the state is read without it.
    const unusable = await soupWithCache(`${dir}/m/config.json`, [
      "extract",
      "--model",
      `${dir}/m`,
      "--ids",
      "5,6,7",
      "--device",
      "cpu",
      "--out",
      `${dir}/c`,
    ]);
    assert(unusable.includes("warning: the state store"), unusable);
    assertEquals((await loadState(`${dir}/c`)).ssm, a.ssm);
    // And it is what the engine computes.
    const engine = await openEngine(`${dir}/m`, { device: "cpu" });
    const { state, logits } = await engine.run([5, 6, 7]);
    await engine.close();
    assertEquals(a.ssm, state.ssm);
    assertEquals(a.conv, state.conv);
    assertEquals(a.logits, logits);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("soup extract reads a text ending in a newline as its demonstrations occur in a prompt", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const m = `${dir}/m`;
    const checkpoint = ["checkpoint", "--out", m, "--layers", "2", "--vocab", "50280"];
    assertEquals(await main(checkpoint), 0);
    const text = "<|endoftext|>Q: hot\nA: cold\n\n";
    assertEquals(await main(["extract", "--model", m, "--text", text, "--out", `${dir}/a`]), 0);
    const exact = ["extract", "--model", m, "--text", text, "--exact-text", "--out", `${dir}/b`];
    assertEquals(await main(exact), 0);
    // The ids of these demonstrations inside "<|endoftext|>Q: hot\nA: cold\n\nQ: big\nA:"
    // (NOTES.md): "\n\n" is 187, 187 before the next "Q", and 535 at the end of a text.
    const inPrompt = [0, 50, 27, 3511, 187, 34, 27, 5412, 187, 187];
    assertEquals((await loadState(`${dir}/a`)).meta.tokenIds, inPrompt);
    assertEquals((await loadState(`${dir}/b`)).meta.tokenIds, [
      0,
      50,
      27,
      3511,
      187,
      34,
      27,
      5412,
      535,
    ]);
    // Reading the query from the extracted state equals reading the whole prompt.
    const engine = await openEngine(m, { device: "cpu" });
    try {
      const query = [50, 27, 1943, 187, 34, 27];
      const whole = await engine.run([...inPrompt, ...query]);
      const state = await loadState(`${dir}/a`, { config: engine.config });
      const split = await engine.run(query, { state });
      assertClose(split.logits, whole.logits, { rtol: 1e-5, atol: 1e-5 });
    } finally {
      await engine.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("soup eval draws each test item's demonstrations from the training items", async () => {
  const dir = await Deno.makeTempDir();
  const log = console.log;
  const lines: string[] = [];
  console.log = (...a: unknown[]) => lines.push(a.join(" "));
  try {
    const m = `${dir}/m`;
    assertEquals(await main(["checkpoint", "--out", m, "--layers", "1", "--vocab", "50280"]), 0);
    // capitalize's 569 training items hold 35 disjoint sets of 16, fewer than the 60 test items:
    // sets are drawn per item, as the protocol (and the ICL figure) draws them.
    const args = ["eval", "--model", m, "--task", "capitalize", "--shots", "16", "--n", "60"];
    assertEquals(await main([...args, "--device", "cpu"]), 0);
    assert(lines.some((l) => l.includes("on 60 test items (16-shot prompts")), lines.join("\n"));
  } finally {
    console.log = log;
    await Deno.remove(dir, { recursive: true });
  }
});
