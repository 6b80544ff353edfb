/**
 * Stage 1, list reader: turns a data set description into `ListRecord`s.
 * - MS-Celeb-1M clean list: one `relative/path.jpg label` per line; the label is an integer (kept)
 *   or a name (mapped to dense integers in sorted name order; the mapping is returned).
 * - Image-folder tree: one folder per identity, folders sorted, labels dense 0..K-1.
 * - insightface RecordIO (`train.rec` + `train.idx`): `readRecordIO` streams records with their JPEG
 *   bytes; `readRecordIOLazy` returns records holding only the byte offset, read at decode time
 *   (use it for training on a large `.rec`: memory stays flat).
 * Keys are the relative path without extension (RecordIO: the record index).
 */
import { dirname, extname, join, relative, resolve } from "node:path";
import type { ListRecord } from "../records.ts";
import { assertTextFile, quoteLine } from "./list_text.ts";
import { RecordIOReader } from "./record_io_reader.ts";
import { walkImages } from "./folder_walk.ts";
import { readLazyRecords } from "./record_io_labels.ts";

export { IMAGE_EXTENSIONS } from "./folder_walk.ts";

export interface ListResult {
  records: ListRecord[];
  /** Class names by label (folder names or name labels); empty when labels were integers. */
  classes: string[];
}

function stripExt(p: string): string {
  const slash = p.lastIndexOf("/");
  const dot = p.lastIndexOf(".");
  return dot > slash + 1 ? p.slice(0, dot) : p;
}

/**
 * Parses a clean list's text; `name` is used in error messages.
 * @example
 * ```ts
 * import { parseCleanList } from "../mod.ts";
 *
 * const text = "Abdullah_Gul/1.jpg Abdullah_Gul\nAdrien_Brody/1.jpg Adrien_Brody\n";
 * const { records, classes } = parseCleanList(text, "faces"); // labels: names or integers
 * console.log(records[0].path, records[0].label, classes);
 * ```
 */
export function parseCleanList(text: string, root: string, name = "list"): ListResult {
  const rows: { path: string; label: string; line: number }[] = [];
  text.split("\n").forEach((raw, i) => {
    const line = raw.replace(/\r$/, "").trim();
    if (line === "" || line.startsWith("#")) return;
    // The label is the last field; the path is the rest (it may contain spaces).
    const m = /^(.+?)\s+(\S+)$/.exec(line);
    if (!m) {
      throw new SyntaxError(
        `Cannot read list line ${i + 1} of "${name}": expected "path label", got ${
          quoteLine(line)
        }`,
      );
    }
    rows.push({ path: m[1], label: m[2], line: i + 1 });
  });
  const numeric = rows.map((r) => /^-?\d+$/.test(r.label));
  const allInt = numeric.every((v) => v);
  const anyInt = numeric.some((v) => v);
  if (!allInt && anyInt) {
    const bad = rows[numeric.indexOf(!numeric[0])];
    throw new SyntaxError(
      `Cannot read list line ${bad.line} of "${name}": labels mix integers and names ` +
        `("${rows[0].label}" on line ${rows[0].line}, "${bad.label}" here)`,
    );
  }
  const classes = allInt ? [] : [...new Set(rows.map((r) => r.label))].sort();
  const dense = new Map(classes.map((c, i) => [c, i]));
  const seen = new Set<string>();
  const records = rows.map((r) => {
    const label = allInt ? Number(r.label) : dense.get(r.label)!;
    if (allInt && (!Number.isSafeInteger(label) || label < 0)) {
      throw new SyntaxError(
        `Cannot read list line ${r.line} of "${name}": label must be >= 0, got ${r.label}`,
      );
    }
    const key = stripExt(r.path);
    if (seen.has(key)) {
      throw new SyntaxError(`Cannot read list line ${r.line} of "${name}": duplicate "${r.path}"`);
    }
    seen.add(key);
    return { key, label, path: join(root, r.path) };
  });
  return { records, classes };
}

/**
 * Reads a clean list file; paths are resolved against `root`.
 * @example
 * ```ts
 * import { readCleanList } from "../mod.ts";
 *
 * const list = "fixtures/pipeline/clean_list_int.txt";
 * const { records } = await readCleanList(list, "fixtures/pipeline");
 * console.log(records.length, records[0]); // { key, label, path }
 * ```
 */
export async function readCleanList(listPath: string, root: string): Promise<ListResult> {
  let text: string;
  try {
    text = await Deno.readTextFile(listPath);
  } catch (e) {
    throw new Error(`Cannot read list "${listPath}": ${(e as Error).message}`);
  }
  assertTextFile(text, listPath);
  return parseCleanList(text, root, listPath);
}

/**
 * Reads an image-folder tree: `root/<identity>/<image>`, sorted, labels dense by folder.
 * @example
 * ```ts
 * import { readImageFolder } from "../mod.ts";
 *
 * const { records, classes } = await readImageFolder("fixtures/pipeline/images");
 * console.log(records.length, classes); // labels 0.. in sorted folder order
 * ```
 */
export async function readImageFolder(root: string): Promise<ListResult> {
  const records: ListRecord[] = [];
  const classes: string[] = [];
  // Files exactly one folder down; an empty folder is no class, so labels stay dense.
  for (const [d, f] of (await walkImages(root, { maxDepth: 2 })).filter((p) => p.length === 2)) {
    if (classes[classes.length - 1] !== d) classes.push(d);
    records.push({ key: stripExt(`${d}/${f}`), label: classes.length - 1, path: join(root, d, f) });
  }
  if (records.length === 0) throw new Error(`No images under "${root}" (expected root/<id>/<img>)`);
  return { records, classes };
}

/**
 * Image files anywhere under `root` (the aligner's folder input), sorted, as records keyed by the
 * relative path without extension, labelled densely by their folder in listing order.
 * @example
 * ```ts
 * import { readImageTree } from "../mod.ts";
 *
 * for (const r of await readImageTree("fixtures/pipeline/images")) console.log(r.key, r.label);
 * ```
 */
export async function readImageTree(root: string): Promise<ListRecord[]> {
  const files = (await walkImages(root)).map((segments) => join(root, ...segments));
  const labels = new Map<string, number>();
  for (const f of files) {
    const d = dirname(relative(root, f));
    if (!labels.has(d)) labels.set(d, labels.size);
  }
  return files.map((f) => {
    const rel = relative(root, f);
    return { key: rel.slice(0, -extname(rel).length), label: labels.get(dirname(rel))!, path: f };
  });
}

/**
 * A list file, paths relative to the list's folder: the clean-list format `path label` (labels
 * integers or names, as `parseCleanList`), or plain paths one a line (label -1).
 * @example
 * ```ts
 * import { readPathList } from "../mod.ts";
 *
 * const records = await readPathList("fixtures/pipeline/clean_list_names.txt");
 * console.log(records.map((r) => r.path));
 * ```
 */
export async function readPathList(file: string): Promise<ListRecord[]> {
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (e) {
    throw new Error(`Cannot read list "${file}": ${(e as Error).message}`);
  }
  const base = dirname(resolve(file));
  const lines = text.split("\n").map((l) => l.replace(/\r$/, "").trim());
  const plain = lines.every((l) => l === "" || l.startsWith("#") || !/\s/.test(l));
  if (!plain) return parseCleanList(text, base, file).records;
  return lines.filter((l) => l !== "" && !l.startsWith("#")).map((path) => ({
    key: path.slice(0, path.length - extname(path).length).replace(/^\/+/, ""),
    label: -1,
    path: path.startsWith("/") ? path : join(base, path),
  }));
}

/**
 * Streams a RecordIO file's image records (with JPEG bytes), one read at a time.
 * @example
 * ```ts
 * import { readRecordIO } from "../mod.ts";
 *
 * for await (const r of readRecordIO("fixtures/pipeline/rec/train.rec")) {
 *   console.log(r.key, r.label, r.bytes?.length); // JPEG bytes
 * }
 * ```
 */
export function readRecordIO(recPath: string, idxPath?: string): ReadableStream<ListRecord> {
  let reader: RecordIOReader;
  let keys: number[];
  let i = 0;
  return new ReadableStream<ListRecord>({
    async start() {
      reader = await RecordIOReader.open(recPath, idxPath);
      keys = await reader.imageKeys();
    },
    async pull(c) {
      if (i >= keys.length) {
        reader.close();
        c.close();
        return;
      }
      c.enqueue(await reader.readImage(keys[i++]));
    },
    cancel() {
      reader?.close();
    },
  }, { highWaterMark: 4 });
}

/**
 * RecordIO images as records with label + offset only (`RecordIORecord`); 36 bytes read each.
 * @example
 * ```ts
 * import { readRecordIOLazy } from "../mod.ts";
 *
 * const { records } = await readRecordIOLazy("fixtures/pipeline/rec/train.rec");
 * console.log(records.length, records.at(0)); // labels and offsets, no image bytes yet
 * ```
 */
export async function readRecordIOLazy(recPath: string, idxPath?: string): Promise<ListResult> {
  // Headers read in large sequential windows (record_io_labels.ts): MS1M's 5.8 M labels in
  // seconds rather than two small reads per record.
  return { records: await readLazyRecords(recPath, idxPath), classes: [] };
}

export interface ListReaderOptions {
  /** Data root (folder tree root, or the base of list paths). Required. */
  root: string;
  /**
   * Clean list file; relative paths resolve against `root`.
   * @default none (folder tree)
   */
  list?: string;
  /**
   * RecordIO `.rec` file (its `.idx` beside it).
   * @default none
   */
  rec?: string;
}

/**
 * The list reader as a stream source (stage 1): yields the records of a folder tree, a clean list
 * or a RecordIO file.
 * @example
 * ```ts
 * import { ListReaderStream } from "../mod.ts";
 *
 * const records = new ListReaderStream({ root: "fixtures/pipeline/images" });
 * for await (const r of records) console.log(r.key, r.label, r.path);
 * ```
 */
export class ListReaderStream extends ReadableStream<ListRecord> {
  /** Class names once known (after the first read); empty for integer labels and RecordIO. */
  classes: string[] = [];

  constructor(options: ListReaderOptions) {
    if (options.list && options.rec) throw new TypeError("Give either list or rec, not both");
    let inner: ReadableStreamDefaultReader<ListRecord> | null = null;
    let arr: ListRecord[] | null = null;
    let i = 0;
    super({
      start: async () => {
        if (options.rec) {
          inner = readRecordIO(options.rec).getReader();
          return;
        }
        const r = options.list
          ? await readCleanList(options.list, options.root)
          : await readImageFolder(options.root);
        arr = r.records;
        this.classes = r.classes;
      },
      pull: async (c) => {
        if (inner) {
          const { value, done } = await inner.read();
          if (done) c.close();
          else c.enqueue(value);
        } else if (i < arr!.length) c.enqueue(arr![i++]);
        else c.close();
      },
      cancel: async () => {
        await inner?.cancel();
      },
    });
  }
}
