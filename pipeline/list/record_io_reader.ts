/**
 * Reads insightface RecordIO (`train.rec` + `train.idx`; format in `record_io.ts`).
 * insightface: record 0 is a header with flag > 0 and label = [a, b): images are keys 1..a-1,
 * keys a..b-1 are per-identity records (skipped here). Without such a header, every key is an image.
 *
 * Two ways to train from a `.rec`: `readImage(key)` returns the JPEG bytes (whole file in memory
 * if you keep them), or `lazyRecords()` returns records that carry only the byte offset
 * (`RecordIORecord`); the decoder then reads each JPEG when its batch is built
 * (`readRecordAt(path, offset)`), so memory stays flat however large the file is.
 */
import type { ListRecord } from "../records.ts";
import { concatBytes, IRHEADER_SIZE, RECORDIO_MAGIC, unpackIR } from "./record_io.ts";

/** A list record whose image is the payload of the RecordIO record at `offset` of `path`. */
export interface RecordIORecord extends ListRecord {
  path: string;
  /** Byte offset of the record's magic in the `.rec` file (from `.idx`). */
  offset: number;
}

async function readExactly(file: Deno.FsFile, offset: number, n: number, name: string) {
  const buf = new Uint8Array(n);
  await file.seek(offset, Deno.SeekMode.Start);
  let got = 0;
  while (got < n) {
    const r = await file.read(buf.subarray(got));
    if (r === null) throw new SyntaxError(`"${name}" is truncated at byte ${offset + got}`);
    got += r;
  }
  return buf;
}

/**
 * Reads the record starting at `offset` (parts joined, magic restored). With `limit`, reads at
 * most that many bytes of a whole (unsplit) record: enough for the IRHeader and first label.
 */
export async function readRecord(
  file: Deno.FsFile,
  offset: number,
  name: string,
  limit = Infinity,
): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  const magic = new Uint8Array(4);
  new DataView(magic.buffer).setUint32(0, RECORDIO_MAGIC, true);
  for (;;) {
    const h = new DataView((await readExactly(file, offset, 8, name)).buffer);
    if (h.getUint32(0, true) !== RECORDIO_MAGIC) {
      throw new SyntaxError(`Bad RecordIO magic at byte ${offset} of "${name}"`);
    }
    const lrec = h.getUint32(4, true);
    const cflag = lrec >>> 29;
    const len = lrec & ((1 << 29) - 1);
    if (parts.length === 0 && cflag === 0 && limit < len) {
      return await readExactly(file, offset + 8, limit, name);
    }
    if (parts.length > 0) parts.push(magic);
    parts.push(await readExactly(file, offset + 8, len, name));
    offset += 8 + ((len + 3) & ~3);
    if (cflag === 0 || cflag === 3) break;
  }
  return concatBytes(parts);
}

/** Opens `path`, reads the record at `offset` and returns its image payload (IRHeader removed). */
export async function readRecordAt(path: string, offset: number): Promise<Uint8Array> {
  const file = await Deno.open(path, { read: true });
  try {
    const rec = await readRecord(file, offset, path);
    return unpackIR(rec, `record at byte ${offset} of "${path}"`).payload;
  } finally {
    file.close();
  }
}

/**
 * Random-access reader over `.rec` with its `.idx`.
 * @example
 * ```ts
 * import { RecordIOReader } from "../mod.ts";
 *
 * const reader = await RecordIOReader.open("fixtures/pipeline/rec/train.rec");
 * const [first] = await reader.imageKeys();
 * console.log(await reader.label(first), (await reader.read(first)).length);
 * reader.close();
 * ```
 */
export class RecordIOReader {
  readonly recPath: string;
  /** key -> byte offset, in `.idx` order. */
  readonly index: Map<number, number>;
  #file: Deno.FsFile;

  private constructor(recPath: string, index: Map<number, number>, file: Deno.FsFile) {
    this.recPath = recPath;
    this.index = index;
    this.#file = file;
  }

  static async open(recPath: string, idxPath = recPath.replace(/\.rec$/, "") + ".idx") {
    let text: string;
    try {
      text = await Deno.readTextFile(idxPath);
    } catch (e) {
      throw new Error(`Cannot read RecordIO index "${idxPath}": ${(e as Error).message}`);
    }
    const index = new Map<number, number>();
    text.split("\n").forEach((line, i) => {
      if (line.trim() === "") return;
      const m = /^\s*(\d+)\s+(\d+)\s*$/.exec(line);
      if (!m) {
        throw new SyntaxError(
          `Cannot read index line ${i + 1} of "${idxPath}": expected "key<TAB>offset"`,
        );
      }
      index.set(Number(m[1]), Number(m[2]));
    });
    let file: Deno.FsFile;
    try {
      file = await Deno.open(recPath, { read: true });
    } catch (e) {
      throw new Error(`Cannot open RecordIO file "${recPath}": ${(e as Error).message}`);
    }
    return new RecordIOReader(recPath, index, file);
  }

  #offset(key: number): number {
    const start = this.index.get(key);
    if (start === undefined) throw new RangeError(`No record ${key} in "${this.recPath}"`);
    return start;
  }

  /** Reads the record stored under `key` (parts joined, magic restored). */
  read(key: number): Promise<Uint8Array> {
    return readRecord(this.#file, this.#offset(key), this.recPath);
  }

  /** The image keys: 1..a-1 after an insightface header record, else every key of `.idx`. */
  async imageKeys(): Promise<number[]> {
    if (this.index.has(0)) {
      const { header } = unpackIR(await this.read(0), `record 0 of "${this.recPath}"`);
      if (header.flag > 0 && header.labels) {
        const last = Math.trunc(header.labels[0]);
        return Array.from({ length: Math.max(0, last - 1) }, (_, i) => i + 1);
      }
    }
    return [...this.index.keys()];
  }

  /** The (first) label of record `key`, reading only its first 28 bytes. */
  async label(key: number): Promise<number> {
    const head = await readRecord(this.#file, this.#offset(key), this.recPath, IRHEADER_SIZE + 4);
    const v = new DataView(head.buffer, head.byteOffset, head.byteLength);
    if (head.length < IRHEADER_SIZE) {
      throw new SyntaxError(`record ${key} of "${this.recPath}" is shorter than an IRHeader`);
    }
    const flag = v.getUint32(0, true);
    if (flag > 0 && head.length < IRHEADER_SIZE + 4) {
      throw new SyntaxError(`record ${key} of "${this.recPath}": flag ${flag} without labels`);
    }
    return Math.trunc(flag > 0 ? v.getFloat32(IRHEADER_SIZE, true) : v.getFloat32(4, true));
  }

  /** Reads image record `key` as a ListRecord with JPEG bytes (label = first label). */
  async readImage(key: number): Promise<ListRecord> {
    const { header, payload } = unpackIR(
      await this.read(key),
      `record ${key} of "${this.recPath}"`,
    );
    const label = header.flag > 0 && header.labels ? header.labels[0] : header.label;
    return { key: String(key), label: Math.trunc(label), bytes: payload };
  }

  /** Every image as a `RecordIORecord` (label + offset, no bytes): reads 36 bytes per image. */
  async lazyRecords(): Promise<RecordIORecord[]> {
    const out: RecordIORecord[] = [];
    for (const key of await this.imageKeys()) {
      out.push({
        key: String(key),
        label: await this.label(key),
        path: this.recPath,
        offset: this.#offset(key),
      });
    }
    return out;
  }

  close(): void {
    this.#file.close();
  }
}
