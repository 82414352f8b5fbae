import { assert, assertEquals } from "../../tests/_assert.ts";
import { inTempDir } from "../../tests/_temp.ts";
import { sweepLeftovers, tempSibling, UNKNOWN_LEFTOVER_MS, WRITER_TAG } from "./output.ts";
import { atomicWrite } from "./atomic_write.ts";

/** The process id of a process that has ended. */
async function deadPid(): Promise<number> {
  const child = new Deno.Command("true").spawn();
  await child.status;
  return child.pid;
}

const names = (dir: string) => [...Deno.readDirSync(dir)].map((e) => e.name).sort();

/** Sets `path`'s modification time `ms` back (its ctime becomes now). */
async function age(path: string, ms: number): Promise<void> {
  const t = new Date(Date.now() - ms);
  await Deno.utime(path, t, t);
}

Deno.test("sweepLeftovers removes a killed writer's leftovers and nothing else", async () => {
  await inTempDir("soup-sweep-", async (dir) => {
    const dead = await deadPid();
    const out = `${dir}/state`;
    const mk = (name: string) => Deno.mkdirSync(`${dir}/${name}`);
    mk(`state.tmp-${dead}-${WRITER_TAG}-0123abcd`); // killed writer on this machine
    Deno.writeTextFileSync(`${dir}/state.${dead}.${WRITER_TAG}.89abcdef.tmp`, "half"); // atomicWrite
    const live = tempSibling(out); // this process: a write in progress
    Deno.mkdirSync(live);
    assert(live.includes(`.tmp-${Deno.pid}-${WRITER_TAG}-`), live);
    mk("state.tmp-notes"); // a user's folder that only looks alike
    mk(`other.tmp-${dead}-${WRITER_TAG}-0123abcd`); // another path's leftover
    // Another host or container (another tag): its process ids mean nothing here, so only age
    // tells; and likewise the forms without a tag.
    const otherTag = WRITER_TAG === "abcdef" ? "fedcba" : "abcdef";
    mk(`state.tmp-${dead}-${otherTag}-11111111`);
    mk("state.tmp-fedcba98");
    const removed = await sweepLeftovers(out);
    assertEquals(
      removed.sort(),
      [
        `${dir}/state.${dead}.${WRITER_TAG}.89abcdef.tmp`,
        `${dir}/state.tmp-${dead}-${WRITER_TAG}-0123abcd`,
      ].sort(),
    );
    const kept = [
      `other.tmp-${dead}-${WRITER_TAG}-0123abcd`,
      live.slice(dir.length + 1),
      `state.tmp-${dead}-${otherTag}-11111111`,
      "state.tmp-fedcba98",
      "state.tmp-notes",
    ].sort();
    assertEquals(names(dir), kept);
    // Untouched (neither modified nor renamed) for over an hour, those of unknown writers go;
    // the live write and the user's folder stay.
    const later = Date.now() + UNKNOWN_LEFTOVER_MS + 60e3;
    assertEquals(
      (await sweepLeftovers(out, undefined, { now: later })).sort(),
      [
        `${dir}/state.tmp-${dead}-${otherTag}-11111111`,
        `${dir}/state.tmp-fedcba98`,
      ].sort(),
    );
    assertEquals(
      names(dir),
      [`other.tmp-${dead}-${WRITER_TAG}-0123abcd`, live.slice(dir.length + 1), "state.tmp-notes"]
        .sort(),
    );
    assertEquals(await sweepLeftovers(`${dir}/missing/x`), []);
  });
});

Deno.test("a folder another machine moved aside just now is not taken for an old one", async () => {
  await inTempDir("soup-sweep-", async (dir) => {
    // Written two hours ago, moved aside by another host's swap a moment ago: a rename changes
    // ctime, not mtime.
    const otherTag = WRITER_TAG === "abcdef" ? "fedcba" : "abcdef";
    Deno.mkdirSync(`${dir}/out`);
    await age(`${dir}/out`, 2 * 3600e3);
    Deno.renameSync(`${dir}/out`, `${dir}/out.old-1-${otherTag}-0a0b0c0d`);
    assertEquals(await sweepLeftovers(`${dir}/out`, () => Promise.resolve(true)), []);
    assertEquals(names(dir), [`out.old-1-${otherTag}-0a0b0c0d`]);
  });
});

Deno.test("sweepLeftovers puts back the newest folder a killed swap moved aside", async () => {
  await inTempDir("soup-sweep-", async (dir) => {
    const dead = await deadPid();
    const out = `${dir}/res`;
    const aside = (hex: string, content: string, ageMs: number) => {
      const p = `${out}.old-${dead}-${WRITER_TAG}-${hex}`;
      Deno.mkdirSync(p);
      Deno.writeTextFileSync(`${p}/meta.json`, content);
      return age(p, ageMs).then(() => p);
    };
    const older = await aside("00000000", "older", 60e3);
    await new Promise((r) => setTimeout(r, 30)); // renamed or written later: newer
    await aside("ffffffff", "newer", 0);
    // Not ours: left where they are, whatever happens.
    assertEquals(await sweepLeftovers(out, () => Promise.resolve(false)), []);
    assertEquals(names(dir).length, 2);
    // Ours, and nothing at `out`: the newest comes back, the other goes.
    assertEquals(await sweepLeftovers(out, () => Promise.resolve(true)), [out, older]);
    assertEquals(Deno.readTextFileSync(`${out}/meta.json`), "newer");
    assertEquals(names(dir), ["res"]);
    // Ours, and a folder in place: an aside one is removed.
    await aside("11111111", "stale", 0);
    assertEquals((await sweepLeftovers(out, () => Promise.resolve(true))).length, 1);
    assertEquals(names(dir), ["res"]);
    // A live writer's aside folder is left alone.
    const mine = `${out}.old-${Deno.pid}-${WRITER_TAG}-00aa11bb`;
    Deno.mkdirSync(mine);
    assertEquals(await sweepLeftovers(out, () => Promise.resolve(true)), []);
    assert(Deno.statSync(mine).isDirectory);
  });
});

Deno.test("sweepers at the same time, and paths without siblings, are no error", async () => {
  await inTempDir("soup-sweep-", async (dir) => {
    const dead = await deadPid();
    const out = `${dir}/race`;
    for (const hex of ["0000aaaa", "0000bbbb"]) {
      Deno.mkdirSync(`${out}.old-${dead}-${WRITER_TAG}-${hex}`);
      Deno.mkdirSync(`${out}.tmp-${dead}-${WRITER_TAG}-${hex}`);
    }
    const runs = await Promise.all(
      Array.from({ length: 4 }, () => sweepLeftovers(out, () => Promise.resolve(true))),
    );
    assert(runs.flat().includes(out), JSON.stringify(runs));
    assertEquals(names(dir), ["race"]);
    // "/" and "." have no siblings to sweep: nothing in the working folder is touched.
    const cwd = Deno.cwd();
    Deno.chdir(dir);
    try {
      Deno.mkdirSync(`.tmp-${dead}-${WRITER_TAG}-0123abcd`);
      assertEquals(await sweepLeftovers("/"), []);
      assertEquals(await sweepLeftovers("."), []);
      assert(names(dir).includes(`.tmp-${dead}-${WRITER_TAG}-0123abcd`));
    } finally {
      Deno.chdir(cwd);
    }
  });
});

Deno.test("atomicWrite names its temporary file so a sweep knows its writer", async () => {
  await inTempDir("soup-sweep-", async (dir) => {
    // The temporary file is what atomicWrite renames over the target.
    const rename = Deno.rename;
    const renamed: string[] = [];
    Object.defineProperty(Deno, "rename", {
      value: (from: string, to: string) => (renamed.push(String(from)), rename(from, to)),
      configurable: true,
      writable: true,
    });
    try {
      await atomicWrite(`${dir}/a.csv`, new TextEncoder().encode("x\n"));
    } finally {
      Object.defineProperty(Deno, "rename", { value: rename, configurable: true, writable: true });
    }
    assertEquals(renamed.length, 1);
    const name = renamed[0].slice(dir.length + 1);
    assert(
      new RegExp(`^a\\.csv\\.${Deno.pid}\\.${WRITER_TAG}\\.[0-9a-f]{8}\\.tmp$`).test(name),
      name,
    );
    assertEquals(names(dir), ["a.csv"]);
    // Left by a writer killed before the rename, it is swept once that process has ended.
    const dead = await deadPid();
    const left = name.replace(`.${Deno.pid}.`, `.${dead}.`);
    Deno.writeTextFileSync(`${dir}/${left}`, "half");
    assertEquals(await sweepLeftovers(`${dir}/a.csv`), [`${dir}/${left}`]);
  });
});
