/** Test helper: work in a temporary folder that is always removed. @module */

/** Runs `fn` in a fresh temporary folder (named with `prefix`) and removes the folder afterwards. */
export async function inTempDir(
  prefix: string,
  fn: (dir: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Every file under `dir` (path relative to it, and size), sorted: to show nothing was touched. */
export function tree(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of Deno.readDirSync(d)) {
      const p = `${d}/${e.name}`;
      if (e.isDirectory) walk(p);
      else out.push(`${p.slice(dir.length)}:${Deno.statSync(p).size}`);
    }
  };
  walk(dir);
  return out.sort();
}
