/**
 * The byte side of the pickle reader: little-endian integers and byte runs read at a position,
 * bounds-checked; errors name the file and the offset of the opcode being run.
 */
export class PickleBytes {
  readonly bytes: Uint8Array;
  readonly #view: DataView;
  readonly #name: string;
  /** Read position. */
  p = 0;
  /** Offset of the opcode being run (named in errors). */
  at = 0;

  constructor(bytes: Uint8Array, name: string) {
    this.bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.#name = name;
  }

  fail(why: string): SyntaxError {
    return new SyntaxError(`Cannot read pickle "${this.#name}" at byte ${this.at}: ${why}`);
  }

  #need(n: number): void {
    if (this.p + n > this.bytes.length) throw this.fail(`truncated (needs ${n} more bytes)`);
  }

  u8(): number {
    this.#need(1);
    return this.bytes[this.p++];
  }

  u16(): number {
    this.#need(2);
    this.p += 2;
    return this.#view.getUint16(this.p - 2, true);
  }

  u32(): number {
    this.#need(4);
    this.p += 4;
    return this.#view.getUint32(this.p - 4, true);
  }

  i32(): number {
    this.#need(4);
    this.p += 4;
    return this.#view.getInt32(this.p - 4, true);
  }

  u64(): number {
    this.#need(8);
    const v = this.#view.getBigUint64(this.p, true);
    this.p += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw this.fail("length too large");
    return Number(v);
  }

  /** The next `n` bytes, as a view (no copy). */
  take(n: number): Uint8Array {
    this.#need(n);
    this.p += n;
    return this.bytes.subarray(this.p - n, this.p);
  }
}
