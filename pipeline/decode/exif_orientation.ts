/**
 * EXIF orientation of a JPEG, applied as OpenCV 4.x's `imread` applies it by default (without
 * `IMREAD_IGNORE_ORIENTATION`; `ApplyExifOrientation` in imgcodecs/src/loadsave.cpp): the pixels
 * come out upright, the tag itself is not kept. PIL's `ImageOps.exif_transpose` gives the same.
 * Only the JPEG APP1 "Exif" segment is read (tag 0x0112 of IFD0); other formats are returned as is.
 */
import type { RgbImage } from "../records.ts";

/** The EXIF orientation (1-8) of JPEG `bytes`; 1 (upright) when there is none or it is invalid. */
export function exifOrientation(bytes: Uint8Array): number {
  if (bytes[0] !== 0xff || bytes[1] !== 0xd8) return 1;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let p = 2;
  // Walk the marker segments up to the first scan (SOS, 0xda): APP1 sits before it.
  while (p + 4 <= bytes.length && bytes[p] === 0xff) {
    const marker = bytes[p + 1];
    if (marker === 0xd8 || (marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) {
      p += 2;
      continue;
    }
    if (marker === 0xff) {
      p += 1; // fill byte
      continue;
    }
    if (marker === 0xda || marker === 0xd9) break;
    const length = view.getUint16(p + 2);
    if (marker === 0xe1 && length >= 16 && isExifHeader(bytes, p + 4)) {
      const o = tiffOrientation(view, p + 10, p + 2 + length);
      if (o !== 0) return o;
    }
    p += 2 + length;
  }
  return 1;
}

function isExifHeader(b: Uint8Array, p: number): boolean {
  // "Exif\0\0"
  return b[p] === 0x45 && b[p + 1] === 0x78 && b[p + 2] === 0x69 && b[p + 3] === 0x66 &&
    b[p + 4] === 0 && b[p + 5] === 0;
}

/** Orientation from the TIFF header at `t` (segment ends at `end`); 0 when absent. */
function tiffOrientation(view: DataView, t: number, end: number): number {
  if (t + 8 > end) return 0;
  const order = view.getUint16(t);
  if (order !== 0x4949 && order !== 0x4d4d) return 0; // "II" little, "MM" big endian
  const le = order === 0x4949;
  if (view.getUint16(t + 2, le) !== 42) return 0;
  const ifd = t + view.getUint32(t + 4, le);
  if (ifd + 2 > end) return 0;
  const n = view.getUint16(ifd, le);
  for (let i = 0; i < n; i++) {
    const e = ifd + 2 + 12 * i;
    if (e + 12 > end) return 0;
    if (view.getUint16(e, le) !== 0x0112) continue;
    // Type SHORT (3), count 1: the value sits in the first 2 bytes of the value field.
    const v = view.getUint16(e + 8, le);
    return v >= 1 && v <= 8 ? v : 0;
  }
  return 0;
}

/** Whether orientation `o` swaps height and width (5-8: a transpose is part of it). */
export function swapsSides(o: number): boolean {
  return o >= 5 && o <= 8;
}

/**
 * `img` turned upright for EXIF orientation `o`: 2 mirror, 3 rotate 180, 4 flip vertically,
 * 5 transpose, 6 rotate 90 clockwise, 7 transverse, 8 rotate 90 counter-clockwise
 * (OpenCV: flip / transpose + flip, the same pixels).
 */
export function applyOrientation(img: RgbImage, o: number): RgbImage {
  if (o <= 1 || o > 8) return img;
  const { pixels: src, height: h, width: w } = img;
  const swap = swapsSides(o);
  const oh = swap ? w : h;
  const ow = swap ? h : w;
  const out = new Uint8Array(src.length);
  for (let y = 0; y < oh; y++) {
    for (let x = 0; x < ow; x++) {
      // Source row sy, column sx of output (y, x).
      let sy: number, sx: number;
      if (o === 2) [sy, sx] = [y, w - 1 - x];
      else if (o === 3) [sy, sx] = [h - 1 - y, w - 1 - x];
      else if (o === 4) [sy, sx] = [h - 1 - y, x];
      else if (o === 5) [sy, sx] = [x, y];
      else if (o === 6) [sy, sx] = [h - 1 - x, y];
      else if (o === 7) [sy, sx] = [h - 1 - x, w - 1 - y];
      else [sy, sx] = [x, w - 1 - y];
      const s = (sy * w + sx) * 3;
      const d = (y * ow + x) * 3;
      out[d] = src[s];
      out[d + 1] = src[s + 1];
      out[d + 2] = src[s + 2];
    }
  }
  return { pixels: out, height: oh, width: ow };
}
