import { assertEquals, assertRejects, assertThrows } from "../../tests/_assert.ts";
import { resolveModelDir, resolveTokenizerFile } from "./resolve.ts";
import { findInHfCache, hfHubCacheDir, mirrorDir } from "./sources.ts";
import { tinyMambaConfig, writeRandomCheckpoint } from "../model/random_checkpoint.ts";
import { NotFoundError } from "../util/errors.ts";

const COMMIT = "0123456789abcdef0123456789abcdef01234567";

/** A Hugging Face cache laid out as huggingface_hub writes it. */
async function fakeHfCache(): Promise<string> {
  const cache = await Deno.makeTempDir();
  const repo = `${cache}/models--state-spaces--mamba-tiny-hf`;
  await Deno.mkdir(`${repo}/refs`, { recursive: true });
  await Deno.writeTextFile(`${repo}/refs/main`, COMMIT);
  await writeRandomCheckpoint(`${repo}/snapshots/${COMMIT}`, tinyMambaConfig(), {
    maxShardBytes: 20000,
  });
  return cache;
}

Deno.test("resolveModelDir() finds a checkpoint a user already has in the HF cache", async () => {
  const cache = await fakeHfCache();
  const opts = { cacheDir: cache, offline: true, mirror: null };
  const dir = await resolveModelDir("state-spaces/mamba-tiny-hf", opts);
  assertEquals(dir, `${cache}/models--state-spaces--mamba-tiny-hf/snapshots/${COMMIT}`);
  assertEquals(findInHfCache("state-spaces/mamba-tiny-hf", "nothing.json", opts), undefined);
});

Deno.test("resolveModelDir() prefers the mirror's models folder", async () => {
  const mirror = await Deno.makeTempDir();
  await writeRandomCheckpoint(`${mirror}/models/org/m`, tinyMambaConfig());
  const dir = await resolveModelDir("org/m", { mirror, offline: true });
  assertEquals(dir, `${mirror}/models/org/m`);
});

Deno.test("resolveModelDir() says where it looked when offline", async () => {
  const cache = await Deno.makeTempDir();
  const err = await assertRejects(
    () =>
      resolveModelDir("state-spaces/mamba-2.8b-hf", {
        cacheDir: cache,
        offline: true,
        mirror: null,
      }),
    NotFoundError,
    "offline",
  );
  assertEquals(err.message.includes(cache), true, err.message);
  await assertRejects(() => resolveModelDir("./no/such/dir"), NotFoundError, "no such directory");
  const empty = await Deno.makeTempDir();
  await assertRejects(() => resolveModelDir(empty), NotFoundError, "has no config.json");
});

Deno.test("resolveTokenizerFile() uses the mirror, then the cache, and explains failure", async () => {
  const mirror = await Deno.makeTempDir();
  await Deno.mkdir(`${mirror}/tokenizer/gpt-neox-20b`, { recursive: true });
  await Deno.writeTextFile(`${mirror}/tokenizer/gpt-neox-20b/tokenizer.json`, "{}");
  assertEquals(
    await resolveTokenizerFile(undefined, { mirror, offline: true }),
    `${mirror}/tokenizer/gpt-neox-20b/tokenizer.json`,
  );
  const cache = await Deno.makeTempDir();
  const snap = `${cache}/models--EleutherAI--gpt-neox-20b/snapshots/${COMMIT}`;
  await Deno.mkdir(snap, { recursive: true });
  await Deno.writeTextFile(`${snap}/tokenizer.json`, "{}");
  assertEquals(
    await resolveTokenizerFile("state-spaces/mamba-130m-hf", {
      mirror: null,
      cacheDir: cache,
      offline: true,
    }),
    `${snap}/tokenizer.json`,
  );
  await assertRejects(
    () => resolveTokenizerFile(undefined, { mirror: null, cacheDir: mirror, offline: true }),
    NotFoundError,
    "Cannot find tokenizer.json",
  );
});

Deno.test("mirrorDir() and hfHubCacheDir() follow their settings", async () => {
  const dir = await Deno.makeTempDir();
  assertEquals(mirrorDir({ mirror: dir }), dir);
  assertThrows(() => mirrorDir({ mirror: `${dir}/missing` }), NotFoundError, "no such directory");
  assertEquals(hfHubCacheDir({ cacheDir: "/x" }), "/x");
});

Deno.test("a sharded index naming a file outside its folder is refused, in the cache and when read", async () => {
  const cache = await fakeHfCache();
  const snapshot = `${cache}/models--state-spaces--mamba-tiny-hf/snapshots/${COMMIT}`;
  const indexPath = `${snapshot}/model.safetensors.index.json`;
  const index = JSON.parse(await Deno.readTextFile(indexPath));
  const { SafetensorsCheckpoint } = await import("../model/safetensors.ts");
  const { FormatError } = await import("../util/errors.ts");
  // An outside file that exists, so only the name check can refuse it.
  await Deno.writeTextFile(`${cache}/outside.safetensors`, "x");
  for (const bad of ["../../../outside.safetensors", "..", ".", "", "/etc/passwd", "a\\b"]) {
    const first = Object.keys(index.weight_map)[0];
    await Deno.writeTextFile(
      indexPath,
      JSON.stringify({ ...index, weight_map: { ...index.weight_map, [first]: bad } }),
    );
    await assertRejects(
      () =>
        resolveModelDir("state-spaces/mamba-tiny-hf", {
          cacheDir: cache,
          offline: true,
          mirror: null,
        }),
      FormatError,
      `names an invalid shard ${JSON.stringify(bad)}`,
    );
    await assertRejects(
      () => SafetensorsCheckpoint.open(snapshot),
      FormatError,
      `names an invalid shard ${JSON.stringify(bad)}`,
    );
  }
});
