/**
 * lib/mod.ts is the curated public API: a short list of what a researcher calls, each function
 * and class with a runnable example (the doc tests run them). Read through `deno doc --json`, the
 * documentation a user sees.
 */
import { assert } from "./_assert.ts";

interface Tag {
  kind: string;
}
interface Declaration {
  location: { filename: string };
  kind?: string;
  def?: { kind?: string; methods?: { jsDoc?: { tags?: Tag[] } }[] };
  jsDoc?: { tags?: Tag[] };
}

Deno.test("lib/mod.ts exports a curated list, each function and class with an example", async () => {
  const root = new URL("../", import.meta.url);
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["doc", "--json", new URL("lib/mod.ts", root).pathname],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert(out.success, new TextDecoder().decode(out.stderr));
  const doc = JSON.parse(new TextDecoder().decode(out.stdout));
  const node = Object.values(doc.nodes)[0] as {
    symbols: { name: string; declarations: Declaration[] }[];
  };
  const names = node.symbols.map((s) => s.name);
  assert(names.length >= 30 && names.length <= 60, `lib/mod.ts exports ${names.length} names`);
  const hasExample = (tags?: Tag[]) => (tags ?? []).some((t) => t.kind === "example");
  const missing: string[] = [];
  for (const { name, declarations } of node.symbols) {
    const d = declarations[0];
    const kind = d.kind ?? d.def?.kind;
    // Types document a shape, not a call; a re-exported npm namespace (Plot) has its own docs.
    if (kind === "interface" || kind === "typeAlias" || kind === "namespace") continue;
    if (!d.location.filename.startsWith(new URL("lib/", root).href)) continue;
    const own = declarations.some((x) => hasExample(x.jsDoc?.tags));
    const member = (d.def?.methods ?? []).some((m) => hasExample(m.jsDoc?.tags));
    if (!own && !member) missing.push(name);
  }
  assert(missing.length === 0, `exported without an example: ${missing.join(", ")}`);
  // Internals stay out of the curated API.
  for (const internal of ["padState", "SCRATCH_BYTES", "isDir", "toBase64", "codeHash"]) {
    assert(!names.includes(internal), `${internal} is exported by lib/mod.ts`);
  }
});
