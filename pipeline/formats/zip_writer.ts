/**
 * Writes a zip of STORED entries the way PyTorch's `torch.save` does (each payload aligned to 64
 * bytes with a padding extra field, CRC-32 filled in), so Python's `zipfile` and `torch.load` read
 * it. Sizes must stay under 4 GiB per entry and in total (no zip64 written).
 */

import { crc32Table, crc32With } from "./crc32.ts";

const CRC_TABLE = crc32Table(0xedb88320);

/** CRC-32 (zip's polynomial) of `bytes`. */
export function crc32(bytes: Uint8Array): number {
  return crc32With(CRC_TABLE, bytes);
}

/** Builds the archive of `entries` (name -> payload, in order); payloads 64-byte aligned. */
export function encodeZip(entries: [string, Uint8Array][], align = 64): Uint8Array {
  const enc = new TextEncoder();
  const names = entries.map(([n]) => enc.encode(n));
  let size = 22;
  const pads: number[] = [];
  let pos = 0;
  entries.forEach(([, data], i) => {
    const header = 30 + names[i].length;
    const pad = (align - ((pos + header + 4) % align)) % align;
    pads.push(pad + 4); // extra field: id 0x4b50 ("PK"), length, padding
    pos += header + pad + 4 + data.length;
    size += 46 + names[i].length;
  });
  size += pos;
  if (size > 0xffffffff) throw new RangeError("encodeZip(): archive over 4 GiB (no zip64)");
  const out = new Uint8Array(size);
  const v = new DataView(out.buffer);
  const offsets: number[] = [];
  const crcs: number[] = [];
  let p = 0;
  entries.forEach(([, data], i) => {
    offsets.push(p);
    crcs.push(crc32(data));
    v.setUint32(p, 0x04034b50, true);
    v.setUint16(p + 4, 20, true);
    v.setUint32(p + 14, crcs[i], true);
    v.setUint32(p + 18, data.length, true);
    v.setUint32(p + 22, data.length, true);
    v.setUint16(p + 26, names[i].length, true);
    v.setUint16(p + 28, pads[i], true);
    out.set(names[i], p + 30);
    const extra = p + 30 + names[i].length;
    v.setUint16(extra, 0x4b50, true);
    v.setUint16(extra + 2, pads[i] - 4, true);
    p = extra + pads[i];
    out.set(data, p);
    p += data.length;
  });
  const dir = p;
  entries.forEach(([, data], i) => {
    v.setUint32(p, 0x02014b50, true);
    v.setUint16(p + 4, 20, true);
    v.setUint16(p + 6, 20, true);
    v.setUint32(p + 16, crcs[i], true);
    v.setUint32(p + 20, data.length, true);
    v.setUint32(p + 24, data.length, true);
    v.setUint16(p + 28, names[i].length, true);
    v.setUint32(p + 42, offsets[i], true);
    out.set(names[i], p + 46);
    p += 46 + names[i].length;
  });
  v.setUint32(p, 0x06054b50, true);
  v.setUint16(p + 8, entries.length, true);
  v.setUint16(p + 10, entries.length, true);
  v.setUint32(p + 12, p - dir, true);
  v.setUint32(p + 16, dir, true);
  return out;
}
