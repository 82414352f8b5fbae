/**
 * `deno task soup <command>`: the command-line face of the library. Each command is declared as
 * data (its synopsis, help and options; the usage text is generated from them) and its body calls
 * the library; parsing, option errors and the error handler are `cli/_cli.ts`.
 *
 * @module
 */
import { describeEngine, DEVICES, streamText } from "../lib/engine/mod.ts";
import { evaluateTask, EVALUATION_COLUMNS, evaluationRows } from "../lib/eval/mod.ts";
import { resolveModelDir } from "../lib/hub/mod.ts";
import { completeLibrary, SkillLibrary } from "../lib/library/mod.ts";
import { MIX_MODES, mixSaved } from "../lib/mixing/mod.ts";
import { describeCheckpoint, tinyMambaConfig, writeRandomCheckpointTo } from "../lib/model/mod.ts";
import { providerReport } from "../lib/onnx/providers.ts";
import { openCsvOutput } from "../lib/results/mod.ts";
import { STATE_KINDS } from "../lib/retrieval/mod.ts";
import {
  buildStateMeta,
  checkStateOutput,
  extractState,
  loadState,
  saveState,
} from "../lib/states/mod.ts";
import {
  buildPrompt,
  demonstrationIds,
  listTasks,
  loadTask,
  sampleDemoSets,
  splitTask,
} from "../lib/tasks/mod.ts";
import { SoupError } from "../lib/util/errors.ts";
import {
  choice,
  type Command,
  int,
  need,
  nonNegative,
  opts,
  parseIds,
  positive,
  runCommands,
  sourceOptions,
  str,
  terminalProgress,
  textFlag,
  tokenizerOf,
  usage,
  weightsOf,
  withEngine,
} from "./_cli.ts";

const COMMANDS: readonly Command[] = [
  {
    name: "checkpoint",
    synopsis: "--out DIR [--layers 2] [--hidden 16] [--inner 2*hidden] [--state 4] [--conv 4]\n" +
      "             [--rank auto] [--vocab 50280] [--seed 0] [--dtype F32|F16|BF16] " +
      "[--shard-bytes N]\n             [--no-conv-bias] [--bias] [--untied] [--force]",
    help:
      "Write a random Mamba checkpoint in Hugging Face layout (config.json, model.safetensors);\n" +
      "--force replaces a random checkpoint written before (never anything else).",
    options: opts(
      "out layers hidden inner state conv rank vocab seed dtype shard-bytes",
      "no-conv-bias bias untied force",
    ),
    run: async (f) => {
      const out = need(f, "out").replace(/\/+$/, "") || "/";
      const hidden = int(f, "hidden", 16);
      const rank = str(f, "rank");
      const config = tinyMambaConfig({
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
      await writeRandomCheckpointTo(out, config, {
        force: f.force === true,
        seed: int(f, "seed", 0),
        dtype: choice(f, "dtype", ["F32", "F16", "BF16"] as const, "F32"),
        maxShardBytes: str(f, "shard-bytes") === undefined ? undefined : int(f, "shard-bytes", 0),
      });
      console.log(`Wrote a random ${config.numHiddenLayers}-layer Mamba checkpoint to ${out}`);
    },
  },
  {
    name: "info",
    synopsis: "--model M",
    help: "Print a checkpoint's architecture and tensors.",
    options: opts("model"),
    run: async (f) => {
      const dir = await resolveModelDir(need(f, "model"), sourceOptions(f));
      for (const line of await describeCheckpoint(dir)) console.log(line);
    },
  },
  {
    name: "doctor",
    synopsis: "",
    help: "List the execution providers (cpu, webgpu, cuda): available or not, and why.",
    options: opts(""),
    run: async () => {
      for (const p of await providerReport()) {
        const state = p.available ? (p.auto ? "available" : "available, not for auto") : "missing";
        console.log(`${p.provider.padEnd(7)}${state.padEnd(25)}${p.detail}`);
      }
    },
  },
  {
    name: "tokenize",
    synopsis: '(--text "..." | --ids 0,17,42) [--model M]',
    help: "Print the GPT-NeoX token ids of a text, or the text of ids.",
    options: opts("text ids model"),
    run: async (f) => {
      const tok = await tokenizerOf(f);
      if (str(f, "ids") !== undefined) console.log(tok.decode(parseIds(need(f, "ids"))));
      else console.log(tok.encode(need(f, "text")).join(","));
    },
  },
  {
    name: "extract",
    synopsis: '--model M (--text "..." | --ids 0,17,42) [--from STATE_DIR] [--device D] ' +
      "--out STATE_DIR\n          [--force] [--exact-text]",
    help: "Read tokens from the zero state (or a saved one) and save the final state:\n" +
      "conv.npy, ssm.npy, delta_sum.npy, logits.npy, meta.json. A text ending in a newline is read\n" +
      'as its demonstrations occur inside a prompt ("\\n\\n" before the next "Q" is 187,187, not\n' +
      "535; said when it differs); --exact-text reads the text's own tokens. An existing state\n" +
      "folder at --out is replaced only with --force; anything else there is never touched.",
    options: opts("model text ids from out device precision", "exact-text force"),
    run: async (f) => {
      const model = need(f, "model"), out = need(f, "out"), force = f.force === true;
      if (str(f, "text") === undefined && str(f, "ids") === undefined) {
        throw new SoupError(`Give --text or --ids; "soup help" shows the usage`);
      }
      await checkStateOutput(out, { replace: force, flag: "--out" }); // before any work
      await withEngine(f, async (engine) => {
        weightsOf(engine); // refuses an engine without a weights fingerprint: states record it
        const text = textFlag(f);
        const { ids, own } = text === undefined
          ? { ids: parseIds(need(f, "ids")) }
          : demonstrationIds(await tokenizerOf(f), text, { exact: f["exact-text"] === true });
        if (own !== undefined) {
          console.log(
            `The text ends as a prompt's demonstrations never do: read its last tokens as they ` +
              `occur before the next "Q:" in a prompt (${ids.slice(-3).join(",")}, not ` +
              `${own.slice(-2).join(",")}), so the state is the one its demonstrations leave ` +
              `inside a prompt; --exact-text reads the text's own tokens`,
          );
        }
        const from = str(f, "from");
        const started = performance.now();
        const { state, found } = await extractState(engine, ids, { from });
        const seconds = (performance.now() - started) / 1000;
        const meta = await buildStateMeta(engine, { model, tokenIds: ids, text, source: from });
        await saveState(out, state.withMeta(meta), { replace: force, flag: "--out" });
        console.log(
          found > 0
            ? `Found the state of ${ids.length} tokens in the state store; saved to ${out}`
            : `Read ${ids.length} token${ids.length === 1 ? "" : "s"} on ${
              describeEngine(engine)
            } in ${seconds.toFixed(3)} s; state saved to ${out}`,
        );
      });
    },
  },
  {
    name: "tasks",
    synopsis: "",
    help: "List the Todd et al. tasks with their sizes.",
    options: opts(""),
    run: async (f) => {
      const tasks = await listTasks(sourceOptions(f));
      const width = Math.max(...tasks.map((t) => t.name.length));
      for (const t of tasks) {
        console.log(`${t.name.padEnd(width)}  ${t.kind.padEnd(11)}  ${t.size}`);
      }
      console.log(`${tasks.length} tasks; any of them + "_randomized" shuffles the outputs`);
    },
  },
  {
    name: "prompt",
    synopsis: "--task T [--shots 4] [--seed 0]",
    help:
      "Print a k-shot prompt of task T exactly as the model sees it (demos from the training\n" +
      "split, the query from the test split, both drawn with the seed).",
    options: opts("task shots seed"),
    run: async (f) => {
      const seed = int(f, "seed", 0);
      const task = await loadTask(need(f, "task"), { ...sourceOptions(f), seed });
      const split = splitTask(task, { seed, testFraction: 0.3 });
      const [demos] = sampleDemoSets(split.train, { count: 1, k: int(f, "shots", 4), seed });
      const query = task.items[split.test[0]];
      await Deno.stdout.write(
        new TextEncoder().encode(buildPrompt(demos.map((i) => task.items[i]), query)),
      );
      console.log(`\n--- target: ${JSON.stringify(" " + query.output)}`);
    },
  },
  {
    name: "eval",
    synopsis: "--model M --task T (--state STATE_DIR | --shots K) [--n 100] [--seed 0] " +
      "[--device D]\n       [--csv FILE [--force]]",
    help: "First-token accuracy on test items of T: read from a state, or inside K-shot prompts\n" +
      "whose demonstrations each test item draws from the training items, as the ICL figure does.",
    options: opts("model task state shots n seed csv device precision", "force"),
    run: async (f) => {
      need(f, "model");
      const seed = int(f, "seed", 0);
      const statePath = str(f, "state");
      if ((statePath === undefined) === (str(f, "shots") === undefined)) {
        throw new SoupError(`Give exactly one of --state and --shots; "soup help" shows the usage`);
      }
      const n = positive(f, "n", 100);
      const csv = str(f, "csv");
      const writeRows = csv === undefined
        ? undefined
        : await openCsvOutput(csv, EVALUATION_COLUMNS, { force: f.force === true, flag: "--csv" });
      const task = await loadTask(need(f, "task"), { ...sourceOptions(f), seed });
      const tok = await tokenizerOf(f);
      await withEngine(f, async (engine) => {
        const state = statePath === undefined
          ? undefined
          : await loadState(statePath, { config: engine.config, weights: weightsOf(engine) });
        const progress = terminalProgress("test items");
        const res = await evaluateTask(engine, tok, task, {
          state,
          shots: int(f, "shots", 0),
          n,
          seed,
          vocabLimit: tok.vocabSize,
          onProgress: progress.update,
        });
        progress.end();
        console.log(
          `${task.name}: first-token accuracy ${res.accuracy.toFixed(3)} on ` +
            `${res.testItems.length} test items ` +
            `(${state ? `from state ${statePath}` : `${res.k}-shot prompts`}, ${engine.name})`,
        );
        await writeRows?.(evaluationRows(task, res));
      });
    },
  },
  {
    name: "library add",
    synopsis: "--library DIR --model M --task T --shots K [--count 1] [--seed 0] [--device D]",
    help: "Complete the library to --count states of T with K shots and this seed, each from a\n" +
      "disjoint demonstration set of T's training split (created if missing; safe to rerun and\n" +
      "to run at the same time as other adds: they wait for each other). States are extracted\n" +
      "in batches through the state store the figures share ($SOUP_CACHE/states).",
    options: opts("library model task shots count seed device precision"),
    run: async (f) => {
      const model = need(f, "model");
      const seed = int(f, "seed", 0);
      const k = positive(f, "shots");
      const count = positive(f, "count", 1);
      const task = await loadTask(need(f, "task"), { ...sourceOptions(f), seed });
      const tok = await tokenizerOf(f);
      await withEngine(f, async (engine) => {
        const lib = await SkillLibrary.open(need(f, "library"), {
          create: true,
          config: engine.config,
        });
        await completeLibrary(lib, engine, tok, task, { model, k, count, seed });
      });
    },
  },
  {
    name: "library list",
    synopsis: "--library DIR [--task T]",
    options: opts("library task"),
    run: async (f) => {
      const lib = await SkillLibrary.open(need(f, "library"));
      const entries = lib.list(str(f, "task") ? { task: str(f, "task") } : undefined);
      for (const e of entries) {
        console.log(`${e.id}\t${e.task}\tk=${e.k}\tseed=${e.seed}\t${e.model}`);
      }
      console.log(`${entries.length} states in ${lib.dir}`);
    },
  },
  {
    name: "retrieve",
    synopsis: "--library DIR --state STATE_DIR [--layer 0] [--kind ssm|conv|both] [--top 5]",
    help: "Rank the library's states by cosine similarity to a state (layers count from 0).",
    options: opts("library state layer kind top"),
    run: async (f) => {
      const lib = await SkillLibrary.open(need(f, "library"));
      const query = await loadState(need(f, "state"));
      const [hits] = await lib.retrieve([query], {
        layer: int(f, "layer", 0),
        kind: choice(f, "kind", STATE_KINDS, "ssm"),
        k: Math.min(int(f, "top", 5), lib.list().length || 1),
      });
      for (const h of hits) console.log(`${h.score.toFixed(4)}\t${h.skill.id}\t${h.skill.task}`);
    },
  },
  {
    name: "mix",
    synopsis: `--mode ${MIX_MODES.map((m) => m.id).join("|")} --states A,B[,...] ` +
      "[--weights 0.5,0.5] [--model M]\n      --out DIR [--force]",
    help: "Mix saved states:\n" +
      MIX_MODES.map((m) => `  ${m.id.padEnd(9)}${m.describe}`).join("\n") +
      "\nadecay and picaso read A_log from --model.",
    options: opts("mode states weights model out", "force"),
    run: async (f) => {
      const mode = choice(f, "mode", MIX_MODES.map((m) => m.id));
      const out = need(f, "out"), force = f.force === true;
      await checkStateOutput(out, { replace: force, flag: "--out" }); // before any work
      const dirs = need(f, "states").split(",").map((s) => s.trim()).filter(Boolean);
      const states = await Promise.all(dirs.map((d) => loadState(d)));
      const mixed = await mixSaved(mode, states, dirs, {
        weights: str(f, "weights"),
        modelDir: () => resolveModelDir(need(f, "model"), sourceOptions(f)),
        modelName: str(f, "model"),
      });
      await saveState(out, mixed, { replace: force, flag: "--out" });
      console.log(`Mixed ${states.length} states (${mode}) into ${out}`);
    },
  },
  {
    name: "generate",
    synopsis: '--model M [--from STATE_DIR] --text "..." [--max-tokens 32] [--temperature 0]\n' +
      "           [--seed 0] [--device D]",
    help: "Continue text from a state, streaming tokens as they come (greedy by default).",
    options: opts("model text from max-tokens temperature seed device precision"),
    run: async (f) => {
      need(f, "model");
      const temperature = nonNegative(f, "temperature", 0);
      const tok = await tokenizerOf(f);
      await withEngine(f, async (engine) => {
        const from = str(f, "from");
        const state = from === undefined
          ? undefined
          : await loadState(from, { config: engine.config, weights: weightsOf(engine) });
        const prompt = tok.encode(textFlag(f) ?? need(f, "text"));
        if (prompt.length === 0) throw new SoupError(`--text has no tokens`);
        const out = new TextEncoder();
        const options = {
          state,
          maxTokens: int(f, "max-tokens", 32),
          temperature,
          seed: int(f, "seed", 0),
          stopToken: tok.eosTokenId,
          vocabLimit: tok.vocabSize,
        };
        await streamText(engine, tok, prompt, options, (t) => Deno.stdout.write(out.encode(t)));
        await Deno.stdout.write(out.encode("\n"));
      });
    },
  },
];

const USAGE = usage(
  "Usage: deno task soup <command> [options]",
  COMMANDS,
  `In --text, \\n, \\t and \\\\ stand for a newline, a tab and a backslash.
Common options: --mirror DIR (data mirror; default $SOUP_MIRROR or ../shared/data),
  --offline (never use the network). Devices: ${DEVICES.join(", ")} (auto: cuda, else a
  hardware WebGPU adapter, else cpu; never a software adapter; "soup doctor" says which this
  machine has, "deno task setup cuda" installs cuda). With --device,
  --precision float16 runs the matrix products in half precision on a GPU.`,
);

/** Runs the command line; returns the exit code. */
export function main(args: string[]): Promise<number> {
  return runCommands("soup", COMMANDS, USAGE, args);
}

if (import.meta.main) Deno.exit(await main(Deno.args));
