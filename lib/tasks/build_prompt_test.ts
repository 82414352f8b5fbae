/**
 * The prompt template against hand-written strings (Todd et al.'s `Q: x\nA: y\n\n` format with
 * `<|endoftext|>` in front), and the two halves a skill state and a query are built from.
 */
import { assert, assertEquals } from "../../tests/_assert.ts";
import { buildDemosPrompt, buildPrompt, buildQueryPrompt, buildTarget } from "./mod.ts";

const HOT = { input: "hot", output: "cold" };
const UP = { input: "up", output: "down" };
const FAST = { input: "fast", output: "slow" };

Deno.test("buildPrompt() writes a one-shot prompt byte for byte", () => {
  const prompt = buildPrompt([HOT], { input: "big" });
  assertEquals(prompt, "<|endoftext|>Q: hot\nA: cold\n\nQ: big\nA:");
  // The same text as UTF-8 bytes in hex, written out by hand segment by segment.
  const hex = [
    "3c7c656e646f66746578747c3e", // <|endoftext|>
    "513a20686f740a", // Q: hot\n
    "413a20636f6c640a0a", // A: cold\n\n
    "513a206269670a", // Q: big\n
    "413a", // A:
  ].join("");
  const bytes = hex.match(/../g)!.map((h) => parseInt(h, 16));
  assertEquals([...new TextEncoder().encode(prompt)], bytes);
});

Deno.test("buildPrompt() writes a three-shot prompt with demonstrations in the given order", () => {
  assertEquals(
    buildPrompt([HOT, UP, FAST], { input: "big" }),
    "<|endoftext|>Q: hot\nA: cold\n\nQ: up\nA: down\n\nQ: fast\nA: slow\n\nQ: big\nA:",
  );
  assertEquals(
    buildPrompt([FAST, HOT, UP], { input: "big" }),
    "<|endoftext|>Q: fast\nA: slow\n\nQ: hot\nA: cold\n\nQ: up\nA: down\n\nQ: big\nA:",
  );
});

Deno.test("buildPrompt() with no demonstrations is the zero-shot prompt", () => {
  assertEquals(buildPrompt([], { input: "big" }), "<|endoftext|>Q: big\nA:");
});

Deno.test("buildPrompt() writes inputs and outputs verbatim (commas, accents, quotes)", () => {
  const demos = [
    { input: "ostrich, since, out", output: "ostrich" },
    { input: "cheese", output: "fromage" },
    { input: "l'été", output: '"summer"' },
  ];
  assertEquals(
    buildPrompt(demos, { input: "café, thé" }),
    "<|endoftext|>Q: ostrich, since, out\nA: ostrich\n\nQ: cheese\nA: fromage\n\n" +
      'Q: l\'été\nA: "summer"\n\nQ: café, thé\nA:',
  );
});

Deno.test("buildPrompt() ignores the output of the query", () => {
  assertEquals(
    buildPrompt([HOT], { input: "big", output: "small" } as { input: string }),
    buildPrompt([HOT], { input: "big" }),
  );
});

Deno.test("buildDemosPrompt() writes <|endoftext|> and the demonstrations, ending in a blank line", () => {
  assertEquals(buildDemosPrompt([HOT, UP]), "<|endoftext|>Q: hot\nA: cold\n\nQ: up\nA: down\n\n");
  assertEquals(buildDemosPrompt([]), "<|endoftext|>");
});

Deno.test("buildQueryPrompt() writes the query alone, without <|endoftext|>", () => {
  assertEquals(buildQueryPrompt({ input: "big" }), "Q: big\nA:");
  assert(!buildQueryPrompt({ input: "x" }).includes("<|endoftext|>"));
});

Deno.test("buildDemosPrompt() followed by buildQueryPrompt() is buildPrompt()", () => {
  for (const demos of [[], [HOT], [HOT, UP, FAST]]) {
    for (const query of [{ input: "big" }, { input: "a, b, c" }]) {
      assertEquals(buildDemosPrompt(demos) + buildQueryPrompt(query), buildPrompt(demos, query));
    }
  }
});

Deno.test("buildTarget() puts one space before the output", () => {
  assertEquals(buildTarget("cold"), " cold");
  assertEquals(buildTarget("New Delhi"), " New Delhi");
});
