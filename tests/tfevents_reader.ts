/**
 * A TensorBoard event-file reader for the tests, written from the format's description and NOT
 * from arcstream's writer (model/io/tensorboard_*.ts), so the two check each other:
 *
 * - TFRecord framing (tensorflow/core/lib/io/record_reader.cc): uint64 LE length, uint32 LE
 *   masked CRC-32C of the 8 length bytes, the data, uint32 LE masked CRC-32C of the data; the
 *   mask is `((crc >> 15) | (crc << 17)) + 0xa282ead8` (tensorflow/tsl/lib/hash/crc32c.h);
 * - CRC-32C computed bit by bit from the Castagnoli polynomial (reflected 0x82F63B78);
 * - protobuf wire format (varint keys `field << 3 | type`; types 0 varint, 1 64-bit, 2 length-
 *   delimited, 5 32-bit) decoding `tensorflow.Event` (wall_time 1 double, step 2 int64,
 *   file_version 3 string, summary 5) and `Summary.Value` (tag 1, simple_value 2 float).
 *
 * It checks it against a file written by tensorboardX (fixtures/tensorboard).
 */

/** CRC-32C, one bit at a time. */
export function crc32cBitwise(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const b of bytes) {
    crc ^= b;
    for (let k = 0; k < 8; k++) crc = (crc >>> 1) ^ (0x82f63b78 & -(crc & 1));
  }
  return (~crc) >>> 0;
}

const mask = (crc: number) => ((((crc >>> 15) | (crc << 17)) >>> 0) + 0xa282ead8) >>> 0;

/** One decoded event. */
export interface TfEvent {
  wallTime: number;
  step: number;
  fileVersion?: string;
  values: Record<string, number>;
}

/** Splits a file into record payloads; throws on a CRC mismatch or a torn record. */
export function readRecords(bytes: Uint8Array): Uint8Array[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: Uint8Array[] = [];
  let p = 0;
  while (p < bytes.length) {
    if (p + 12 > bytes.length) throw new Error(`torn record header at byte ${p}`);
    const lenLo = view.getUint32(p, true), lenHi = view.getUint32(p + 4, true);
    const n = lenHi * 2 ** 32 + lenLo;
    if (view.getUint32(p + 8, true) !== mask(crc32cBitwise(bytes.subarray(p, p + 8)))) {
      throw new Error(`length CRC mismatch at byte ${p}`);
    }
    if (p + 12 + n + 4 > bytes.length) throw new Error(`torn record at byte ${p}`);
    const data = bytes.subarray(p + 12, p + 12 + n);
    if (view.getUint32(p + 12 + n, true) !== mask(crc32cBitwise(data))) {
      throw new Error(`data CRC mismatch at byte ${p}`);
    }
    out.push(data);
    p += 16 + n;
  }
  return out;
}

/** Protobuf fields of a message: [field number, wire type, value]. */
function fields(msg: Uint8Array): [number, number, bigint | Uint8Array][] {
  const out: [number, number, bigint | Uint8Array][] = [];
  let p = 0;
  const varint = () => {
    let v = 0n;
    for (let shift = 0n;; shift += 7n) {
      const b = msg[p++];
      v |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) return v;
    }
  };
  while (p < msg.length) {
    const key = Number(varint());
    const type = key & 7;
    if (type === 0) out.push([key >> 3, 0, varint()]);
    else if (type === 1) out.push([key >> 3, 1, msg.subarray(p, p += 8)]);
    else if (type === 5) out.push([key >> 3, 5, msg.subarray(p, p += 4)]);
    else if (type === 2) {
      const n = Number(varint());
      out.push([key >> 3, 2, msg.subarray(p, p += n)]);
    } else throw new Error(`wire type ${type}`);
  }
  return out;
}

const asView = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);

/** Decodes one `tensorflow.Event`. */
export function decodeEvent(data: Uint8Array): TfEvent {
  const e: TfEvent = { wallTime: 0, step: 0, values: {} };
  for (const [f, , v] of fields(data)) {
    if (f === 1) e.wallTime = asView(v as Uint8Array).getFloat64(0, true);
    else if (f === 2) e.step = Number(BigInt.asIntN(64, v as bigint));
    else if (f === 3) e.fileVersion = new TextDecoder().decode(v as Uint8Array);
    else if (f === 5) {
      for (const [sf, , sv] of fields(v as Uint8Array)) {
        if (sf !== 1) continue;
        let tag = "", value = NaN;
        for (const [vf, , vv] of fields(sv as Uint8Array)) {
          if (vf === 1) tag = new TextDecoder().decode(vv as Uint8Array);
          if (vf === 2) value = asView(vv as Uint8Array).getFloat32(0, true);
        }
        e.values[tag] = value;
      }
    }
  }
  return e;
}

/** Every event of an event file, CRCs checked. */
export async function readEventFile(path: string): Promise<TfEvent[]> {
  return readRecords(await Deno.readFile(path)).map(decodeEvent);
}
