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

/**
 * Checks every entry of the store at `root` as NumPy and hashlib read it, independently of the
 * store's own reader: the arrays are float32 of the layers meta.json lists, and each matches the
 * sha256 meta.json gives; no temporary or moved-aside folder is left. Returns the entries
 * checked, or throws naming the first bad one.
 */
export async function checkStoreEntries(root: string): Promise<number> {
  const { runNumpy } = await import("./_python.ts");
  const out = await runNumpy(
    `import hashlib, json, os, sys, numpy as np
root = sys.argv[1]
n = 0
for shard in sorted(os.listdir(root)):
    for key in sorted(os.listdir(os.path.join(root, shard))):
        d = os.path.join(root, shard, key)
        if "." in key:
            sys.exit(f"{d}: a leftover of an interrupted write")
        meta = json.load(open(os.path.join(d, "meta.json")))
        files = ["conv.npy", "ssm.npy", "delta_sum.npy"] + (["logits.npy"] if meta["logits"] else [])
        if sorted(meta["sha256"]) != sorted(files):
            sys.exit(f"{d}: meta.json sums {sorted(meta['sha256'])}, files {files}")
        for f in files:
            a = np.load(os.path.join(d, f))
            if a.dtype != np.float32 or (f != "logits.npy" and a.shape[0] != len(meta["layers"])):
                sys.exit(f"{d}/{f}: {a.dtype} {a.shape} for layers {meta['layers']}")
            if hashlib.sha256(a.astype("<f4").tobytes()).hexdigest() != meta["sha256"][f]:
                sys.exit(f"{d}/{f}: its sha256 is not the one in meta.json")
        n += 1
print(n)`,
    [root],
  );
  return Number(out.trim());
}
