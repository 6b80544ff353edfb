/**
 * CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), as TFRecord / TensorBoard event files use
 * it, and TensorFlow's "masked" form (`crc32c::Mask` in tensorflow/tsl/lib/hash/crc32c.h): a
 * rotation right by 15 bits plus 0xa282ead8, so a CRC stored inside CRC'd data is not itself a
 * checksum of it.
 */

const TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32C of `bytes` (check value: "123456789" -> 0xe3069283). */
export function crc32c(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** TensorFlow's masked CRC-32C of `bytes`. */
export function maskedCrc32c(bytes: Uint8Array): number {
  const c = crc32c(bytes);
  return ((((c >>> 15) | (c << 17)) >>> 0) + 0xa282ead8) >>> 0;
}
