/**
 * MXNet / insightface RecordIO format: packing, record encoding and the `.rec` + `.idx` writer.
 *
 * Byte layout of one record in `.rec` (all little-endian):
 *   uint32 magic 0xced7230a | uint32 lrec = cflag << 29 | length | payload | zero pad to 4 bytes
 * cflag 0 is a whole record; a payload that contains the magic at a 4-aligned offset is split
 * there (dmlc-core RecordIOWriter): parts carry cflag 1 (first), 2 (middle), 3 (last), the magic
 * itself is dropped and the reader puts it back between parts. The payload starts with an IRHeader
 * (24 bytes: uint32 flag, float32 label, uint64 id, uint64 id2); when flag > 0, `flag` float32
 * labels follow it (and the header's label is 0). Then the encoded image.
 * `.idx` is text: `key\toffset\n`, offset of the record's magic in `.rec`.
 * Reading: `record_io_reader.ts`.
 */
export const RECORDIO_MAGIC = 0xced7230a;
export const IRHEADER_SIZE = 24;

export interface IRHeader {
  /** 0: one label in `label`; > 0: that many labels in `labels`. */
  flag: number;
  label: number;
  labels?: Float32Array;
  id: bigint;
  id2: bigint;
}

/** Packs an IRHeader + payload (mx.recordio.pack): a label array sets flag = its length. */
export function packIR(
  header: { label: number | number[]; id?: number | bigint; id2?: number | bigint },
  payload: Uint8Array,
): Uint8Array {
  const labels = Array.isArray(header.label) ? header.label : null;
  const out = new Uint8Array(IRHEADER_SIZE + (labels ? labels.length * 4 : 0) + payload.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, labels ? labels.length : 0, true);
  v.setFloat32(4, labels ? 0 : (header.label as number), true);
  v.setBigUint64(8, BigInt(header.id ?? 0), true);
  v.setBigUint64(16, BigInt(header.id2 ?? 0), true);
  labels?.forEach((l, i) => v.setFloat32(IRHEADER_SIZE + 4 * i, l, true));
  out.set(payload, IRHEADER_SIZE + (labels ? labels.length * 4 : 0));
  return out;
}

/** Unpacks an IRHeader + payload (mx.recordio.unpack). */
export function unpackIR(
  record: Uint8Array,
  where = "record",
): { header: IRHeader; payload: Uint8Array } {
  if (record.length < IRHEADER_SIZE) {
    throw new SyntaxError(`${where}: ${record.length} bytes is shorter than an IRHeader (24)`);
  }
  const v = new DataView(record.buffer, record.byteOffset, record.byteLength);
  const flag = v.getUint32(0, true);
  const header: IRHeader = {
    flag,
    label: v.getFloat32(4, true),
    id: v.getBigUint64(8, true),
    id2: v.getBigUint64(16, true),
  };
  let off = IRHEADER_SIZE;
  if (flag > 0) {
    if (record.length < off + flag * 4) {
      throw new SyntaxError(`${where}: IRHeader flag ${flag} needs ${flag * 4} label bytes`);
    }
    header.labels = new Float32Array(flag);
    for (let i = 0; i < flag; i++) header.labels[i] = v.getFloat32(off + 4 * i, true);
    off += flag * 4;
  }
  return { header, payload: record.subarray(off) };
}

/** Encodes one record's bytes as they appear in `.rec` (split at embedded magics, padded). */
export function encodeRecord(data: Uint8Array): Uint8Array {
  if (data.length >= 1 << 29) throw new RangeError("RecordIO records must be < 2^29 bytes");
  const chunks: Uint8Array[] = [];
  const head = (cflag: number, len: number) => {
    const h = new Uint8Array(8);
    const v = new DataView(h.buffer);
    v.setUint32(0, RECORDIO_MAGIC, true);
    v.setUint32(4, ((cflag << 29) | len) >>> 0, true);
    chunks.push(h);
  };
  const lowerAlign = data.length & ~3;
  let dptr = 0;
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  for (let i = 0; i < lowerAlign; i += 4) {
    if (dv.getUint32(i, true) === RECORDIO_MAGIC) {
      head(dptr === 0 ? 1 : 2, i - dptr);
      chunks.push(data.subarray(dptr, i));
      dptr = i + 4;
    }
  }
  head(dptr !== 0 ? 3 : 0, data.length - dptr);
  chunks.push(data.subarray(dptr));
  const pad = (4 - (data.length & 3)) & 3;
  chunks.push(new Uint8Array(pad));
  return concatBytes(chunks);
}

/** Joins byte arrays into one (a single part is returned as is, not copied). */
export function concatBytes(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0];
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Bytes gathered before one write to `.rec` (one write a record costs ~2x on small faces). */
const WRITE_CHUNK = 4 << 20;

/**
 * Writes `.rec` + `.idx` atomically (temp files, renamed on `close()`). Offsets are JS numbers
 * (exact to 2^53), so files past 4 GiB index correctly. The temp names are unique per writer
 * (pid + random), so two writers of one target, or `abort()`, never touch another's files or an
 * existing `.rec`/`.idx` (it stays until `close()` replaces it).
 * @example
 * ```ts
 * import { RecordIOWriter } from "../mod.ts";
 *
 * const jpeg = await Deno.readFile("fixtures/pipeline/images/Adrien_Brody/Adrien_Brody_0001.jpg");
 * const writer = await RecordIOWriter.create(`${await Deno.makeTempDir()}/faces.rec`);
 * await writer.write(0, jpeg);
 * await writer.close(); // faces.rec + faces.idx appear only now
 * ```
 */
export class RecordIOWriter {
  readonly recPath: string;
  readonly idxPath: string;
  #rec: Deno.FsFile;
  #idx: Deno.FsFile;
  #offset: number;
  #pending: Uint8Array[] = [];
  #pendingBytes = 0;
  #idxText = "";
  readonly #tmp: [string, string];

  private constructor(recPath: string, idxPath: string, files: Deno.FsFile[], tmp: string) {
    this.recPath = recPath;
    this.idxPath = idxPath;
    [this.#rec, this.#idx] = files;
    this.#offset = 0;
    this.#tmp = [`${recPath}${tmp}`, `${idxPath}${tmp}`];
  }

  static async create(
    recPath: string,
    idxPath = recPath.replace(/\.rec$/, "") + ".idx",
  ): Promise<RecordIOWriter> {
    const tmp = `.tmp-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
    const mode = { write: true, createNew: true };
    const rec = await Deno.open(`${recPath}${tmp}`, mode);
    const idx = await Deno.open(`${idxPath}${tmp}`, mode).catch(async (e) => {
      rec.close();
      await Deno.remove(`${recPath}${tmp}`).catch(() => {});
      throw e;
    });
    return new RecordIOWriter(recPath, idxPath, [rec, idx], tmp);
  }

  /** Bytes written so far: the offset the next record will get. */
  get offset(): number {
    return this.#offset;
  }

  /** Appends one record (already IR-packed) under integer `key`. */
  async write(key: number, data: Uint8Array): Promise<void> {
    const bytes = encodeRecord(data);
    this.#idxText += `${key}\t${this.#offset}\n`;
    this.#pending.push(bytes);
    this.#pendingBytes += bytes.length;
    this.#offset += bytes.length;
    if (this.#pendingBytes >= WRITE_CHUNK) await this.#flush();
  }

  async #flush(): Promise<void> {
    await writeAll(this.#rec, concatBytes(this.#pending));
    await writeAll(this.#idx, new TextEncoder().encode(this.#idxText));
    this.#pending = [];
    this.#pendingBytes = 0;
    this.#idxText = "";
  }

  /** Flushes, syncs and renames the temp files onto `.rec` and `.idx`. */
  async close(): Promise<void> {
    try {
      if (this.#pendingBytes > 0) await this.#flush();
      await this.#rec.sync();
      await this.#idx.sync();
    } finally {
      this.#rec.close();
      this.#idx.close();
    }
    await Deno.rename(this.#tmp[0], this.recPath);
    await Deno.rename(this.#tmp[1], this.idxPath);
  }

  /** Closes and deletes the temp files: a failed write leaves no `.rec` behind. */
  async abort(): Promise<void> {
    for (const f of [this.#rec, this.#idx]) {
      try {
        f.close();
      } catch { /* already closed */ }
    }
    for (const p of this.#tmp) await Deno.remove(p).catch(() => {});
  }
}

async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  let done = 0;
  while (done < bytes.length) done += await file.write(bytes.subarray(done));
}
