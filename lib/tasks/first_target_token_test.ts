/**
 * The scored token and the demonstration ids on the real GPT-NeoX-20B tokenizer from the mirror.
 * Expected ids come from outside this library: the project notes (NOTES.md) and the vocabulary of
 * `tokenizer.json` read directly (`"Ġcold"` is the id of `" cold"`).
 */
import { assert, assertEquals, assertThrows } from "../../tests/_assert.ts";
import { mirrorDir } from "../hub/sources.ts";
import { loadTokenizer, type MambaTokenizer } from "../tokenizer/load_tokenizer.ts";
import { SoupError } from "../util/errors.ts";
import {
  buildDemosPrompt,
  buildPrompt,
  buildQueryPrompt,
  encodeDemos,
  firstTargetToken,
  loadTask,
  sampleDemoSets,
  type TaskItem,
} from "./mod.ts";

const TOKENIZER_FILE = `${mirrorDir()}/tokenizer/gpt-neox-20b/tokenizer.json`;

let cached: Promise<{ tok: MambaTokenizer; vocab: Record<string, number> }> | undefined;
function fixture(): Promise<{ tok: MambaTokenizer; vocab: Record<string, number> }> {
  cached ??= (async () => ({
    tok: await loadTokenizer(TOKENIZER_FILE),
    vocab: (JSON.parse(await Deno.readTextFile(TOKENIZER_FILE)) as {
      model: { vocab: Record<string, number> };
    }).model.vocab,
  }))();
  return cached;
}

/** The id of a one-token word with a leading space, straight from the vocabulary. */
function spaced(vocab: Record<string, number>, word: string): number {
  const id = vocab[`Ġ${word}`];
  assert(id !== undefined, `"Ġ${word}" is not in the vocabulary`);
  return id;
}

Deno.test("buildPrompt() tokenizes to the ids recorded in NOTES.md", async () => {
  const { tok } = await fixture();
  assertEquals(
    tok.encode(buildPrompt([{ input: "hot", output: "cold" }], { input: "big" })),
    [0, 50, 27, 3511, 187, 34, 27, 5412, 187, 187, 50, 27, 1943, 187, 34, 27],
  );
});

Deno.test("firstTargetToken() is the vocabulary id of the spaced answer word", async () => {
  const { tok, vocab } = await fixture();
  const hot = { input: "hot", output: "cold" };
  const cases: [TaskItem[], string, string][] = [
    [[hot], "big", "small"],
    [[{ input: "big", output: "small" }], "hot", "cold"],
    [[{ input: "France", output: "Paris" }], "Italy", "Rome"],
    [[{ input: "cat", output: "cats" }, { input: "dog", output: "dogs" }], "house", "houses"],
    [[], "walk", "walked"],
  ];
  for (const [demos, input, output] of cases) {
    const prompt = buildPrompt(demos, { input });
    assertEquals(firstTargetToken(tok, prompt, output), spaced(vocab, output), output);
  }
  assertEquals(spaced(vocab, "small"), 1355);
  assertEquals(spaced(vocab, "cold"), 5412);
});

Deno.test("firstTargetToken() takes the first token of an answer of several tokens", async () => {
  const { tok, vocab } = await fixture();
  // " New Delhi" starts with the word " New"; the space before "Delhi" starts a new token.
  assertEquals(
    firstTargetToken(tok, buildPrompt([], { input: "India" }), "New Delhi"),
    spaced(vocab, "New"),
  );
  const id = firstTargetToken(tok, buildPrompt([], { input: "flawed" }), "unorthodoxly");
  const token = Object.entries(vocab).find(([, v]) => v === id)?.[0] ?? "";
  assert(token.startsWith("Ġ") && "unorthodoxly".startsWith(token.slice(1)), token);
});

Deno.test("firstTargetToken() is the same after the query alone as after the full prompt", async () => {
  const { tok } = await fixture();
  const task = await loadTask("antonym");
  const sets = sampleDemoSets(task.items.length, { count: 20, k: 4, seed: 5 });
  for (const set of sets) {
    const [query, ...demos] = set.map((i) => task.items[i]);
    assertEquals(
      firstTargetToken(tok, buildQueryPrompt(query), query.output),
      firstTargetToken(tok, buildPrompt(demos, query), query.output),
      query.input,
    );
  }
});

Deno.test("firstTargetToken() says so when the prompt's tokens are not a prefix", async () => {
  const { tok } = await fixture();
  // A prompt ending in a space: "A: " + " small" holds two spaces, an added token of its own.
  const err = assertThrows(
    () => firstTargetToken(tok, "Q: big\nA: ", "small"),
    SoupError,
    "not a prefix",
  );
  assert(err.message.includes('" small"'), err.message);
});

Deno.test("firstTargetToken() checks the prefix and the extra token with any tokenizer", () => {
  const fake = (table: Record<string, number[]>) => ({ encode: (text: string) => table[text] });
  assertEquals(firstTargetToken(fake({ "P": [1, 2], "P x": [1, 2, 7, 8] }), "P", "x"), 7);
  assertThrows(
    () => firstTargetToken(fake({ "P": [1, 2], "P x": [1, 3, 7] }), "P", "x"),
    SoupError,
    "token 1 is 2 alone but 3 with the target",
  );
  assertThrows(
    () => firstTargetToken(fake({ "P": [1, 2], "P x": [1, 2] }), "P", "x"),
    SoupError,
    "the target adds no token",
  );
});

Deno.test("encodeDemos() and the query's own ids together are the full prompt's ids", async () => {
  const { tok } = await fixture();
  for (const name of ["antonym", "country-capital", "english-french", "choose_first_of_3"]) {
    const task = await loadTask(name);
    const sets = sampleDemoSets(task.items.length, { count: 15, k: 6, seed: 11 });
    for (const [q, ...rest] of sets) {
      const query = task.items[q];
      const demos = rest.map((i) => task.items[i]);
      assertEquals(
        [...encodeDemos(tok, demos), ...tok.encode(buildQueryPrompt(query))],
        tok.encode(buildPrompt(demos, query)),
        `${name}: ${query.input}`,
      );
    }
  }
});

Deno.test("encodeDemos() ends in two newline tokens where the demonstrations prompt alone ends in one", async () => {
  const { tok } = await fixture();
  const demos = [{ input: "hot", output: "cold" }];
  assertEquals(tok.encode(buildDemosPrompt(demos)), [0, 50, 27, 3511, 187, 34, 27, 5412, 535]);
  assertEquals(encodeDemos(tok, demos), [0, 50, 27, 3511, 187, 34, 27, 5412, 187, 187]);
  assertEquals(encodeDemos(tok, []), [0]);
});
