/**
 * Test helper (not a test file): an independent RecordIO reader written from MXNet's format
 * description (python/mxnet/recordio.py and dmlc-core's recordio), sharing no code with
 * pipeline/list/: a record is `uint32 magic 0xced7230a, uint32 lrecord` (cflag = lrecord >> 29,
 * length = lrecord & (2^29 - 1)), then `length` bytes, padded with zeros to a multiple of 4;
 * cflag 0 is a whole record, 1/2/3 the first/middle/last part of a record that contained the
 * magic (joined with the magic between parts). A payload starts with `IRHeader` (struct
 * `<IfQQ`: flag, label, id, id2); flag > 0 means `flag` float32 labels follow.
 * `.idx` lines are `key\toffset`; offsets are read as 64-bit (BigInt).
 */

export interface MxRecord {
  flag: number;
  /** The scalar label (flag 0) or the label array (flag > 0). */
  label: number | number[];
  id: bigint;
  id2: bigint;
  payload: Uint8Array;
}

const MAGIC = 0xced7230a;

function readFully(f: Deno.FsFile, n: number): Uint8Array {
  const b = new Uint8Array(n);
  let got = 0;
  while (got < n) {
    const r = f.readSync(b.subarray(got));
    if (r === null) throw new Error(`unexpected end of file (wanted ${n} bytes)`);
    got += r;
  }
  return b;
}

/** `.idx` as [key, 64-bit offset] pairs in file order. */
export function mxReadIdx(idxPath: string): [number, bigint][] {
  return Deno.readTextFileSync(idxPath).split("\n").filter((l) => l !== "").map((l) => {
    const [k, o] = l.split("\t");
    return [Number(k), BigInt(o)];
  });
}

/** Reads the (possibly multi-part) record at byte `offset` of `rec`; MXNet's `read_idx`. */
export function mxReadRecord(f: Deno.FsFile, offset: bigint): Uint8Array {
  f.seekSync(offset, Deno.SeekMode.Start);
  const parts: number[] = [];
  for (;;) {
    const h = new DataView(readFully(f, 8).buffer);
    if (h.getUint32(0, true) !== MAGIC) throw new Error(`bad magic at ${offset}`);
    const lrec = h.getUint32(4, true);
    const cflag = Math.floor(lrec / 2 ** 29);
    const len = lrec % 2 ** 29;
    const data = readFully(f, len);
    if (cflag === 2 || cflag === 3) parts.push(0x0a, 0x23, 0xd7, 0xce); // the magic, LE
    for (const b of data) parts.push(b);
    const pad = (4 - (len % 4)) % 4;
    if (pad) readFully(f, pad);
    if (cflag === 0 || cflag === 3) return new Uint8Array(parts);
  }
}

/** `mx.recordio.unpack`: IRHeader + labels + payload. */
export function mxUnpack(s: Uint8Array): MxRecord {
  const v = new DataView(s.buffer, s.byteOffset, s.byteLength);
  const flag = v.getUint32(0, true);
  const scalar = v.getFloat32(4, true);
  const id = v.getBigUint64(8, true), id2 = v.getBigUint64(16, true);
  if (flag === 0) return { flag, label: scalar, id, id2, payload: s.subarray(24) };
  const label = Array.from({ length: flag }, (_, i) => v.getFloat32(24 + 4 * i, true));
  return { flag, label, id, id2, payload: s.subarray(24 + 4 * flag) };
}

/** Every record of an indexed `.rec`, keyed by its `.idx` key, with the offsets. */
export function mxReadAll(
  recPath: string,
  idxPath: string,
): Map<number, MxRecord & { offset: bigint }> {
  const out = new Map<number, MxRecord & { offset: bigint }>();
  const f = Deno.openSync(recPath);
  try {
    for (const [k, o] of mxReadIdx(idxPath)) {
      out.set(k, { ...mxUnpack(mxReadRecord(f, o)), offset: o });
    }
  } finally {
    f.close();
  }
  return out;
}
