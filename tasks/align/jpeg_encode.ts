/** JPEG encode of aligned faces for `deno task align`. */
import type { FaceRecord } from "../../pipeline/records.ts";
import { loadSharp } from "../../pipeline/decode/decode_image.ts";

/** Encodes an aligned face as JPEG (libjpeg defaults: 4:2:0, as cv2.imwrite writes them). */
export async function encodeJpeg(face: FaceRecord, quality: number): Promise<Uint8Array> {
  const sharp = await loadSharp();
  const buf = await sharp(face.pixels, {
    raw: { width: face.width, height: face.height, channels: 3 },
  }).jpeg({ quality }).toBuffer();
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.length);
}
