/** Test helper: what a state store folder holds. @module */

/** Key -> modification time of its meta.json, for every state stored under `root`. */
export function storedStates(root: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const shard of Deno.readDirSync(root)) {
    for (const e of Deno.readDirSync(`${root}/${shard.name}`)) {
      out.set(e.name, Deno.statSync(`${root}/${shard.name}/${e.name}/meta.json`).mtime!.getTime());
    }
  }
  return out;
}

/** Removes one stored state (as if a run had been killed before storing it). */
export async function removeStored(root: string, key: string): Promise<void> {
  await Deno.remove(`${root}/${key.slice(0, 2)}/${key}`, { recursive: true });
}
