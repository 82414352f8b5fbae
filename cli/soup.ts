/**
 * `deno task soup <command>`: the command-line face of the library.
 *
 * @module
 */

import { parseArgs } from "node:util";
import {
  configHash,
  isRandomCheckpoint,
  type MambaConfig,
  readMambaConfig,
  SafetensorsCheckpoint,
  tinyMambaConfig,
  weightsFingerprint,
  writeRandomCheckpoint,
} from "../lib/model/mod.ts";
import {
  describeEngine,
  type Device,
  DEVICES,
  type Engine,
  generate,
  openEngine,
} from "../lib/engine/mod.ts";
import { commonModel, type State } from "../lib/states/state.ts";
import { resolveModelDir, resolveTokenizerFile } from "../lib/hub/mod.ts";
import { loadTokenizer } from "../lib/tokenizer/mod.ts";
import {
  checkStateOutput,
  loadState,
  saveState,
  type StateMeta,
  stateShapeOf,
} from "../lib/states/mod.ts";
import {
  checkFileOutput,
  checkWritable,
  swapFolder,
  sweepLeftovers,
  tempSibling,
} from "../lib/util/output.ts";
import {
  buildPrompt,
  listTasks,
  loadTask,
  sampleDemoSets,
  splitTask,
  type Task,
} from "../lib/tasks/mod.ts";
import { evaluateFirstToken } from "../lib/eval/mod.ts";
import { SkillLibrary } from "../lib/library/mod.ts";
import { defaultStoreRoot, StateStore } from "../lib/states/store.ts";
import { retrieve, type StateKind } from "../lib/retrieval/mod.ts";
import { MIX_MODES, mixADecay, mixMean, mixWeighted, readALog } from "../lib/mixing/mod.ts";
import { encodeDemos } from "../lib/tasks/mod.ts";
import { writeCsv } from "../lib/results/mod.ts";
import { didYouMean } from "../lib/util/suggest.ts";
import { SoupError } from "../lib/util/errors.ts";

const USAGE = `Usage: deno task soup <command> [options]

Commands:
  checkpoint --out DIR [--layers 2] [--hidden 16] [--inner 2*hidden] [--state 4] [--conv 4]
             [--rank auto] [--vocab 50280] [--seed 0] [--dtype F32|F16|BF16] [--shard-bytes N]
             [--no-conv-bias] [--bias] [--untied] [--force]
      Write a random Mamba checkpoint in Hugging Face layout (config.json, model.safetensors);
      --force replaces a random checkpoint written before (never anything else).
  info --model M
      Print a checkpoint's architecture and tensors.
  tokenize (--text "..." | --ids 0,17,42) [--model M]
      Print the GPT-NeoX token ids of a text, or the text of ids.
  extract --model M (--text "..." | --ids 0,17,42) [--from STATE_DIR] [--device D] --out STATE_DIR
          [--force] [--exact-text]
      Read tokens from the zero state (or a saved one) and save the final state:
      conv.npy, ssm.npy, delta_sum.npy, logits.npy, meta.json. A text ending in a newline is read
      as its demonstrations occur inside a prompt ("\n\n" before the next "Q" is 187,187, not
      535; said when it differs); --exact-text reads the text's own tokens. An existing state
      folder at --out is replaced only with --force; anything else there is never touched.
  tasks
      List the Todd et al. tasks with their sizes.
  prompt --task T [--shots 4] [--seed 0]
      Print a k-shot prompt of task T exactly as the model sees it (demos from the training
      split, the query from the test split, both drawn with the seed).
  eval --model M --task T (--state STATE_DIR | --shots K) [--n 100] [--seed 0] [--device D]
       [--csv FILE [--force]]
      First-token accuracy on test items of T: read from a state, or inside K-shot prompts
      whose demonstrations each test item draws from the training items, as the ICL figure does.
  library add --library DIR --model M --task T --shots K [--count 1] [--seed 0] [--device D]
      Complete the library to --count states of T with K shots and this seed, each from a
      disjoint demonstration set of T's training split (created if missing; safe to rerun and
      to run at the same time as other adds: they wait for each other). States are extracted
      in batches through the state store the figures share ($SOUP_CACHE/states).
  library list --library DIR [--task T]
  retrieve --library DIR --state STATE_DIR [--layer 0] [--kind ssm|conv|both] [--top 5]
      Rank the library's states by cosine similarity to a state (layers count from 0).
  mix --mode ${
  MIX_MODES.map((m) => m.id).join("|")
} --states A,B[,...] [--weights 0.5,0.5] [--model M]
      --out DIR [--force]
      Mix saved states:
${MIX_MODES.map((m) => `        ${m.id.padEnd(9)}${m.describe}`).join("\n")}
      adecay reads A_log from --model.
  generate --model M [--from STATE_DIR] --text "..." [--max-tokens 32] [--temperature 0]
           [--seed 0] [--device D]
      Continue text from a state, streaming tokens as they come (greedy by default).

In --text, \\n, \\t and \\\\ stand for a newline, a tab and a backslash.
Common options: --mirror DIR (data mirror; default $SOUP_MIRROR or ../shared/data),
  --offline (never use the network). Devices: ${DEVICES.join(", ")} (auto: cuda, else a
  hardware WebGPU adapter, else cpu; never a software adapter). With --device,
  --precision float16 runs the matrix products in half precision on a GPU.`;

type Flags = Record<string, string | boolean | undefined>;

function parse(args: string[], spec: Record<string, "string" | "boolean">): Flags {
  const options = Object.fromEntries(
    Object.entries({ ...spec, mirror: "string", offline: "boolean", help: "boolean" }).map((
      [k, type],
    ) => [k, { type }]),
  ) as Record<string, { type: "string" | "boolean" }>;
  try {
    return parseArgs({ args, options, allowPositionals: false, strict: true }).values as Flags;
  } catch (err) {
    throw new SoupError(optionError(err as Error & { code?: string }, args, Object.keys(options)));
  }
}

/** One line naming the option and the fix, for an error of node:util's parseArgs. */
function optionError(err: Error & { code?: string }, args: string[], known: string[]): string {
  const quoted = /'(-{1,2}[^' ]+)/.exec(err.message)?.[1];
  const name = quoted?.replace(/^-+/, "");
  if (err.code === "ERR_PARSE_ARGS_UNKNOWN_OPTION" && name !== undefined) {
    return `unknown option --${name}${didYouMean(name, known)}; "soup help" lists the options`;
  }
  if (err.code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE" && name !== undefined) {
    const at = args.indexOf(`--${name}`);
    const next = at >= 0 ? args[at + 1] : undefined;
    return next !== undefined && next.startsWith("-")
      ? `--${name} ${next}: a value starting with "-" is written --${name}=${next}`
      : `--${name} needs a value`;
  }
  if (err.code === "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL") {
    const extra = /'([^']*)'/.exec(err.message)?.[1];
    return `unexpected argument "${extra ?? ""}": every value follows its option (--name value)`;
  }
  return err.message;
}

const str = (flags: Flags, key: string): string | undefined => flags[key] as string | undefined;

function need(flags: Flags, key: string): string {
  const v = str(flags, key);
  if (v === undefined || v === "") {
    throw new SoupError(`Missing --${key}; "soup help" shows the usage`);
  }
  return v;
}

function int(flags: Flags, key: string, fallback: number): number {
  const v = str(flags, key);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) {
    throw new SoupError(`--${key} must be a non-negative integer, got "${v}"`);
  }
  return n;
}

/** A positive integer flag (a usage error otherwise); `fallback` when absent, or required. */
function positive(flags: Flags, key: string, fallback?: number): number {
  const v = str(flags, key);
  if (v === undefined) {
    if (fallback === undefined) {
      throw new SoupError(`Missing --${key}; "soup help" shows the usage`);
    }
    return fallback;
  }
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) {
    throw new SoupError(`--${key} must be a positive integer, got "${v}"`);
  }
  return n;
}

/**
 * The weights fingerprint of the engine's checkpoint (states record it; states of other weights
 * are refused), computed once, when the engine opened the checkpoint.
 */
function weightsOf(engine: Engine): string {
  const weights = engine.identity?.weights;
  if (weights === undefined) throw new Error(`engine "${engine.model}" has no weights identity`);
  return weights;
}

/** `--precision float32|float16` (float16: matrix products in half precision on a GPU). */
function precision(flags: Flags): "float32" | "float16" | undefined {
  const v = str(flags, "precision");
  if (v === undefined || v === "float32" || v === "float16") return v;
  throw new SoupError(`--precision must be float32 or float16, got "${v}"`);
}

/** `--text` with the escapes \\n, \\t and \\\\ turned into a newline, a tab and a backslash. */
function textFlag(flags: Flags): string | undefined {
  const raw = str(flags, "text");
  return raw?.replace(/\\(n|t|\\)/g, (_m, c) => (c === "n" ? "\n" : c === "t" ? "\t" : "\\"));
}

function parseIds(text: string): number[] {
  const ids = text.split(",").map((s) => s.trim()).filter((s) => s !== "").map(Number);
  if (ids.length === 0 || ids.some((x) => !Number.isInteger(x) || x < 0)) {
    throw new SoupError(`--ids must be comma-separated non-negative integers, got "${text}"`);
  }
  return ids;
}

function sourceOptions(flags: Flags) {
  return { mirror: str(flags, "mirror"), offline: flags.offline === true ? true : undefined };
}

async function cmdCheckpoint(args: string[]): Promise<void> {
  const f = parse(args, {
    out: "string",
    layers: "string",
    hidden: "string",
    inner: "string",
    state: "string",
    conv: "string",
    rank: "string",
    vocab: "string",
    seed: "string",
    dtype: "string",
    "shard-bytes": "string",
    "no-conv-bias": "boolean",
    bias: "boolean",
    untied: "boolean",
    force: "boolean",
  });
  const out = need(f, "out").replace(/\/+$/, "") || "/";
  const hidden = int(f, "hidden", 16);
  const rank = str(f, "rank");
  const config: MambaConfig = tinyMambaConfig({
    numHiddenLayers: int(f, "layers", 2),
    hiddenSize: hidden,
    intermediateSize: int(f, "inner", 2 * hidden),
    stateSize: int(f, "state", 4),
    convKernel: int(f, "conv", 4),
    timeStepRank: rank === undefined || rank === "auto"
      ? Math.ceil(hidden / 16)
      : int(f, "rank", 1),
    vocabSize: int(f, "vocab", 50280),
    useConvBias: f["no-conv-bias"] !== true,
    useBias: f.bias === true,
    tieWordEmbeddings: f.untied !== true,
  });
  const dtype = (str(f, "dtype") ?? "F32").toUpperCase();
  if (dtype !== "F32" && dtype !== "F16" && dtype !== "BF16") {
    throw new SoupError(`--dtype must be F32, F16 or BF16, got "${dtype}"`);
  }
  const shard = str(f, "shard-bytes");
  // Never over a real checkpoint or anything else: only over a random checkpoint this tool
  // wrote, with --force; written in a new folder that then takes its place. What a killed run
  // left is cleaned first (a checkpoint it had moved aside is put back, and counts as there).
  await sweepLeftovers(out, isRandomCheckpoint);
  const exists = await Deno.stat(out).then(() => true, (err) => {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  });
  if (exists) {
    if (!(await isRandomCheckpoint(out))) {
      throw new SoupError(
        `Refusing to write a checkpoint to --out "${out}": it exists and is not a random ` +
          `checkpoint this tool wrote (choose another path)`,
      );
    }
    if (f.force !== true) {
      throw new SoupError(`--out "${out}" holds a random checkpoint: pass --force to replace it`);
    }
  }
  await checkWritable(out);
  const tmp = tempSibling(out);
  try {
    await writeRandomCheckpoint(tmp, config, {
      seed: int(f, "seed", 0),
      dtype,
      maxShardBytes: shard === undefined ? undefined : int(f, "shard-bytes", 0),
    });
    await swapFolder(tmp, out, isRandomCheckpoint);
  } catch (err) {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    throw err;
  }
  console.log(`Wrote a random ${config.numHiddenLayers}-layer Mamba checkpoint to ${out}`);
}

async function cmdInfo(args: string[]): Promise<void> {
  const f = parse(args, { model: "string" });
  const dir = await resolveModelDir(need(f, "model"), sourceOptions(f));
  const config = await readMambaConfig(dir);
  using ckpt = await SafetensorsCheckpoint.open(dir);
  console.log(`model      ${dir}`);
  console.log(`config     ${await configHash(config)}`);
  for (const [k, v] of Object.entries(config)) console.log(`${k.padEnd(18)} ${v}`);
  let bytes = 0;
  for (const t of ckpt.tensors.values()) bytes += t.byteLength;
  console.log(`tensors    ${ckpt.tensors.size} in ${ckpt.files.length} file(s), ${bytes} bytes`);
}

async function cmdTokenize(args: string[]): Promise<void> {
  const f = parse(args, { text: "string", ids: "string", model: "string" });
  const tok = await loadTokenizer(await resolveTokenizerFile(str(f, "model"), sourceOptions(f)));
  if (str(f, "ids") !== undefined) console.log(tok.decode(parseIds(need(f, "ids"))));
  else console.log(tok.encode(need(f, "text")).join(","));
}

async function cmdExtract(args: string[]): Promise<void> {
  const f = parse(args, {
    model: "string",
    text: "string",
    "exact-text": "boolean",
    ids: "string",
    from: "string",
    device: "string",
    precision: "string",
    out: "string",
    force: "boolean",
  });
  const model = need(f, "model");
  const out = need(f, "out");
  const force = f.force === true;
  const device = (str(f, "device") ?? "auto") as Device;
  if (str(f, "text") === undefined && str(f, "ids") === undefined) {
    throw new SoupError(`Give --text or --ids; "soup help" shows the usage`);
  }
  await checkStateOutput(out, { replace: force, flag: "--out" }); // before any work
  const engine = await openEngine(model, { ...sourceOptions(f), device, precision: precision(f) });
  try {
    const weights = weightsOf(engine);
    const text = textFlag(f);
    let ids: number[];
    if (text !== undefined) {
      const tokFile = await resolveTokenizerFile(model, sourceOptions(f));
      const tok = await loadTokenizer(tokFile);
      ids = tok.encode(text);
      if (ids.length === 0) throw new SoupError(`--text "${text}" has no tokens`);
      const inPrompt = asInPrompt(tok, text);
      if (f["exact-text"] !== true && inPrompt !== undefined && inPrompt.join() !== ids.join()) {
        console.log(
          `The text ends as a prompt's demonstrations never do: read its last tokens as they ` +
            `occur before the next "Q:" in a prompt (${inPrompt.slice(-3).join(",")}, not ` +
            `${ids.slice(-2).join(",")}), so the state is the one its demonstrations leave ` +
            `inside a prompt; --exact-text reads the text's own tokens`,
        );
        ids = inPrompt;
      }
    } else {
      ids = parseIds(need(f, "ids"));
    }
    const from = str(f, "from");
    const started = performance.now();
    let state: State, found = 0;
    if (from === undefined) {
      // From zeros: through the state store the figures share (a state read before is reused).
      const store = await sharedStore(engine, weights);
      [state] = await statesOf(engine, store, [ids], (_, stored) => found = stored);
    } else {
      const start = await loadState(from, { config: engine.config, weights });
      const run = await engine.run(ids, { state: start });
      state = run.state.withLogits(run.logits);
    }
    const seconds = (performance.now() - started) / 1000;
    await saveState(out, {
      ...state.arrays(),
      meta: {
        model,
        configHash: await configHash(engine.config),
        weightsFingerprint: weights,
        shape: stateShapeOf(engine.config),
        tokenIds: ids,
        ...(text !== undefined ? { text } : {}),
        source: from ?? null,
        engine: engine.name,
        ...(engine.adapter ? { adapter: engine.adapter } : {}),
        created: new Date().toISOString(),
      },
    }, { replace: force, flag: "--out" });
    console.log(
      found > 0
        ? `Found the state of ${ids.length} tokens in the state store; saved to ${out}`
        : `Read ${ids.length} token${ids.length === 1 ? "" : "s"} on ${describeEngine(engine)} in ${
          seconds.toFixed(3)
        } s; state saved to ${out}`,
    );
  } finally {
    await engine.close();
  }
}

/**
 * The ids of `text` as they occur inside a prompt when a query follows it (`text` + "Q: x\nA:"),
 * or undefined when the text does not end where a demonstration does (a newline) or the prompt
 * does not split there. GPT-NeoX reads a final "\n\n" as one token (535) but as two (187, 187)
 * before the next "Q".
 */
function asInPrompt(tok: { encode(text: string): number[] }, text: string): number[] | undefined {
  if (!text.endsWith("\n")) return undefined;
  const query = tok.encode("Q: x\nA:");
  const full = tok.encode(text + "Q: x\nA:");
  const cut = full.length - query.length;
  if (cut <= 0 || query.some((id, i) => full[cut + i] !== id)) return undefined;
  return full.slice(0, cut);
}

async function cmdGenerate(args: string[]): Promise<void> {
  const f = parse(args, {
    model: "string",
    text: "string",
    from: "string",
    device: "string",
    precision: "string",
    "max-tokens": "string",
    temperature: "string",
    seed: "string",
  });
  const model = need(f, "model");
  const temperature = Number(str(f, "temperature") ?? "0");
  if (!(temperature >= 0)) {
    throw new SoupError(`--temperature must be >= 0, got "${str(f, "temperature")}"`);
  }
  const tok = await loadTokenizer(await resolveTokenizerFile(model, sourceOptions(f)));
  const engine = await openEngine(model, {
    ...sourceOptions(f),
    precision: precision(f),
    device: (str(f, "device") ?? "auto") as Device,
  });
  try {
    const from = str(f, "from");
    const state = from === undefined
      ? undefined
      : await loadState(from, { config: engine.config, weights: weightsOf(engine) });
    const prompt = tok.encode(textFlag(f) ?? need(f, "text"));
    if (prompt.length === 0) throw new SoupError(`--text has no tokens`);
    const ids: number[] = [];
    let shown = "";
    const out = new TextEncoder();
    for await (
      const t of generate(engine, prompt, {
        state,
        maxTokens: int(f, "max-tokens", 32),
        temperature,
        seed: int(f, "seed", 0),
        stopToken: tok.eosTokenId,
        vocabLimit: tok.vocabSize,
      })
    ) {
      ids.push(t.id);
      const text = tok.decode(ids);
      // Print only whole characters: a partial UTF-8 sequence decodes to U+FFFD.
      if (!text.endsWith("\uFFFD")) {
        await Deno.stdout.write(out.encode(text.slice(shown.length)));
        shown = text;
      }
    }
    await Deno.stdout.write(out.encode("\n"));
  } finally {
    await engine.close();
  }
}

/** The test split of a task as the experiments draw it: 30% of items, seeded. */
function taskSplit(task: Task, seed: number) {
  return splitTask(task, { seed, testFraction: 0.3 });
}

async function cmdTasks(args: string[]): Promise<void> {
  const f = parse(args, {});
  const tasks = await listTasks(sourceOptions(f));
  const width = Math.max(...tasks.map((t) => t.name.length));
  for (const t of tasks) console.log(`${t.name.padEnd(width)}  ${t.kind.padEnd(11)}  ${t.size}`);
  console.log(`${tasks.length} tasks; any of them + "_randomized" shuffles the outputs`);
}

async function cmdPrompt(args: string[]): Promise<void> {
  const f = parse(args, { task: "string", shots: "string", seed: "string" });
  const seed = int(f, "seed", 0);
  const task = await loadTask(need(f, "task"), { ...sourceOptions(f), seed });
  const split = taskSplit(task, seed);
  const [demos] = sampleDemoSets(split.train, { count: 1, k: int(f, "shots", 4), seed });
  const query = task.items[split.test[0]];
  await Deno.stdout.write(
    new TextEncoder().encode(buildPrompt(demos.map((i) => task.items[i]), query)),
  );
  console.log(`\n--- target: ${JSON.stringify(" " + query.output)}`);
}

/** The columns of `eval --csv`: its first line, by which an older file of it is recognised. */
const EVAL_HEADER = "task,item,input,output,target,predicted,correct,target_probability";

async function cmdEval(args: string[]): Promise<void> {
  const f = parse(args, {
    model: "string",
    task: "string",
    state: "string",
    shots: "string",
    n: "string",
    seed: "string",
    device: "string",
    precision: "string",
    csv: "string",
    force: "boolean",
  });
  const model = need(f, "model");
  const seed = int(f, "seed", 0);
  const statePath = str(f, "state");
  if ((statePath === undefined) === (str(f, "shots") === undefined)) {
    throw new SoupError(`Give exactly one of --state and --shots; "soup help" shows the usage`);
  }
  const n = positive(f, "n", 100);
  const csv = str(f, "csv");
  if (csv !== undefined) {
    await sweepLeftovers(csv); // the temporary file of a killed write
    await checkFileOutput(csv, { force: f.force === true, flag: "--csv", firstLine: EVAL_HEADER });
  }
  const task = await loadTask(need(f, "task"), { ...sourceOptions(f), seed });
  const split = taskSplit(task, seed);
  const testIdx = split.test.slice(0, n);
  const items = testIdx.map((i) => task.items[i]);
  const tok = await loadTokenizer(await resolveTokenizerFile(model, sourceOptions(f)));
  const engine = await openEngine(model, {
    ...sourceOptions(f),
    precision: precision(f),
    device: (str(f, "device") ?? "auto") as Device,
  });
  try {
    const state = statePath === undefined ? undefined : await loadState(statePath, {
      config: engine.config,
      weights: weightsOf(engine),
    });
    const k = state ? 0 : int(f, "shots", 0);
    if (!state && split.train.length < k) {
      throw new SoupError(
        `--shots ${k}: task "${task.name}" has only ${split.train.length} training items`,
      );
    }
    // Each test item its own draw of k training items, as the ICL figure draws them (the
    // protocol keeps test items out of every prompt's demonstrations, not the sets apart).
    const demoSets = state
      ? []
      : testIdx.map((index) =>
        sampleDemoSets(split.train, { count: 1, k, seed: seed * 1_000_003 + index })[0]
      );
    const res = await evaluateFirstToken(engine, tok, items, {
      state,
      demos: state ? undefined : (i) => demoSets[i].map((j) => task.items[j]),
      vocabLimit: tok.vocabSize,
      onProgress: (done, total) => {
        // A progress line that rewrites itself on a terminal; nothing when piped.
        if (Deno.stderr.isTerminal()) {
          Deno.stderr.writeSync(new TextEncoder().encode(`\r${done}/${total} test items`));
        }
      },
    });
    if (Deno.stderr.isTerminal()) console.error(""); // end the progress line
    console.log(
      `${task.name}: first-token accuracy ${
        res.accuracy.toFixed(3)
      } on ${items.length} test items ` +
        `(${state ? `from state ${statePath}` : `${k}-shot prompts`}, ${engine.name})`,
    );
    if (csv !== undefined) {
      const parent = csv.includes("/") ? csv.slice(0, csv.lastIndexOf("/")) : ".";
      if (parent !== "") await Deno.mkdir(parent, { recursive: true });
      await writeCsv(
        csv,
        res.items.map((r) => ({
          task: task.name,
          item: testIdx[r.index],
          input: items[r.index].input,
          output: items[r.index].output,
          target: r.target,
          predicted: r.predicted,
          correct: r.correct,
          target_probability: r.targetProbability,
        })),
        EVAL_HEADER.split(","),
      );
    }
  } finally {
    await engine.close();
  }
}

async function cmdLibrary(args: string[]): Promise<void> {
  const [sub, ...rest] = args;
  if (sub === "list") {
    const f = parse(rest, { library: "string", task: "string" });
    const lib = await SkillLibrary.open(need(f, "library"));
    const entries = lib.list(str(f, "task") ? { task: str(f, "task") } : undefined);
    for (const e of entries) {
      console.log(`${e.id}\t${e.task}\tk=${e.k}\tseed=${e.seed}\t${e.model}`);
    }
    console.log(`${entries.length} states in ${lib.dir}`);
    return;
  }
  if (sub !== "add") {
    throw new SoupError(`Use "library add" or "library list"; "soup help" shows the usage`);
  }
  const f = parse(rest, {
    library: "string",
    model: "string",
    task: "string",
    shots: "string",
    count: "string",
    seed: "string",
    device: "string",
    precision: "string",
  });
  const model = need(f, "model");
  const seed = int(f, "seed", 0);
  const k = positive(f, "shots");
  const count = positive(f, "count", 1);
  const task = await loadTask(need(f, "task"), { ...sourceOptions(f), seed });
  const split = taskSplit(task, seed);
  const tok = await loadTokenizer(await resolveTokenizerFile(model, sourceOptions(f)));
  const engine = await openEngine(model, {
    ...sourceOptions(f),
    precision: precision(f),
    device: (str(f, "device") ?? "auto") as Device,
  });
  try {
    const weights = weightsOf(engine);
    const lib = await SkillLibrary.open(need(f, "library"), {
      create: true,
      config: engine.config,
    });
    // One writer at a time: which demonstrations are free and how many states are missing is
    // decided and acted on while no other process can add.
    await lib.withLock(async () => {
      const metas = await entryMetas(lib);
      refuseOtherWeights(lib, metas, weights, `model "${model}"`);
      const present = lib.list({ task: task.name, k, seed }).length;
      if (present >= count) {
        console.log(`${present} states of ${task.name}, k=${k}, seed=${seed} present: none to add`);
        return;
      }
      // States never share demonstrations. The sets of this task, k and seed are one seeded
      // sequence drawn from the training split without the items of the task's other states:
      // when the states present are its first sets, the missing ones are the next, so a library
      // completed in several runs (or after Ctrl-C) holds the sets one run would. (When they are
      // not, because the task's other states changed in between, the missing sets are drawn
      // from the items still free.)
      const mine: number[][] = [], others = new Set<number>();
      for (const entry of lib.list({ task: task.name })) {
        const indices = (metas.get(entry.id)?.extra?.demoIndices ?? []) as number[];
        if (entry.k === k && entry.seed === seed) mine.push(indices);
        else for (const index of indices) others.add(index);
      }
      const draw = (exclude: Set<number>, most: number) => {
        const free = split.train.filter((i) => !exclude.has(i)).length;
        return sampleDemoSets(split.train, {
          count: Math.min(most, Math.floor(free / k)),
          k,
          seed,
          exclude,
        });
      };
      const sequence = draw(others, count);
      const continues = mine.every((set, i) => set.join() === sequence[i]?.join());
      const sets = continues
        ? sequence.slice(present, count)
        : draw(new Set([...others, ...mine.flat()]), count - present);
      if (present > 0) {
        console.log(`${present} of ${count} states present; adding ${sets.length}`);
      }
      const hash = await configHash(engine.config);
      // Through the shared state store: batched by length, and shared with the figures and
      // earlier runs that read the same demonstrations with this checkpoint.
      const store = await sharedStore(engine, weights);
      const idLists = sets.map((set) => encodeDemos(tok, set.map((j) => task.items[j])));
      let computed = 0, found = 0;
      const states: State[] = [];
      for (const [i, set] of sets.entries()) {
        // In chunks, each added as soon as it is read: a stopped run keeps what it added.
        if (i % ADD_CHUNK === 0) {
          const chunk = idLists.slice(i, i + ADD_CHUNK);
          states.length = 0;
          states.push(
            ...await statesOf(engine, store, chunk, (c, f) => {
              computed += c;
              found += f;
            }),
          );
        }
        const ids = idLists[i], state = states[i % ADD_CHUNK];
        const entry = await lib.add(state, {
          model,
          configHash: hash,
          weightsFingerprint: weights,
          shape: stateShapeOf(engine.config),
          tokenIds: ids,
          source: null,
          engine: engine.name,
          ...(engine.adapter ? { adapter: engine.adapter } : {}),
          created: new Date().toISOString(),
          extra: {
            task: task.name,
            k,
            seed,
            demoIndices: set,
            testIndices: "disjoint from the 30% test split",
          },
        });
        console.log(`[${present + i + 1}/${count}] added ${entry.id} (${ids.length} tokens)`);
      }
      console.log(
        store
          ? `${computed} states extracted, ${found} found in ${store.root}`
          : `${computed} states extracted (without the state store)`,
      );
      if (present + sets.length < count) {
        console.log(
          `only ${sets.length} disjoint ${k}-shot sets were left in ${task.name}'s training split`,
        );
      }
    }, { onWait: (owner) => console.error(`waiting for ${owner} to finish adding to ${lib.dir}`) });
  } finally {
    await engine.close();
  }
}

/**
 * The state store the figures share ($SOUP_CACHE/states, else data/cache/states), for this
 * checkpoint on this engine (whose name, a part of the keys, tells the provider after a run).
 */
async function sharedStore(engine: Engine, weights: string): Promise<StateStore | undefined> {
  await engine.run([0]);
  const root = defaultStoreRoot();
  try {
    return await StateStore.open(root, { weights, engine: engine.name, config: engine.config });
  } catch (err) {
    // A cache is a help, not a need: say why it is not used, and read without it.
    console.error(
      `warning: the state store "${root}" cannot be used (${(err as Error).message}); ` +
        `reading without it`,
    );
    return undefined;
  }
}

/** States `library add` reads (and adds) at a time. */
const ADD_CHUNK = 8;

/**
 * The states (with logits) after each id list from zeros: through `store` when there is one,
 * else straight from the engine. `onDone` gets how many were computed and found stored.
 */
async function statesOf(
  engine: Engine,
  store: StateStore | undefined,
  idLists: readonly number[][],
  onDone: (computed: number, found: number) => void,
): Promise<State[]> {
  if (store) {
    return await store.extract(engine, idLists.map((ids) => ({ ids })), { logits: true, onDone });
  }
  const runs = await engine.runBatch(idLists);
  onDone(idLists.length, 0);
  return runs.map((r) => r.state.withLogits(r.logits));
}

/**
 * Refuses a library that holds states of other weights than `weights` (a checkpoint of the same
 * shape): their states must not be mixed up. Entries written before fingerprints were kept pass.
 */
function refuseOtherWeights(
  lib: SkillLibrary,
  metas: ReadonlyMap<string, StateMeta>,
  weights: string,
  what: string,
) {
  for (const e of lib.list()) {
    const meta = metas.get(e.id);
    if (meta?.weightsFingerprint !== undefined && meta.weightsFingerprint !== weights) {
      throw new SoupError(
        `The library "${lib.dir}" holds states of other weights (entry "${e.id}", fingerprint ` +
          `${meta.weightsFingerprint}) than ${what} (${weights}), though of the same shape`,
      );
    }
  }
}

/** The meta.json of every entry of a library, by id (read once). */
async function entryMetas(lib: SkillLibrary): Promise<Map<string, StateMeta>> {
  const out = new Map<string, StateMeta>();
  for (const e of lib.list()) {
    out.set(e.id, JSON.parse(await Deno.readTextFile(`${lib.dir}/${e.folder}/meta.json`)));
  }
  return out;
}

async function cmdRetrieve(args: string[]): Promise<void> {
  const f = parse(args, {
    library: "string",
    state: "string",
    layer: "string",
    kind: "string",
    top: "string",
  });
  const lib = await SkillLibrary.open(need(f, "library"));
  const skills = await lib.loadAll();
  if (skills.length === 0) throw new SoupError(`The library "${lib.dir}" is empty`);
  const query = await loadState(need(f, "state"), lib.config ? { config: lib.config } : {});
  const queryWeights = query.meta.weightsFingerprint;
  if (queryWeights !== undefined) {
    const metas = new Map(skills.map((s) => [s.id, s.state.meta]));
    refuseOtherWeights(lib, metas, queryWeights, `state "${need(f, "state")}"`);
  }
  const kind = (str(f, "kind") ?? "ssm") as StateKind;
  const top = Math.min(int(f, "top", 5), skills.length);
  const [hits] = retrieve([query], skills.map((s) => ({ state: s.state, label: s.label })), {
    layer: int(f, "layer", 0),
    kind,
    k: top,
    shape: query.meta.shape,
  });
  for (const h of hits) console.log(`${h.score.toFixed(4)}\t${skills[h.index].id}\t${h.label}`);
}

async function cmdMix(args: string[]): Promise<void> {
  const f = parse(args, {
    mode: "string",
    states: "string",
    weights: "string",
    model: "string",
    out: "string",
    force: "boolean",
  });
  const mode = need(f, "mode");
  const spec = MIX_MODES.find((m) => m.id === mode);
  if (spec === undefined) {
    throw new SoupError(
      `--mode must be ${MIX_MODES.map((m) => m.id).join(", ")}, got "${mode}"`,
    );
  }
  const out = need(f, "out");
  const force = f.force === true;
  await checkStateOutput(out, { replace: force, flag: "--out" }); // before any work
  const dirs = need(f, "states").split(",").map((s) => s.trim()).filter(Boolean);
  const states = await Promise.all(dirs.map((d) => loadState(d)));
  // One model (config hash and every known weights fingerprint) and one shape, named by folder.
  const weights = commonModel(states, "mix states", { name: (i) => `"${dirs[i]}"` })
    ?.identity?.weights;
  let mixed;
  if (mode === "mean") mixed = mixMean(states);
  else if (mode === "weighted") {
    const weights = need(f, "weights").split(",").map(Number);
    if (weights.length !== states.length || weights.some((w) => !Number.isFinite(w))) {
      throw new SoupError(
        `--weights must give ${states.length} numbers, got "${str(f, "weights")}"`,
      );
    }
    mixed = mixWeighted(states, weights);
  } else if (mode === "adecay") {
    if (states.length !== 2) {
      throw new SoupError(`--mode adecay mixes two states (first, then second)`);
    }
    const second = states[1].meta;
    if (second.source !== null || second.tokenIds.length === 0) {
      throw new SoupError(
        `--mode adecay needs the second state read from zeros by "soup extract" (no --from, not ` +
          `a mix): "${dirs[1]}" ${
            second.source !== null ? `started from "${second.source}"` : "records no tokens"
          }`,
      );
    }
    const dir = await resolveModelDir(need(f, "model"), sourceOptions(f));
    if (weights !== undefined && (await weightsFingerprint(dir)) !== weights) {
      throw new SoupError(
        `Cannot mix with the A of --model "${str(f, "model")}": the states were made with ` +
          `other weights (fingerprint ${weights})`,
      );
    }
    mixed = mixADecay(states[0], states[1], await readALog(dir), {
      secondTokens: second.tokenIds.length,
    });
  } else throw new SoupError(`--mode ${spec.id} has no implementation`); // MIX_MODES lists it
  const { model: from, configHash: hash, shape } = states[0].meta;
  await saveState(out, {
    ...mixed.arrays(),
    logits: undefined,
    meta: {
      // The model's identity, not the first input's text or tokens: the inputs are in extra.
      model: from,
      configHash: hash,
      ...(weights !== undefined ? { weightsFingerprint: weights } : {}),
      shape,
      tokenIds: [],
      source: null,
      engine: `mix-${mode}`,
      created: new Date().toISOString(),
      extra: { mode, states: dirs, weights: str(f, "weights") ?? null },
    },
  }, { replace: force, flag: "--out" });
  console.log(`Mixed ${states.length} states (${mode}) into ${out}`);
}

const COMMANDS: Record<string, (args: string[]) => Promise<void>> = {
  checkpoint: cmdCheckpoint,
  info: cmdInfo,
  tokenize: cmdTokenize,
  extract: cmdExtract,
  generate: cmdGenerate,
  tasks: cmdTasks,
  prompt: cmdPrompt,
  eval: cmdEval,
  library: cmdLibrary,
  retrieve: cmdRetrieve,
  mix: cmdMix,
};

/** Runs the command line; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const [command, ...rest] = args;
  if (
    command === undefined || command === "help" || command === "--help" || rest.includes("--help")
  ) {
    console.log(USAGE);
    return command === undefined ? 2 : 0;
  }
  const run = COMMANDS[command];
  if (run === undefined) {
    console.error(
      `Unknown command "${command}"${didYouMean(command, Object.keys(COMMANDS))}; ` +
        `"soup help" lists the commands`,
    );
    return 2;
  }
  try {
    await run(rest);
    return 0;
  } catch (err) {
    // The tool's own errors and the system's (permission denied, no space, ...) are one line;
    // anything else is a bug and keeps its stack trace.
    const system = Object.values(Deno.errors).some((cls) => err instanceof cls);
    if (err instanceof SoupError || system) {
      console.error(`soup ${command}: ${(err as Error).message}`);
      return 1;
    }
    throw err;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
