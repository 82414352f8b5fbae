/**
 * News documents for the A-decay figure: C4 `realnewslike` (validation split) from the Hugging
 * Face hub, the mirror's `news/` stand-in, or any JSON-lines file (optionally gzipped) with a
 * named text field.
 *
 * @module
 */

import { downloadToHfCache, findInHfCache, mirrorDir, type SourceOptions } from "../hub/sources.ts";
import { FormatError, NotFoundError } from "../util/errors.ts";
import { decodeUtf8, oneLine, showValue } from "../util/json.ts";

/** One document. */
export interface NewsDocument {
  /** `<file name>:<line number>`, stable across runs. */
  id: string;
  /** The article text. */
  text: string;
}

/** Options of {@link loadNewsDocuments}. */
export interface NewsOptions extends SourceOptions {
  /**
   * `"mirror"` (every `.jsonl` under the mirror's `news/`, realnews first), `"c4"` (C4
   * realnewslike validation from the hub), or a path to a `.jsonl` / `.jsonl.gz` / `.json.gz`
   * file. @default "mirror" when a mirror is set, else "c4"
   */
  source?: string;
  /** Name of the text field. @default "text", else "article" */
  field?: string;
  /** Keep at most this many documents. @default all */
  limit?: number;
}

/** The C4 file the paper's A-decay figure draws from. */
export const C4_REALNEWSLIKE = {
  repo: "allenai/c4",
  file: "realnewslike/c4-validation.00000-of-00001.json.gz",
} as const;

/**
 * Loads news documents in a stable order.
 *
 * @example
 * ```ts
 * import { loadNewsDocuments } from "./news.ts";
 * const docs = await loadNewsDocuments({ limit: 3 });
 * if (docs.length !== 3 || docs[0].text.length < 100) throw new Error("news from the mirror");
 * ```
 */
export async function loadNewsDocuments(options: NewsOptions = {}): Promise<NewsDocument[]> {
  const mirror = mirrorDir(options);
  const source = options.source ?? (mirror !== undefined ? "mirror" : "c4");
  let files: string[];
  if (source === "mirror") {
    if (mirror === undefined) {
      throw new NotFoundError(`Cannot read news from the mirror: no mirror is set (SOUP_MIRROR)`);
    }
    files = listJsonl(`${mirror}/news`);
    if (files.length === 0) {
      throw new NotFoundError(`Cannot read news: "${mirror}/news" holds no .jsonl file`);
    }
  } else if (source === "c4") {
    const cached = findInHfCache(C4_REALNEWSLIKE.repo, C4_REALNEWSLIKE.file, {
      ...options,
      repoType: "dataset",
    });
    files = [
      cached ?? await downloadToHfCache(C4_REALNEWSLIKE.repo, C4_REALNEWSLIKE.file, {
        ...options,
        repoType: "dataset",
      }),
    ];
  } else {
    files = [source];
  }
  const docs: NewsDocument[] = [];
  for (const file of files) {
    for (const doc of await readJsonl(file, options.field)) {
      docs.push(doc);
      if (options.limit !== undefined && docs.length >= options.limit) return docs;
    }
  }
  return docs;
}

function listJsonl(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    let entries: Deno.DirEntry[];
    try {
      entries = [...Deno.readDirSync(d)];
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return; // no such folder: no documents there
      throw err; // unreadable: an error to see, not silently fewer documents
    }
    for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
      if (e.isDirectory) walk(`${d}/${e.name}`);
      else if (/\.jsonl(\.gz)?$/.test(e.name)) out.push(`${d}/${e.name}`);
    }
  };
  walk(dir);
  // RealNews (what C4 realnewslike imitates) before the other stand-ins.
  return out.sort((a, b) => Number(!a.includes("/realnews/")) - Number(!b.includes("/realnews/")));
}

async function readJsonl(file: string, field?: string): Promise<NewsDocument[]> {
  let bytes: Uint8Array<ArrayBuffer>;
  try {
    bytes = await Deno.readFile(file);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new NotFoundError(`Cannot read "${file}": no such file`, { file });
    }
    throw FormatError.at(file, String(err), err);
  }
  if (file.endsWith(".gz")) {
    try {
      const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
      bytes = new Uint8Array(await new Response(stream).arrayBuffer());
    } catch (err) {
      // A truncated or corrupt gzip stream is a TypeError of the decompressor.
      throw FormatError.at(
        file,
        `not a gzip file or a damaged one (${oneLine((err as Error).message)})`,
        err,
      );
    }
  }
  return parseNewsLines(bytes, file, field);
}

/**
 * The documents of a JSON-lines file's bytes (UTF-8, already decompressed) read from `file`:
 * one JSON object per non-blank line with a string field `field` (by default "text", else
 * "article"). Every problem is a one-line {@link FormatError} naming `file` and the line.
 *
 * @example
 * ```ts
 * import { parseNewsLines } from "./news.ts";
 * const docs = parseNewsLines(new TextEncoder().encode('{"text": "a"}\n\n{"article": "b"}\n'), "x.jsonl");
 * if (docs.map((d) => `${d.id}=${d.text}`).join() !== "x.jsonl:1=a,x.jsonl:3=b") throw new Error();
 * ```
 */
export function parseNewsLines(bytes: Uint8Array, file: string, field?: string): NewsDocument[] {
  const name = file.slice(file.lastIndexOf("/") + 1);
  const docs: NewsDocument[] = [];
  const lines = decodeUtf8(bytes, file).split("\n");
  for (const [i, line] of lines.entries()) {
    if (line.trim() === "") continue;
    let obj: unknown;
    try {
      obj = JSON.parse(line);
    } catch (err) {
      throw FormatError.at(
        file,
        `line ${i + 1} is not JSON (${oneLine((err as Error).message)})`,
        err,
      );
    }
    if (typeof obj !== "object" || obj === null || Array.isArray(obj)) {
      throw FormatError.at(file, `line ${i + 1} is ${showValue(obj)}, not a JSON object`);
    }
    const rec = obj as Record<string, unknown>;
    const key = field ?? (typeof rec.text === "string" ? "text" : "article");
    const text = Object.hasOwn(rec, key) ? rec[key] : undefined;
    if (typeof text !== "string") {
      throw FormatError.at(file, `line ${i + 1} has no string field ${showValue(key)}`);
    }
    docs.push({ id: `${name}:${i + 1}`, text });
  }
  return docs;
}
