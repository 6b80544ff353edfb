/**
 * Image decode (the pipeline's `decodeImage`) and JPEG encode for `deno task align`.
 */
import type { FaceRecord, ImageRecord, ListRecord } from "../pipeline/records.ts";
import { decodeImage, loadSharp } from "../pipeline/decode/decode_image.ts";

/** Decodes a record's file or bytes to RGB HWC uint8; errors name the file. */
export async function decodeForAlign(rec: ListRecord): Promise<ImageRecord> {
  const src = rec.bytes ?? rec.path;
  if (src === undefined) throw new TypeError(`Cannot decode "${rec.key}": no path or bytes`);
  const img = await decodeImage(src, { name: rec.key });
  return { ...rec, pixels: img.pixels, width: img.width, height: img.height };
}

/** Encodes an aligned face as JPEG (libjpeg defaults: 4:2:0, as cv2.imwrite writes them). */
export async function encodeJpeg(face: FaceRecord, quality: number): Promise<Uint8Array> {
  const sharp = await loadSharp();
  const buf = await sharp(face.pixels, {
    raw: { width: face.width, height: face.height, channels: 3 },
  }).jpeg({ quality }).toBuffer();
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.length);
}
