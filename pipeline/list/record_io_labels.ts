/**
 * The lazy RecordIO list at MS1M scale (5.8 M records): `.idx` parsed from bytes into typed
 * arrays, and every record's label read from its header in large sequential reads (a window of up
 * to 8 MB covers many consecutive records) instead of two small reads per record, which cost
 * ~0.4 ms a record (40 min for MS1M) when measured (docs/reliability.md).
 */
import { IRHEADER_SIZE, RECORDIO_MAGIC, unpackIR } from "./record_io.ts";
import { readRecord, type RecordIORecord } from "./record_io_reader.ts";
import { RecordIOTable } from "./record_io_table.ts";

const WINDOW = 8 << 20;
/** Beyond this gap to the next record, read only the head (a large window would be wasted). */
const FAR = 64 << 10;
/** Bytes needed from a record's start: magic, length word, IRHeader, one label. */
const HEAD = 8 + IRHEADER_SIZE + 4;

/** `.idx` lines `key<TAB>offset` -> parallel arrays, in file order; a bad line names its number. */
export function parseIdx(
  bytes: Uint8Array,
  name: string,
): { keys: Float64Array; offsets: Float64Array } {
  let lines = 0;
  for (const b of bytes) if (b === 10) lines++;
  const keys = new Float64Array(lines + 1), offsets = new Float64Array(lines + 1);
  let n = 0, line = 1, i = 0;
  const len = bytes.length;
  while (i < len) {
    let field = 0, k = 0, o = 0, digits = 0, bad = false;
    for (; i < len && bytes[i] !== 10; i++) {
      const c = bytes[i];
      if (c >= 48 && c <= 57) {
        if (field === 0) k = k * 10 + c - 48;
        else o = o * 10 + c - 48;
        digits++;
      } else if (c === 9 || c === 32 || c === 13) {
        if (digits > 0) field++, digits = 0;
      } else bad = true;
    }
    if (digits > 0) field++;
    i++; // the newline
    if (field === 0 && !bad) {
      line++;
      continue; // blank line
    }
    if (bad || field !== 2) {
      throw new SyntaxError(
        `Cannot read index line ${line} of "${name}": expected "key<TAB>offset"`,
      );
    }
    keys[n] = k, offsets[n] = o, n++, line++;
  }
  return { keys: keys.subarray(0, n), offsets: offsets.subarray(0, n) };
}

/**
 * Image records of `recPath` (label + offset, no bytes), as `RecordIOReader.lazyRecords()` returns
 * them, reading the headers in large windows.
 */
export async function readLazyRecords(
  recPath: string,
  idxPath?: string,
): Promise<RecordIORecord[]> {
  return Array.from(await readRecordTable(recPath, idxPath));
}

/** The image records of `recPath` as a compact `RecordIOTable` (same records, same order). */
export async function readRecordTable(
  recPath: string,
  idxPath = recPath.replace(/\.rec$/, "") + ".idx",
): Promise<RecordIOTable> {
  let idxBytes: Uint8Array;
  try {
    idxBytes = await Deno.readFile(idxPath);
  } catch (e) {
    throw new Error(`Cannot read RecordIO index "${idxPath}": ${(e as Error).message}`);
  }
  const { keys, offsets } = parseIdx(idxBytes, idxPath);
  idxBytes = new Uint8Array(0);
  using file = await Deno.open(recPath, { read: true }).catch((e) => {
    throw new Error(`Cannot open RecordIO file "${recPath}": ${(e as Error).message}`);
  });
  // insightface header: record 0 with flag > 0 and label [a, b): images are keys 1..a-1.
  let imageKey = (_k: number) => true;
  const zero = keys.indexOf(0);
  if (zero >= 0) {
    const { header } = unpackIR(
      await readRecord(file, offsets[zero], recPath),
      `record 0 of "${recPath}"`,
    );
    if (header.flag > 0 && header.labels) {
      const last = Math.trunc(header.labels[0]);
      imageKey = (k) => k >= 1 && k < last;
    }
  }
  let n = 0;
  const order = new Int32Array(keys.length); // positions in .idx of the image records
  for (let j = 0; j < keys.length; j++) if (imageKey(keys[j])) order[n++] = j;
  const picked = order.subarray(0, n);
  const labels = await readLabels(file, recPath, offsets, picked);
  const pick = (a: Float64Array) => Float64Array.from(picked, (j) => a[j]);
  return new RecordIOTable(recPath, pick(keys), labels, pick(offsets));
}

/** The first label of the record at `offset`, by the exact (slow) reader: split records. */
async function labelAt(file: Deno.FsFile, offset: number, name: string): Promise<number> {
  const head = await readRecord(file, offset, name, IRHEADER_SIZE + 4);
  const v = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const where = `record at byte ${offset} of "${name}"`;
  if (head.length < IRHEADER_SIZE) throw new SyntaxError(`${where} is shorter than an IRHeader`);
  const flag = v.getUint32(0, true);
  if (flag > 0 && head.length < IRHEADER_SIZE + 4) {
    throw new SyntaxError(`${where}: flag ${flag} without labels`);
  }
  return Math.trunc(flag > 0 ? v.getFloat32(IRHEADER_SIZE, true) : v.getFloat32(4, true));
}

/** Labels of the records `order` (indices into `offsets`), in that order. */
async function readLabels(
  file: Deno.FsFile,
  recPath: string,
  offsets: Float64Array,
  order: Int32Array,
): Promise<Int32Array> {
  const labels = new Int32Array(order.length);
  // Visit in file order so the windows move forward only.
  const byOffset = Int32Array.from(order.keys());
  let sorted = true;
  for (let n = 1; n < order.length && sorted; n++) {
    sorted = offsets[order[n]] > offsets[order[n - 1]];
  }
  if (!sorted) byOffset.sort((a, b) => offsets[order[a]] - offsets[order[b]]);
  const buf = new Uint8Array(WINDOW);
  const view = new DataView(buf.buffer);
  let winStart = -1, winLen = 0;
  for (let n = 0; n < byOffset.length; n++) {
    const i = byOffset[n];
    const at = offsets[order[i]];
    if (winStart < 0 || at < winStart || at + HEAD > winStart + winLen) {
      // Records close together: one large read covers many; far apart: read just the head.
      const next = n + 1 < byOffset.length ? offsets[order[byOffset[n + 1]]] : at;
      const size = next - at > FAR ? HEAD : WINDOW;
      winStart = at;
      winLen = await readAt(file, at, buf.subarray(0, size));
    }
    const p = at - winStart;
    if (p + 8 > winLen || view.getUint32(p, true) !== RECORDIO_MAGIC) {
      throw new SyntaxError(`Bad RecordIO magic at byte ${at} of "${recPath}"`);
    }
    const lrec = view.getUint32(p + 4, true);
    const cflag = lrec >>> 29, len = lrec & ((1 << 29) - 1);
    if ((cflag !== 0 && cflag !== 1) || len < IRHEADER_SIZE + 4 || p + HEAD > winLen) {
      labels[i] = await labelAt(file, at, recPath); // split in the header or short: exact reader
      continue;
    }
    const flag = view.getUint32(p + 8, true);
    const label = flag > 0
      ? view.getFloat32(p + 8 + IRHEADER_SIZE, true)
      : view.getFloat32(p + 12, true);
    labels[i] = Math.trunc(label);
  }
  return labels;
}

async function readAt(file: Deno.FsFile, offset: number, buf: Uint8Array): Promise<number> {
  await file.seek(offset, Deno.SeekMode.Start);
  let got = 0;
  while (got < buf.length) {
    const n = await file.read(buf.subarray(got));
    if (n === null) break;
    got += n;
  }
  return got;
}
