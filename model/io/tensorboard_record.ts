/**
 * TensorBoard event records, encoded by hand (no protobuf package):
 *
 * - record framing (TFRecord, tensorflow/core/lib/io/record_writer.cc): uint64 length (little
 *   endian), uint32 masked CRC-32C of those 8 bytes, the data, uint32 masked CRC-32C of the data;
 * - data: a `tensorflow.Event` message (tensorflow/core/util/event.proto): `wall_time` double = 1,
 *   `step` int64 = 2, `file_version` string = 3, `summary` Summary = 5; `Summary.value` (repeated
 *   Value = 1) with `Value.tag` string = 1 and `Value.simple_value` float = 2.
 *
 * `decodeEventStep` and `splitRecords` read back only what the writer needs to cut a file back on
 * resume (the step of each intact record).
 */
import { maskedCrc32c } from "./crc32c.ts";

/** The file_version of the first event of a file, as TensorFlow's EventsWriter writes it. */
export const FILE_VERSION = "brain.Event:2";

/** Protobuf wire writer for the few field kinds an Event needs. */
class Wire {
  #bytes: number[] = [];

  varint(v: number | bigint): this {
    let x = BigInt.asUintN(64, BigInt(v));
    do {
      const b = Number(x & 0x7fn);
      x >>= 7n;
      this.#bytes.push(x ? b | 0x80 : b);
    } while (x);
    return this;
  }

  key(field: number, wireType: number): this {
    return this.varint((field << 3) | wireType);
  }

  double(field: number, v: number): this {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setFloat64(0, v, true);
    this.key(field, 1).#bytes.push(...b);
    return this;
  }

  float(field: number, v: number): this {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    this.key(field, 5).#bytes.push(...b);
    return this;
  }

  bytes(field: number, data: Uint8Array): this {
    this.key(field, 2).varint(data.length).#bytes.push(...data);
    return this;
  }

  string(field: number, s: string): this {
    return this.bytes(field, new TextEncoder().encode(s));
  }

  done(): Uint8Array {
    return Uint8Array.from(this.#bytes);
  }
}

/** An Event holding `file_version` (the first record of every event file). */
export function fileVersionEvent(wallTime: number): Uint8Array {
  return new Wire().double(1, wallTime).string(3, FILE_VERSION).done();
}

/** An Event holding one Summary of scalar values (`simple_value`, float32) at `step`. */
export function scalarsEvent(
  wallTime: number,
  step: number,
  values: Readonly<Record<string, number>>,
): Uint8Array {
  const summary = new Wire();
  for (const [tag, v] of Object.entries(values)) {
    summary.bytes(1, new Wire().string(1, tag).float(2, v).done());
  }
  return new Wire().double(1, wallTime).key(2, 0).varint(step).bytes(5, summary.done()).done();
}

/** One framed record: length, masked CRC of the length, data, masked CRC of the data. */
export function frameRecord(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(data.length + 16);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(data.length), true);
  view.setUint32(8, maskedCrc32c(out.subarray(0, 8)), true);
  out.set(data, 12);
  view.setUint32(12 + data.length, maskedCrc32c(data), true);
  return out;
}

/**
 * The intact records of an event file in order, as [start, end) byte ranges of the whole record
 * and its data; stops at the first torn or corrupt record (a write cut short by a kill).
 */
export function splitRecords(bytes: Uint8Array): { end: number; data: Uint8Array }[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: { end: number; data: Uint8Array }[] = [];
  let at = 0;
  while (at + 12 <= bytes.length) {
    const len = Number(view.getBigUint64(at, true));
    if (view.getUint32(at + 8, true) !== maskedCrc32c(bytes.subarray(at, at + 8))) break;
    const end = at + 12 + len + 4;
    if (end > bytes.length) break;
    const data = bytes.subarray(at + 12, at + 12 + len);
    if (view.getUint32(end - 4, true) !== maskedCrc32c(data)) break;
    out.push({ end, data });
    at = end;
  }
  return out;
}

/** The `step` (field 2) of an encoded Event; 0 when absent (the file_version event). */
export function decodeEventStep(data: Uint8Array): number {
  let at = 0;
  const varint = (): bigint => {
    let v = 0n, shift = 0n;
    for (;;) {
      if (at >= data.length) throw new RangeError("Event: truncated varint");
      const b = data[at++];
      v |= BigInt(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
      shift += 7n;
    }
  };
  while (at < data.length) {
    const key = Number(varint());
    const [field, type] = [key >>> 3, key & 7];
    if (type === 0) {
      const v = varint();
      if (field === 2) return Number(BigInt.asIntN(64, v));
    } else if (type === 1) at += 8;
    else if (type === 5) at += 4;
    else if (type === 2) {
      const n = Number(varint()); // read before adding: `at += varint()` would add to the old `at`
      at += n;
    } else throw new RangeError(`Event: unsupported wire type ${type}`);
  }
  return 0;
}
