/**
 * CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), as TFRecord / TensorBoard event files use
 * it, and TensorFlow's "masked" form (`crc32c::Mask` in tensorflow/tsl/lib/hash/crc32c.h): a
 * rotation right by 15 bits plus 0xa282ead8, so a CRC stored inside CRC'd data is not itself a
 * checksum of it.
 */

import { crc32Table, crc32With } from "../../pipeline/formats/crc32.ts";

const TABLE = crc32Table(0x82f63b78);

/** CRC-32C of `bytes` (check value: "123456789" -> 0xe3069283). */
export function crc32c(bytes: Uint8Array): number {
  return crc32With(TABLE, bytes);
}

/** TensorFlow's masked CRC-32C of `bytes`. */
export function maskedCrc32c(bytes: Uint8Array): number {
  const c = crc32c(bytes);
  return ((((c >>> 15) | (c << 17)) >>> 0) + 0xa282ead8) >>> 0;
}
