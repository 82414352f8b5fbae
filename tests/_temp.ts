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
