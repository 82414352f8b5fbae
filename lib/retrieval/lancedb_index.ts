/**
 * LanceDB (npm `@lancedb/lancedb`, an embedded on-disk vector database with metadata filters) as
 * one more index of the scale figure: the library's unit rows written to a Lance table in a
 * temporary folder, searched by cosine distance either flat (every row compared, no ANN index)
 * or through an IVF_HNSW_SQ index (an HNSW graph over 8-bit scalar-quantized vectors whose
 * candidates are re-ranked by their full vectors).
 *
 * LanceDB takes Arrow tables of its own `apache-arrow` (18.1.0, a CommonJS module): the table is
 * built with that very instance, required from LanceDB's own folder, since an ESM import of
 * apache-arrow is a second copy whose classes LanceDB does not recognise. LanceDB is imported
 * when the first index is created, not when this module loads: a script outside this project
 * (Deno's global cache) that imports the library without using LanceDB downloads none of its
 * ~690 MB of packages (its native binaries for glibc and musl, both installed by Deno, and its
 * optional `@huggingface/transformers` with a second onnxruntime). It is an optional dependency:
 * deno.json does not list it and no module imports it by a literal specifier, not even for types
 * (a type import would make Deno install it with every run), so only the first LanceDB index
 * downloads it. Deno then records it in the project's deno.lock, from where later runs install it
 * too; `git checkout deno.lock` undoes that (`deno task test` does it itself). The few types used
 * here are declared below.
 *
 * @module
 */

import { createRequire } from "node:module";
import { SoupError } from "../util/errors.ts";
import { unitRows, type VectorHit, type VectorIndex } from "./vector_search.ts";

/**
 * The LanceDB package, pinned. It is imported through this constant (at run time, when an index
 * is created), so that Deno's module graph, which downloads every literal import, leaves it out
 * until it is used. Its peer dependency apache-arrow is the 18.1.0 LanceDB 0.31.0 accepts.
 */
export const LANCEDB_SPECIFIER = "npm:@lancedb/lancedb@0.31.0";

/** The optional npm packages of this module (see the module doc), pinned. */
export const OPTIONAL_PACKAGES: readonly string[] = [LANCEDB_SPECIFIER, "npm:apache-arrow@18.1.0"];

/** An Arrow data type or field (opaque here). */
type ArrowType = object;

/** What this module uses of apache-arrow 18.1.0. */
interface ArrowModule {
  Int32: new () => ArrowType;
  Float32: new () => ArrowType;
  Field: new (name: string, type: ArrowType, nullable?: boolean) => ArrowType;
  FixedSizeList: new (size: number, child: ArrowType) => ArrowType;
  Struct: new (fields: readonly ArrowType[]) => ArrowType;
  Schema: new (fields: ArrowType[]) => { readonly fields: ArrowType[] };
  makeData(props: {
    type: ArrowType;
    length: number;
    nullCount?: number;
    data?: ArrayLike<number>;
    child?: unknown;
    children?: unknown[];
  }): unknown;
  RecordBatch: new (schema: unknown, data: unknown) => unknown;
  Table: new (batches: unknown[]) => unknown;
}

/** What this module uses of a LanceDB vector query. */
interface LanceQuery {
  distanceType(type: "cosine"): LanceQuery;
  ef(ef: number): LanceQuery;
  refineFactor(factor: number): LanceQuery;
  bypassVectorIndex(): LanceQuery;
  select(columns: string[]): LanceQuery;
  limit(k: number): LanceQuery;
  toArray(): Promise<{ row: number; _distance: number }[]>;
}

/** What this module uses of a LanceDB table. */
interface LanceTable {
  createIndex(column: string, options: { config: unknown }): Promise<void>;
  listIndices(): Promise<{ sizeBytes?: number }[]>;
  vectorSearch(vector: Float32Array): LanceQuery;
  close(): void;
}

/** What this module uses of a LanceDB connection. */
interface LanceConnection {
  createTable(name: string, data: unknown, options: { mode: "create" }): Promise<LanceTable>;
  close(): void;
}

/** What this module uses of `@lancedb/lancedb`. */
interface LanceModule {
  connect(uri: string): Promise<LanceConnection>;
  Index: {
    hnswSq(options: {
      distanceType: "cosine";
      numPartitions: number;
      m: number;
      efConstruction: number;
    }): unknown;
  };
}

/** LanceDB and the apache-arrow instance it reads, loaded once. */
let loaded: Promise<{ lancedb: LanceModule; arrow: ArrowModule }> | undefined;

function loadLance(): Promise<{ lancedb: LanceModule; arrow: ArrowModule }> {
  loaded ??= (async () => {
    const lancedb: LanceModule = await import(LANCEDB_SPECIFIER);
    const arrow: ArrowModule = createRequire(import.meta.resolve(LANCEDB_SPECIFIER))(
      "apache-arrow",
    );
    return { lancedb, arrow };
  })().catch((err) => {
    loaded = undefined; // a failed import (offline, say) is tried again next time
    throw err;
  });
  return loaded;
}

/** Options of {@link LanceIndex.create}. */
export interface LanceOptions {
  /**
   * `flat`: every row compared per query (LanceDB's exhaustive scan, no ANN index);
   * `ivf-hnsw-sq`: an IVF_HNSW_SQ index with one partition: one HNSW graph over all rows, as
   * LanceDB recommends for HNSW (more partitions only lower the memory of training), and so the
   * same index for a library of 1 row or 10,000 (LanceDB trains it on a table of a single row).
   * @default "flat"
   */
  index?: "flat" | "ivf-hnsw-sq";
  /** HNSW: neighbours per node. @default 20 */
  m?: number;
  /** HNSW: beam width while building. @default 300 */
  efConstruction?: number;
  /** HNSW: beam width while searching. @default 200 */
  ef?: number;
  /**
   * HNSW: `k x refineFactor` candidates of the quantized search are re-ranked by their full
   * vectors (and their scores are then exact cosines). @default 10
   */
  refineFactor?: number;
}

/** Bytes of the files under `dir` (0 when there is no such folder). */
async function folderBytes(dir: string): Promise<number> {
  let total = 0;
  try {
    for await (const e of Deno.readDir(dir)) {
      const p = `${dir}/${e.name}`;
      if (e.isDirectory) total += await folderBytes(p);
      else if (e.isFile) total += (await Deno.stat(p)).size;
    }
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return 0;
    throw err;
  }
  return total;
}

function positive(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new SoupError(`Cannot build a LanceDB index: ${name} ${value} is not a positive integer`);
  }
  return value;
}

/**
 * LanceDB over the rows of a library, on disk: the unit rows (float32, with their row number)
 * are one Lance table in a temporary folder that {@link LanceIndex.close} removes. Searched by
 * cosine distance, flat or through IVF_HNSW_SQ ({@link LanceOptions}); a hit's score is
 * `1 - distance`, the cosine of the query and the row (for `ivf-hnsw-sq`, of the re-ranked
 * candidates). Queries are searched one at a time; hits of equal score are ordered by row.
 *
 * `memoryBytes` is what the index keeps loaded: the IVF_HNSW_SQ index's files (graph and 8-bit
 * vectors, read into LanceDB's cache by the first search; its size as LanceDB reports it), or 0
 * for a flat table, whose rows are read from disk for every query (through the system's page
 * cache, which the process does not own). `diskBytes` is the table's data and index files: the
 * float32 rows with their numbers, plus the index (its few kilobytes of manifests and
 * transaction logs, whose sizes change by a byte from run to run with their timestamps, are left
 * out, so that a flat table's size is the same every time).
 *
 * The flat search is exact and the same every time. The IVF_HNSW_SQ index is not: LanceDB draws
 * each node's HNSW level from an unseeded generator and inserts nodes on several threads, with no
 * seed to set, so two builds over the same rows differ (their index files differ in size), and
 * so may their hits where the re-ranked candidates miss the nearest row.
 *
 * @example
 * ```ts
 * import { LanceIndex } from "./lancedb_index.ts";
 * const lib = Float32Array.from({ length: 50 * 8 }, (_, i) => Math.cos(i * 0.37));
 * const index = await LanceIndex.create(lib, 8);
 * const [[hit]] = await index.search(lib.slice(3 * 8, 4 * 8), 1);
 * if (hit.index !== 3 || Math.abs(hit.score - 1) > 1e-5) throw new Error(JSON.stringify(hit));
 * await index.close();
 * ```
 */
export class LanceIndex implements VectorIndex {
  readonly name: string;
  readonly size: number;
  readonly dim: number;
  readonly memoryBytes: number;
  readonly diskBytes: number;
  /** The temporary folder of the table, removed by {@link LanceIndex.close}. */
  readonly dir: string;
  readonly #db: LanceConnection;
  readonly #table: LanceTable;
  /** HNSW's search parameters, or null for a flat search. */
  readonly #hnsw: { ef: number; refineFactor: number } | null;
  #closed = false;

  private constructor(
    fields: { name: string; size: number; dim: number; memoryBytes: number; diskBytes: number },
    dir: string,
    db: LanceConnection,
    table: LanceTable,
    hnsw: { ef: number; refineFactor: number } | null,
  ) {
    this.name = fields.name;
    this.size = fields.size;
    this.dim = fields.dim;
    this.memoryBytes = fields.memoryBytes;
    this.diskBytes = fields.diskBytes;
    this.dir = dir;
    this.#db = db;
    this.#table = table;
    this.#hnsw = hnsw;
  }

  /** Writes the rows of `library` (n x dim) to a new table and, when asked, indexes them. */
  static async create(
    library: Float32Array,
    dim: number,
    options: LanceOptions = {},
  ): Promise<LanceIndex> {
    const unit = unitRows(library, dim);
    const kind = options.index ?? "flat";
    if (kind !== "flat" && kind !== "ivf-hnsw-sq") {
      throw new SoupError(
        `Cannot build a LanceDB index: index "${kind}" is not flat or ivf-hnsw-sq`,
      );
    }
    const m = positive("m", options.m ?? 20);
    const efConstruction = positive("efConstruction", options.efConstruction ?? 300);
    const ef = positive("ef", options.ef ?? 200);
    const refineFactor = positive("refineFactor", options.refineFactor ?? 10);
    const { lancedb, arrow } = await loadLance();
    const n = unit.length / dim;
    const dir = await Deno.makeTempDir({ prefix: "soup-lancedb-" });
    let db: LanceConnection | undefined;
    let table: LanceTable | undefined;
    try {
      db = await lancedb.connect(dir);
      const vectorType = new arrow.FixedSizeList(dim, new arrow.Field("item", new arrow.Float32()));
      const schema = new arrow.Schema([
        new arrow.Field("row", new arrow.Int32(), false),
        new arrow.Field("vector", vectorType, false),
      ]);
      const rows = arrow.makeData({
        type: new arrow.Int32(),
        length: n,
        data: Int32Array.from({ length: n }, (_, i) => i),
      });
      const values = arrow.makeData({ type: new arrow.Float32(), length: n * dim, data: unit });
      const vectors = arrow.makeData({ type: vectorType, length: n, nullCount: 0, child: values });
      const batch = new arrow.RecordBatch(
        schema,
        arrow.makeData({
          type: new arrow.Struct(schema.fields),
          length: n,
          nullCount: 0,
          children: [rows, vectors],
        }),
      );
      table = await db.createTable("library", new arrow.Table([batch]), { mode: "create" });
      let memoryBytes = 0;
      const indexed = kind === "ivf-hnsw-sq" && n > 0;
      if (indexed) {
        await table.createIndex("vector", {
          config: lancedb.Index.hnswSq({
            distanceType: "cosine",
            numPartitions: 1,
            m,
            efConstruction,
          }),
        });
        const stats = await table.listIndices();
        memoryBytes = stats.reduce((a, s) => a + (s.sizeBytes ?? 0), 0);
      }
      const name = kind === "flat"
        ? "LanceDB flat"
        : `LanceDB IVF_HNSW_SQ (${m}/${efConstruction}/${ef}, refine ${refineFactor})`;
      const files = `${dir}/library.lance`;
      const diskBytes = await folderBytes(`${files}/data`) +
        await folderBytes(`${files}/_indices`);
      return new LanceIndex(
        { name, size: n, dim, memoryBytes, diskBytes },
        dir,
        db,
        table,
        indexed ? { ef, refineFactor } : null,
      );
    } catch (err) {
      table?.close();
      db?.close();
      await Deno.remove(dir, { recursive: true });
      throw err;
    }
  }

  async search(queries: Float32Array, k: number): Promise<VectorHit[][]> {
    if (this.#closed) throw new SoupError("Cannot search a LanceDB index: it is closed");
    const unit = unitRows(queries, this.dim);
    if (!Number.isInteger(k) || k < 1) {
      throw new SoupError(`Cannot search vectors: k ${k} is not a positive integer`);
    }
    const out: VectorHit[][] = [];
    for (let q = 0; q < unit.length / this.dim; q++) {
      let query = this.#table.vectorSearch(unit.slice(q * this.dim, (q + 1) * this.dim))
        .distanceType("cosine");
      query = this.#hnsw
        ? query.ef(this.#hnsw.ef).refineFactor(this.#hnsw.refineFactor)
        : query.bypassVectorIndex();
      const found: { row: number; _distance: number }[] = await query
        .select(["row", "_distance"]).limit(k).toArray();
      out.push(
        found.map((r) => ({ index: r.row, score: 1 - r._distance }))
          .sort((a, b) => b.score - a.score || a.index - b.index),
      );
    }
    return out;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#table.close();
    this.#db.close();
    await Deno.remove(this.dir, { recursive: true });
  }
}
