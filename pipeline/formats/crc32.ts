/**
 * Table-driven reflected CRC-32 of any polynomial: zip's CRC-32 (0xEDB88320, `zip_writer.ts`) and
 * CRC-32C (Castagnoli, 0x82F63B78, TFRecord / TensorBoard event files, `model/io/crc32c.ts`) are
 * the same algorithm over different tables.
 */

/** The 256-entry lookup table of a reflected CRC-32 polynomial. */
export function crc32Table(reflectedPolynomial: number): Uint32Array {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? reflectedPolynomial ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
}

/**
 * CRC-32 of `bytes` with a table from `crc32Table` (initial value and final xor 0xFFFFFFFF).
 * @example
 * ```ts
 * import { crc32Table, crc32With } from "./crc32.ts";
 *
 * const zip = crc32Table(0xedb88320);
 * crc32With(zip, new TextEncoder().encode("123456789")); // 0xcbf43926
 * ```
 */
export function crc32With(table: Uint32Array, bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = table[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
