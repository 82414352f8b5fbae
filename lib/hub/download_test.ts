/**
 * End-to-end test of the real download path (`@huggingface/hub`'s `downloadFileToCacheDir`)
 * against a fake hub on 127.0.0.1 that answers the requests the library makes per file:
 *
 * 1. `POST /api/{models|datasets}/<repo>/paths-info/<rev>` with `{paths, expand: true}`: the
 *    blob name (`lfs.oid`, else `oid`) and the snapshot folder (`lastCommit.id`);
 * 2. `GET /[datasets/]<repo>/resolve/<rev>/<path>` with `Range: bytes=0-0`: the size from
 *    `Content-Range` and an `ETag` (a non-xet `Content-Type` keeps it off the xet protocol);
 * 3. the same URL without `Range`: the bytes.
 *
 * @module
 */

import { assert, assertEquals, assertRejects } from "../../tests/_assert.ts";
import { resolveModelDir, resolveTokenizerFile } from "./resolve.ts";
import { downloadToHfCache, mirrorDir } from "./sources.ts";
import { tinyMambaConfig, writeRandomCheckpoint } from "../model/random_checkpoint.ts";
import { openEngine } from "../engine/open_engine.ts";
import { C4_REALNEWSLIKE, loadNewsDocuments } from "../data/news.ts";
import { SoupError } from "../util/errors.ts";

const COMMIT = "c0ffee0123456789abcdef0123456789abcdef01";
/** The fake hub refuses to serve more than this many requests in one test. */
const MAX_REQUESTS = 200;

interface HubFile {
  bytes: Uint8Array;
  /** Git blob sha1 (what paths-info calls `oid`). */
  oid: string;
  /** Sha256 of an LFS file, else undefined. */
  lfsOid?: string;
}

interface HubRepo {
  commit: string;
  files: Map<string, HubFile>;
}

interface LoggedRequest {
  method: string;
  path: string;
  range: string | null;
  accept: string | null;
}

async function hex(algorithm: "SHA-1" | "SHA-256", bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest(algorithm, bytes as Uint8Array<ArrayBuffer>);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

async function hubFile(bytes: Uint8Array, lfs: boolean): Promise<HubFile> {
  const header = new TextEncoder().encode(`blob ${bytes.length}\0`);
  const oid = await hex("SHA-1", new Uint8Array([...header, ...bytes]));
  return { bytes, oid, lfsOid: lfs ? await hex("SHA-256", bytes) : undefined };
}

/** A repo holding every file of `dir` (recursively), safetensors and .gz files as LFS. */
async function repoFromDir(dir: string): Promise<HubRepo> {
  const files = new Map<string, HubFile>();
  const walk = async (sub: string, depth: number) => {
    assert(depth < 8, "fake repo folder too deep");
    for await (const e of Deno.readDir(`${dir}${sub}`)) {
      const rel = `${sub}/${e.name}`;
      if (e.isDirectory) await walk(rel, depth + 1);
      else {
        const bytes = await Deno.readFile(`${dir}${rel}`);
        files.set(rel.slice(1), await hubFile(bytes, /\.(safetensors|gz)$/.test(e.name)));
      }
    }
  };
  await walk("", 0);
  return { commit: COMMIT, files };
}

function jsonResponse(status: number, body: unknown, headers: Record<string, string> = {}) {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json", ...headers },
  });
}

/** Answers like huggingface.co for the paths-info API and the resolve endpoint. */
function fakeHub(repos: Map<string, HubRepo>, log: LoggedRequest[]) {
  return async (req: Request): Promise<Response> => {
    const url = new URL(req.url);
    log.push({
      method: req.method,
      path: url.pathname,
      range: req.headers.get("range"),
      accept: req.headers.get("accept"),
    });
    if (log.length > MAX_REQUESTS) return new Response("too many requests", { status: 429 });
    const parts = url.pathname.split("/").slice(1).map(decodeURIComponent);
    const isApi = parts[0] === "api";
    if (isApi) parts.shift();
    const kind = isApi
      ? { models: "model", datasets: "dataset" }[parts.shift() ?? ""]
      : parts[0] === "datasets"
      ? (parts.shift(), "dataset")
      : "model";
    const [org, name, action, revision, ...rest] = parts;
    const repo = repos.get(`${kind}:${org}/${name}`);
    if (repo === undefined) {
      await req.body?.cancel();
      return jsonResponse(404, { error: "Repository not found" }, {
        "X-Error-Code": "RepoNotFound",
      });
    }
    if (revision !== "main" && revision !== repo.commit) {
      await req.body?.cancel();
      return jsonResponse(404, { error: `Invalid rev id: ${revision}` }, {
        "X-Error-Code": "RevisionNotFound",
      });
    }
    if (isApi && action === "paths-info" && req.method === "POST") {
      const body = await req.json() as { paths: string[]; expand?: boolean };
      const out = [];
      for (const path of body.paths.slice(0, 100)) {
        const f = repo.files.get(path);
        if (f === undefined) continue; // huggingface.co leaves missing paths out
        out.push({
          type: "file",
          path,
          oid: f.oid,
          size: f.bytes.length,
          ...(f.lfsOid && {
            lfs: { oid: f.lfsOid, size: f.bytes.length, pointerSize: 134 },
          }),
          ...(body.expand && {
            lastCommit: { id: repo.commit, title: "Upload", date: "2024-01-02T03:04:05.000Z" },
            securityFileStatus: { status: "safe" },
          }),
        });
      }
      return jsonResponse(200, out);
    }
    if (!isApi && action === "resolve" && req.method === "GET") {
      const f = repo.files.get(rest.join("/"));
      if (f === undefined) {
        return jsonResponse(404, { error: "Entry not found" }, { "X-Error-Code": "EntryNotFound" });
      }
      const size = f.bytes.length;
      const headers: Record<string, string> = {
        "Content-Type": "application/octet-stream",
        "Accept-Ranges": "bytes",
        "ETag": `"${f.lfsOid ?? f.oid}"`,
        "X-Repo-Commit": repo.commit,
        ...(f.lfsOid && { "X-Linked-ETag": `"${f.lfsOid}"`, "X-Linked-Size": String(size) }),
      };
      const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.get("range") ?? "");
      if (range) {
        const start = Number(range[1]);
        const end = Math.min(range[2] === "" ? size - 1 : Number(range[2]), size - 1);
        return new Response(f.bytes.slice(start, end + 1), {
          status: 206,
          headers: { ...headers, "Content-Range": `bytes ${start}-${end}/${size}` },
        });
      }
      return new Response(f.bytes.slice(), { status: 200, headers });
    }
    await req.body?.cancel();
    return jsonResponse(404, { error: "Not found" });
  };
}

async function gzip(text: string): Promise<Uint8Array> {
  const stream = new Blob([text]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

async function sameBytes(a: string, b: string): Promise<boolean> {
  const [x, y] = [await Deno.readFile(a), await Deno.readFile(b)];
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

Deno.test({
  name: "downloads from a fake hub on 127.0.0.1 into the Hugging Face cache layout",
  // The library leaves the body of its `Range: bytes=0-0` probe unread.
  sanitizeResources: false,
  fn: async (t) => {
    const tmp = await Deno.makeTempDir({ prefix: "soup-hub-" });
    const original = `${tmp}/original`;
    await writeRandomCheckpoint(original, tinyMambaConfig(), { seed: 3, maxShardBytes: 6000 });
    const neox = `${mirrorDir() ?? "/nonexistent"}/tokenizer/gpt-neox-20b/tokenizer.json`;
    const tokenizer = await Deno.readFile(neox).catch(() =>
      new TextEncoder().encode('{"version":"1.0","model":{"type":"BPE"}}\n')
    );
    await Deno.writeFile(`${original}/tokenizer.json`, tokenizer);
    const single = `${tmp}/single`;
    await writeRandomCheckpoint(single, tinyMambaConfig(), { seed: 4 });
    const texts = ["First news story. ".repeat(20), 'Second story, with a quote " and ü.'];
    const c4 = await hubFile(
      await gzip(texts.map((text) => JSON.stringify({ text })).join("\n")),
      true,
    );

    const repos = new Map<string, HubRepo>([
      ["model:org/tiny-mamba", await repoFromDir(original)],
      ["model:org/tiny-single", await repoFromDir(single)],
      ["dataset:allenai/c4", { commit: COMMIT, files: new Map([[C4_REALNEWSLIKE.file, c4]]) }],
    ]);
    const log: LoggedRequest[] = [];
    // The library prints "Downloading <file> to <blob>.incomplete" with console.debug.
    const debug = console.debug;
    const debugLines: string[] = [];
    console.debug = (...args: unknown[]) => debugLines.push(args.join(" "));
    const server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      fakeHub(repos, log),
    );
    try {
      const hubUrl = `http://127.0.0.1:${server.addr.port}`;
      const cacheDir = `${tmp}/cache`;
      const progress: string[] = [];
      const opts = {
        hubUrl,
        cacheDir,
        mirror: null,
        offline: false,
        onProgress: (l: string) => progress.push(l),
      };
      const shards = [...repos.get("model:org/tiny-mamba")!.files.keys()]
        .filter((f) => f.endsWith(".safetensors")).sort();
      assert(shards.length >= 2, `expected a sharded checkpoint, got ${shards}`);

      await t.step("resolveModelDir() downloads config, index and shards", async () => {
        const dir = await resolveModelDir("org/tiny-mamba", opts);
        const folder = `${cacheDir}/models--org--tiny-mamba`;
        assertEquals(dir, `${folder}/snapshots/${COMMIT}`);
        const files = ["config.json", "model.safetensors.index.json", ...shards];
        const repo = repos.get("model:org/tiny-mamba")!;
        for (const file of files) {
          assert(await sameBytes(`${dir}/${file}`, `${original}/${file}`), `${file} differs`);
          const f = repo.files.get(file)!;
          const blob = f.lfsOid ?? f.oid;
          assert(Deno.lstatSync(`${dir}/${file}`).isSymlink, `${file} is not a link`);
          assertEquals(Deno.readLinkSync(`${dir}/${file}`), `../../blobs/${blob}`);
          assert(await sameBytes(`${folder}/blobs/${blob}`, `${original}/${file}`));
        }
        const blobs = [...Deno.readDirSync(`${folder}/blobs`)].map((e) => e.name);
        assertEquals(blobs.length, files.length, `blobs: ${blobs}`);
        assert(!blobs.some((b) => b.endsWith(".incomplete")));
        assertEquals(progress.length, files.length, progress.join("\n"));
        assertEquals(debugLines.length, files.length, debugLines.join("\n"));

        // Per file: paths-info POST, a one-byte Range probe, then a plain GET of the bytes.
        const expected = files.flatMap((file) => [
          `POST /api/models/org/tiny-mamba/paths-info/main -`,
          `GET /org/tiny-mamba/resolve/main/${file} bytes=0-0`,
          `GET /org/tiny-mamba/resolve/main/${file} -`,
        ]);
        assertEquals(log.map((r) => `${r.method} ${r.path} ${r.range ?? "-"}`), expected);
        assert(log.every((r) => r.method === "POST" || r.accept !== null));
      });

      await t.step("a second resolveModelDir() makes no request", async () => {
        const before = log.length;
        const dir = await resolveModelDir("org/tiny-mamba", opts);
        assertEquals(dir, `${cacheDir}/models--org--tiny-mamba/snapshots/${COMMIT}`);
        assertEquals(log.length, before);
      });

      await t.step("openEngine() runs on the downloaded checkpoint", async () => {
        const fromHub = await openEngine("org/tiny-mamba", { ...opts, device: "cpu" });
        const local = await openEngine(original, { device: "cpu" });
        try {
          const [a, b] = [await fromHub.run([1, 2, 3]), await local.run([1, 2, 3])];
          assertEquals(a.logits.length, 64);
          assertEquals([...a.logits], [...b.logits]);
        } finally {
          await fromHub.close();
          await local.close();
        }
      });

      await t.step("an unsharded repo falls back to model.safetensors", async () => {
        const before = log.length;
        const dir = await resolveModelDir("org/tiny-single", opts);
        for (const file of ["config.json", "model.safetensors"]) {
          assert(await sameBytes(`${dir}/${file}`, `${single}/${file}`), `${file} differs`);
        }
        // The missing index costs one paths-info request that answers an empty list.
        assertEquals(log.length - before, 3 + 1 + 3);
      });

      await t.step("resolveTokenizerFile() downloads the repo's tokenizer.json", async () => {
        const path = await resolveTokenizerFile("org/tiny-mamba", opts);
        assertEquals(
          path,
          `${cacheDir}/models--org--tiny-mamba/snapshots/${COMMIT}/tokenizer.json`,
        );
        assert(await sameBytes(path, `${original}/tokenizer.json`));
      });

      await t.step("loadNewsDocuments() fetches C4 realnewslike from a dataset repo", async () => {
        const docs = await loadNewsDocuments({
          source: "c4",
          hubUrl,
          cacheDir,
          mirror: null,
          offline: false,
        });
        assertEquals(docs.map((d) => d.text), texts);
        assertEquals(docs[0].id, "c4-validation.00000-of-00001.json.gz:1");
        const path =
          `${cacheDir}/datasets--allenai--c4/snapshots/${COMMIT}/${C4_REALNEWSLIKE.file}`;
        assertEquals(Deno.readLinkSync(path), `../../../blobs/${c4.lfsOid}`);
        assert(log.some((r) => r.path === "/api/datasets/allenai/c4/paths-info/main"));
        assert(
          log.some((r) => r.path === `/datasets/allenai/c4/resolve/main/${C4_REALNEWSLIKE.file}`),
        );
        const before = log.length;
        await loadNewsDocuments({ source: "c4", hubUrl, cacheDir, mirror: null, offline: false });
        assertEquals(log.length, before, "the second load reads the cache");
      });

      await t.step("$HF_ENDPOINT is the default hub", async () => {
        const saved = Deno.env.get("HF_ENDPOINT");
        Deno.env.set("HF_ENDPOINT", `${hubUrl}/`);
        try {
          const before = log.length;
          const path = await downloadToHfCache("org/tiny-single", "config.json", {
            cacheDir: `${tmp}/cache2`,
            offline: false,
          });
          assert(await sameBytes(path, `${single}/config.json`));
          assertEquals(log.length - before, 3);
        } finally {
          if (saved === undefined) Deno.env.delete("HF_ENDPOINT");
          else Deno.env.set("HF_ENDPOINT", saved);
        }
      });

      await t.step("a missing repo gives a SoupError naming it", async () => {
        const err = await assertRejects(
          () => resolveModelDir("org/no-such-model", opts),
          SoupError,
          '"org/no-such-model"',
        );
        assert(err.message.includes("Repository not found"), err.message);
        assert(err.message.includes(cacheDir), err.message);
        assert(!Deno.statSync(cacheDir).isFile);
      });
    } finally {
      console.debug = debug;
      await server.shutdown();
      await Deno.remove(tmp, { recursive: true });
    }
  },
});
