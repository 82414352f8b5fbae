import { assert, assertEquals } from "../../tests/_assert.ts";
import { inTempDir, tree } from "../../tests/_temp.ts";
import { sweepLeftovers, tempSibling } from "./output.ts";

/** The process id of a process that has ended. */
async function deadPid(): Promise<number> {
  const child = new Deno.Command("true").spawn();
  await child.status;
  return child.pid;
}

Deno.test("sweepLeftovers removes a killed writer's leftovers and nothing else", async () => {
  await inTempDir("soup-sweep-", async (dir) => {
    const dead = await deadPid();
    const out = `${dir}/state`;
    const mk = (name: string) => Deno.mkdirSync(`${dir}/${name}`);
    mk(`state.tmp-${dead}-0123abcd`); // killed writer
    Deno.writeTextFileSync(`${dir}/state.${dead}.89abcdef.tmp`, "half"); // killed atomicWrite
    const live = tempSibling(out); // this process: a write in progress
    Deno.mkdirSync(live);
    assert(live.includes(`.tmp-${Deno.pid}-`), live);
    mk("state.tmp-notes"); // a user's folder that only looks alike
    mk("other.tmp-" + `${dead}-0123abcd`); // another path's leftover: not this sweep's
    mk("state.tmp-fedcba98"); // no pid, new: may be a writer of an older version
    const old = `${dir}/state.tmp-76543210`; // no pid, two hours old
    mk("state.tmp-76543210");
    await Deno.utime(old, new Date(Date.now() - 2 * 3600e3), new Date(Date.now() - 2 * 3600e3));
    const removed = await sweepLeftovers(out);
    assertEquals(removed.sort(), [
      `${dir}/state.${dead}.89abcdef.tmp`,
      `${dir}/state.tmp-${dead}-0123abcd`,
      old,
    ]);
    assertEquals(tree(dir), []); // folders only (tree lists files)
    assertEquals(
      [...Deno.readDirSync(dir)].map((e) => e.name).sort(),
      [
        `other.tmp-${dead}-0123abcd`,
        live.slice(dir.length + 1),
        "state.tmp-fedcba98",
        "state.tmp-notes",
      ].sort(),
    );
    assertEquals(await sweepLeftovers(`${dir}/missing/x`), []);
  });
});

Deno.test("sweepLeftovers puts back a folder a killed swap moved aside, or removes a stale one", async () => {
  await inTempDir("soup-sweep-", async (dir) => {
    const dead = await deadPid();
    const out = `${dir}/res`;
    const aside = `${out}.old-${dead}-00aa11bb`;
    Deno.mkdirSync(aside);
    Deno.writeTextFileSync(`${aside}/meta.json`, "{}");
    // Not ours: left where it is, whatever happens.
    assertEquals(await sweepLeftovers(out, () => Promise.resolve(false)), []);
    assert(Deno.statSync(aside).isDirectory);
    // Ours, and nothing at `out`: the swap stopped between its renames; the old one comes back.
    assertEquals(await sweepLeftovers(out, () => Promise.resolve(true)), [out]);
    assertEquals(Deno.readTextFileSync(`${out}/meta.json`), "{}");
    // Ours, and the new folder is in place: the old one is removed.
    Deno.mkdirSync(aside);
    assertEquals(await sweepLeftovers(out, () => Promise.resolve(true)), [aside]);
    assertEquals(Deno.readTextFileSync(`${out}/meta.json`), "{}");
    // A live writer's aside folder is left alone.
    const mine = `${out}.old-${Deno.pid}-00aa11bb`;
    Deno.mkdirSync(mine);
    assertEquals(await sweepLeftovers(out, () => Promise.resolve(true)), []);
    assert(Deno.statSync(mine).isDirectory);
  });
});
