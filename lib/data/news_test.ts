import { assert, assertEquals, assertRejects } from "../../tests/_assert.ts";
import { loadNewsDocuments } from "./news.ts";
import { FormatError, NotFoundError } from "../util/errors.ts";

Deno.test("loadNewsDocuments() reads the mirror's news, RealNews first", async () => {
  const docs = await loadNewsDocuments();
  assertEquals(docs.length, 213); // 5 + 8 RealNews + 200 CNN/DailyMail, see news/SOURCE.md
  assert(
    docs[0].id.startsWith("april2019_set_mini.jsonl:") ||
      docs[0].id.startsWith("realnews_tiny.jsonl:"),
  );
  assert(docs.at(-1)!.id.startsWith("test-00000-of-00001.jsonl:"));
  assert(docs.every((d) => d.text.length > 200));
});

Deno.test("loadNewsDocuments() reads any JSON-lines file, gzipped or not, by field", async () => {
  const dir = await Deno.makeTempDir();
  const lines = [{ body: "first" }, { body: "second" }].map((x) => JSON.stringify(x)).join("\n");
  await Deno.writeTextFile(`${dir}/a.jsonl`, lines + "\n");
  const gz = new Blob([lines]).stream().pipeThrough(new CompressionStream("gzip"));
  await Deno.writeFile(`${dir}/a.jsonl.gz`, new Uint8Array(await new Response(gz).arrayBuffer()));
  for (const file of ["a.jsonl", "a.jsonl.gz"]) {
    const docs = await loadNewsDocuments({ source: `${dir}/${file}`, field: "body" });
    assertEquals(docs.map((d) => d.text), ["first", "second"]);
    assertEquals(docs[1].id, `${file}:2`);
  }
  assertEquals(
    (await loadNewsDocuments({ source: `${dir}/a.jsonl`, field: "body", limit: 1 })).length,
    1,
  );
});

Deno.test("loadNewsDocuments() names the file and line of bad input", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/b.jsonl`, '{"text": "ok"}\n{oops\n');
  await assertRejects(
    () => loadNewsDocuments({ source: `${dir}/b.jsonl` }),
    FormatError,
    "line 2 is not JSON",
  );
  await Deno.writeTextFile(`${dir}/c.jsonl`, '{"title": "no text"}\n');
  await assertRejects(
    () => loadNewsDocuments({ source: `${dir}/c.jsonl` }),
    FormatError,
    `no string field "article"`,
  );
  await assertRejects(
    () => loadNewsDocuments({ source: `${dir}/none.jsonl` }),
    NotFoundError,
    "none.jsonl",
  );
  await assertRejects(
    () => loadNewsDocuments({ source: "c4", mirror: null, offline: true, cacheDir: dir }),
    NotFoundError,
    "offline",
  );
});
