/**
 * A small zip central-directory reader for archives whose entries are STORED (no compression),
 * such as PyTorch's checkpoints (`torch.save` since 1.6 writes every record uncompressed, each
 * payload 64-byte aligned). Zip64 sizes and offsets are understood. Entry payloads are views into
 * the archive's bytes (no copy). A compressed entry is listed but `data()` refuses it.
 */

export interface ZipEntry {
  name: string;
  /** 0 = STORED, 8 = DEFLATE, ... */
  method: number;
  size: number;
  compressedSize: number;
  /** Offset of the local file header. */
  headerOffset: number;
}

const EOCD = 0x06054b50;
const EOCD64 = 0x06064b50;
const EOCD64_LOCATOR = 0x07064b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;

/** True when `bytes` start like a zip archive (a local file header). */
export function isZip(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 3 &&
    bytes[3] === 4;
}

export class ZipReader {
  readonly entries = new Map<string, ZipEntry>();
  private readonly view: DataView;

  /** Parses the central directory of `bytes`; `name` is used in error messages. */
  constructor(readonly bytes: Uint8Array, readonly name = "<bytes>") {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const eocd = this.findEocd();
    let count = this.view.getUint16(eocd + 10, true);
    let dirOffset = this.view.getUint32(eocd + 16, true);
    const loc = eocd - 20;
    if (loc >= 0 && this.view.getUint32(loc, true) === EOCD64_LOCATOR) {
      const e64 = this.u64(loc + 8);
      if (this.view.getUint32(e64, true) !== EOCD64) throw this.fail("bad zip64 end record");
      count = this.u64(e64 + 32);
      dirOffset = this.u64(e64 + 48);
    }
    let p = dirOffset;
    for (let i = 0; i < count; i++) {
      if (p + 46 > bytes.length || this.view.getUint32(p, true) !== CENTRAL) {
        throw this.fail(`central directory entry ${i} at byte ${p} is damaged`);
      }
      const nameLen = this.view.getUint16(p + 28, true);
      const extraLen = this.view.getUint16(p + 30, true);
      const commentLen = this.view.getUint16(p + 32, true);
      const entryName = new TextDecoder().decode(bytes.subarray(p + 46, p + 46 + nameLen));
      const e: ZipEntry = {
        name: entryName,
        method: this.view.getUint16(p + 10, true),
        compressedSize: this.view.getUint32(p + 20, true),
        size: this.view.getUint32(p + 24, true),
        headerOffset: this.view.getUint32(p + 42, true),
      };
      this.zip64(e, p + 46 + nameLen, extraLen);
      this.entries.set(entryName, e);
      p += 46 + nameLen + extraLen + commentLen;
    }
  }

  /** The payload of entry `name` (a view into the archive), or an error naming it. */
  data(name: string): Uint8Array {
    const e = this.entries.get(name);
    if (!e) throw this.fail(`no entry "${name}"`);
    if (e.method !== 0) {
      throw this.fail(`entry "${name}" is compressed (method ${e.method}); only STORED is read`);
    }
    const h = e.headerOffset;
    if (h + 30 > this.bytes.length || this.view.getUint32(h, true) !== LOCAL) {
      throw this.fail(`local header of "${name}" at byte ${h} is damaged`);
    }
    const start = h + 30 + this.view.getUint16(h + 26, true) + this.view.getUint16(h + 28, true);
    if (start + e.size > this.bytes.length) throw this.fail(`entry "${name}" is truncated`);
    return this.bytes.subarray(start, start + e.size);
  }

  private findEocd(): number {
    const min = Math.max(0, this.bytes.length - 22 - 65535);
    for (let p = this.bytes.length - 22; p >= min; p--) {
      if (this.view.getUint32(p, true) === EOCD) return p;
    }
    throw this.fail("no end-of-central-directory record (truncated, or not a zip)");
  }

  /** Replaces 0xFFFFFFFF fields with the zip64 extra field's values, in the spec's order. */
  private zip64(e: ZipEntry, extra: number, len: number): void {
    const MAX = 0xffffffff;
    for (let q = extra; q + 4 <= extra + len;) {
      const id = this.view.getUint16(q, true);
      const size = this.view.getUint16(q + 2, true);
      if (id === 1) {
        let r = q + 4;
        if (e.size === MAX) (e.size = this.u64(r), r += 8);
        if (e.compressedSize === MAX) (e.compressedSize = this.u64(r), r += 8);
        if (e.headerOffset === MAX) e.headerOffset = this.u64(r);
      }
      q += 4 + size;
    }
  }

  private u64(p: number): number {
    const v = this.view.getBigUint64(p, true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw this.fail(`64-bit field at ${p} too large`);
    return Number(v);
  }

  private fail(why: string): SyntaxError {
    return new SyntaxError(`Cannot read zip "${this.name}": ${why}`);
  }
}
