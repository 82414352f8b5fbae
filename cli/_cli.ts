/**
 * What the command lines share: options parsed from a declaration with one-line errors, the
 * typed readers of option values, engine options, usage text generated from the declared
 * commands, and one error handler (the tool's own errors and the system's are one line, a bug
 * keeps its stack trace).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { type Engine, openEngine, type OpenEngineOptions } from "../lib/engine/mod.ts";
import { resolveTokenizerFile } from "../lib/hub/mod.ts";
import { loadTokenizer } from "../lib/tokenizer/mod.ts";
import { SoupError } from "../lib/util/errors.ts";
import { oneLine } from "../lib/util/json.ts";
import { didYouMean } from "../lib/util/suggest.ts";

/** Parsed options, by name. */
export type Flags = Record<string, string | boolean | undefined>;

/** Options every command takes. */
export const COMMON_OPTIONS = { mirror: "string", offline: "boolean", help: "boolean" } as const;

/** A command declared as data: the usage text is generated from these. */
export interface Command {
  /** One word, or two for a subcommand ("library add"). */
  readonly name: string;
  /** The options after the name, as the usage shows them. */
  readonly synopsis: string;
  /** What it does, indented under the synopsis. */
  readonly help?: string;
  /** Its options (the common ones are added). */
  readonly options: Record<string, "string" | "boolean">;
  /** Runs it. */
  readonly run: (flags: Flags) => Promise<number | void>;
}

/** The usage text of `commands`, each synopsis and help in order, then `footer`. */
export function usage(head: string, commands: readonly Command[], footer: string): string {
  const lines = [head, "", "Commands:"];
  for (const c of commands) {
    lines.push(`  ${c.name}${c.synopsis ? ` ${c.synopsis}` : ""}`);
    if (c.help) lines.push(...c.help.split("\n").map((l) => `      ${l}`));
  }
  return [...lines, "", footer].join("\n");
}

/** Parses `args` by `spec` (plus the common options); a bad option is a one-line {@link SoupError}. */
export function parse(
  args: string[],
  spec: Record<string, "string" | "boolean">,
  hint = '"soup help" lists the options',
): { flags: Flags; positionals: string[] } {
  const options = Object.fromEntries(
    Object.entries({ ...spec, ...COMMON_OPTIONS }).map(([k, type]) => [k, { type }]),
  ) as Record<string, { type: "string" | "boolean" }>;
  try {
    const out = parseArgs({ args, options, allowPositionals: true, strict: true });
    return { flags: out.values as Flags, positionals: out.positionals };
  } catch (err) {
    throw new SoupError(
      optionError(err as Error & { code?: string }, args, Object.keys(options), hint),
    );
  }
}

/**
 * One line naming the option and the fix, for an error of node:util's parseArgs. The option is
 * named as the user wrote it (node's message quotes it; an argument can hold quotes, spaces and
 * line breaks, so the quote is matched up to the text that follows it), on one line.
 */
export function optionError(
  err: Error & { code?: string },
  args: string[],
  known: string[],
  hint = '"soup help" lists the options',
): string {
  const show = (text: string) => oneLine(text, 80);
  const message = err.message ?? String(err);
  if (err.code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") {
    const quoted = /^Unknown option '(.*?)'\. To specify/s.exec(message)?.[1];
    if (quoted?.startsWith("--")) {
      const name = quoted.slice(2);
      return `unknown option --${show(name)}${didYouMean(name, known)}; ${hint}`;
    }
    if (quoted !== undefined) {
      // A short option, or the first letter of a group: none is declared.
      const arg = args.find((a) => a.startsWith(quoted) && !a.startsWith("--")) ?? quoted;
      return `unknown option ${show(arg)}: options are written --name; ${hint}`;
    }
  }
  if (err.code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") {
    const noValue = /^Option '--(.*?)' does not take an argument/s.exec(message)?.[1];
    if (noValue !== undefined) {
      const arg = args.find((a) => a.startsWith(`--${noValue}=`));
      return `--${show(noValue)} takes no value${arg ? `, got "${show(arg)}"` : ""}`;
    }
    const missing = /^Option '--(.*?) <value>' argument missing/s.exec(message)?.[1];
    if (missing !== undefined) return `--${show(missing)} needs a value`;
    const ambiguous = /^Option '--(.*?)' argument is ambiguous/s.exec(message)?.[1];
    if (ambiguous !== undefined) {
      const at = args.findIndex((a, i) =>
        a === `--${ambiguous}` && args[i + 1] !== undefined && args[i + 1].startsWith("-")
      );
      const next = at >= 0 ? args[at + 1] : undefined;
      return next !== undefined
        ? `--${show(ambiguous)} ${show(next)}: a value starting with "-" is written --${
          show(ambiguous)
        }=${show(next)}`
        : `--${show(ambiguous)} needs a value`;
    }
  }
  return show(message);
}

/** A string option, or undefined. */
export const str = (flags: Flags, key: string): string | undefined =>
  flags[key] as string | undefined;

/** A required string option. */
export function need(flags: Flags, key: string): string {
  const v = str(flags, key);
  if (v === undefined || v === "") {
    throw new SoupError(`Missing --${key}; "soup help" shows the usage`);
  }
  return v;
}

/** A non-negative integer option, `fallback` when absent. */
export function int(flags: Flags, key: string, fallback: number): number {
  const v = str(flags, key);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) {
    throw new SoupError(`--${key} must be a non-negative integer, got "${v}"`);
  }
  return n;
}

/** A positive integer option; `fallback` when absent, or required. */
export function positive(flags: Flags, key: string, fallback?: number): number {
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

/** A number >= 0 option, `fallback` when absent. */
export function nonNegative(flags: Flags, key: string, fallback: number): number {
  const v = str(flags, key);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (v.trim() === "" || !(n >= 0)) {
    throw new SoupError(`--${key} must be a number >= 0, got "${v}"`);
  }
  return n;
}

/**
 * One of `choices` (case as given, or upper-case when the choices are), `fallback` when absent,
 * else required; anything else is refused naming the choices and the nearest one.
 */
export function choice<T extends string>(
  flags: Flags,
  key: string,
  choices: readonly T[],
  fallback?: T,
): T {
  const raw = str(flags, key);
  if (raw === undefined) return fallback ?? (need(flags, key) as T);
  const v = choices.includes(raw.toUpperCase() as T) ? raw.toUpperCase() : raw;
  if (!choices.includes(v as T)) {
    throw new SoupError(
      `--${key} must be ${choices.slice(0, -1).join(", ")}${choices.length > 1 ? " or " : ""}${
        choices.at(-1)
      }, got "${raw}"${didYouMean(raw, [...choices])}`,
    );
  }
  return v as T;
}

/** A progress line that rewrites itself on a terminal (nothing when stderr is piped). */
export function terminalProgress(unit: string): {
  update: (done: number, total: number) => void;
  end: () => void;
} {
  const tty = Deno.stderr.isTerminal(), enc = new TextEncoder();
  return {
    update: (done, total) => {
      if (tty) Deno.stderr.writeSync(enc.encode(`\r${done}/${total} ${unit}`));
    },
    end: () => {
      if (tty) console.error("");
    },
  };
}

/** `--text` with the escapes \\n, \\t and \\\\ turned into a newline, a tab and a backslash. */
export function textFlag(flags: Flags): string | undefined {
  const raw = str(flags, "text");
  return raw?.replace(/\\(n|t|\\)/g, (_m, c) => (c === "n" ? "\n" : c === "t" ? "\t" : "\\"));
}

/** `--ids 0,17,42`. */
export function parseIds(text: string): number[] {
  const ids = text.split(",").map((s) => s.trim()).filter((s) => s !== "").map(Number);
  if (ids.length === 0 || ids.some((x) => !Number.isInteger(x) || x < 0)) {
    throw new SoupError(`--ids must be comma-separated non-negative integers, got "${text}"`);
  }
  return ids;
}

/** Where models, tokenizers and data come from: `--mirror`, `--offline`. */
export function sourceOptions(flags: Flags): { mirror?: string; offline?: true } {
  return { mirror: str(flags, "mirror"), offline: flags.offline === true ? true : undefined };
}

/** Options of `openEngine` from `--device`, `--precision`, `--mirror`, `--offline`. */
export function engineOptions(flags: Flags): OpenEngineOptions {
  const precision = str(flags, "precision");
  if (precision !== undefined && precision !== "float32" && precision !== "float16") {
    throw new SoupError(`--precision must be float32 or float16, got "${precision}"`);
  }
  // The device is checked by openEngine, which names the devices.
  const device = str(flags, "device") ?? "auto";
  return {
    ...sourceOptions(flags),
    device: device as OpenEngineOptions["device"],
    precision: precision as "float32" | "float16" | undefined,
  };
}

/**
 * Runs `fn`; the tool's own errors and the system's (permission denied, no space, ...) print one
 * line, `<prefix>: message`, and give exit code 1; anything else is a bug and keeps its stack trace.
 */
export async function guarded(prefix: string, fn: () => Promise<number | void>): Promise<number> {
  try {
    return (await fn()) ?? 0;
  } catch (err) {
    // The operating system's refusals: Deno's classes, and the rest it reports as a plain
    // Error ending in "(os error N)" (a full disk is "No space left on device (os error 28)").
    const system = Object.values(Deno.errors).some((cls) => err instanceof cls) ||
      (err instanceof Error && /\(os error \d+\)/.test(err.message));
    if (err instanceof SoupError || system) {
      console.error(`${prefix}: ${(err as Error).message}`);
      return 1;
    }
    throw err;
  }
}

/** The engine's weights fingerprint (states record it; states of other weights are refused). */
export function weightsOf(engine: Engine): string {
  const weights = engine.identity.weights;
  if (weights === undefined) throw new Error(`engine "${engine.model}" has no weights identity`);
  return weights;
}

/** Opens an engine on --model with --device/--precision, runs `fn`, and closes it. */
export async function withEngine<T>(f: Flags, fn: (engine: Engine) => Promise<T>): Promise<T> {
  const engine = await openEngine(need(f, "model"), engineOptions(f));
  try {
    return await fn(engine);
  } finally {
    await engine.close();
  }
}

/** The tokenizer of --model (the mirror's GPT-NeoX one without). */
export const tokenizerOf = async (f: Flags) =>
  await loadTokenizer(await resolveTokenizerFile(str(f, "model"), sourceOptions(f)));

/**
 * Runs `args` as one of `commands` (a first word, or two for "library add"): usage on no word or
 * `--help`, a suggestion for an unknown word, one-line option errors, and {@link guarded}'s
 * error handler. Returns the exit code.
 */
export async function runCommands(
  tool: string,
  commands: readonly Command[],
  usageText: string,
  args: string[],
): Promise<number> {
  const [word, ...rest] = args;
  if (word === undefined || word === "help" || word === "--help" || rest.includes("--help")) {
    console.log(usageText);
    return word === undefined ? 2 : 0;
  }
  const words = [...new Set(commands.map((c) => c.name.split(" ")[0]))];
  if (!words.includes(word)) {
    console.error(
      `Unknown command "${word}"${didYouMean(word, words)}; "${tool} help" lists the commands`,
    );
    return 2;
  }
  const command = commands.find((c) => c.name === word) ??
    commands.find((c) => c.name === `${word} ${rest[0]}`);
  const name = command?.name ?? word;
  return await guarded(`${tool} ${word}`, async () => {
    if (command === undefined) {
      const subs = commands.filter((c) => c.name.startsWith(`${word} `)).map((c) => `"${c.name}"`);
      throw new SoupError(`Use ${subs.join(" or ")}; "${tool} help" shows the usage`);
    }
    const { flags, positionals } = parse(rest.slice(name.split(" ").length - 1), command.options);
    if (positionals.length > 0) {
      throw new SoupError(
        `unexpected argument "${positionals[0]}": every value follows its option (--name value)`,
      );
    }
    return await command.run(flags);
  });
}

/** An options declaration: the string options, then the boolean ones, space-separated. */
export function opts(strings: string, booleans = ""): Record<string, "string" | "boolean"> {
  const of = (names: string, type: "string" | "boolean") =>
    names.split(" ").filter(Boolean).map((n) => [n, type] as const);
  return Object.fromEntries([...of(strings, "string"), ...of(booleans, "boolean")]);
}
