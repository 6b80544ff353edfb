/**
 * One training image: decode, resize to `size` x `size`, optional horizontal flip, and normalize to
 * float32 `(x - 127.5) / 128` (the same as evaluation). Runs inside the decode workers, so the main
 * thread (where the trainer computes) only copies finished images into the batch.
 */
import { decodeImage } from "./decode_image.ts";

export interface TrainImageOptions {
  /** Output side. Required. */
  size: number;
  /** Mirror left-right. Default: false. */
  flip?: boolean;
  /** Name used in errors when the input is bytes. Default: `"<bytes>"`. */
  name?: string;
  /** The input path is a RecordIO `.rec`; use the record at this byte offset. Default: none. */
  recordOffset?: number;
}

/** [size, size, 3] float32 in [-1, 1]. */
export async function trainImage(
  input: string | Uint8Array,
  options: TrainImageOptions,
): Promise<Float32Array> {
  const s = options.size;
  const img = await decodeImage(input, {
    resize: s,
    name: options.name,
    recordOffset: options.recordOffset,
  });
  return normalizeRgb(img.pixels, s, s, options.flip ?? false);
}

/** uint8 [h, w, 3] -> float32 (x - 127.5) / 128, mirrored left-right when `flip`. */
export function normalizeRgb(src: Uint8Array, h: number, w: number, flip: boolean): Float32Array {
  const out = new Float32Array(h * w * 3);
  if (!flip) {
    for (let k = 0; k < out.length; k++) out[k] = (src[k] - 127.5) / 128;
    return out;
  }
  const row = w * 3;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const from = y * row + (w - 1 - x) * 3;
      const to = y * row + x * 3;
      out[to] = (src[from] - 127.5) / 128;
      out[to + 1] = (src[from + 1] - 127.5) / 128;
      out[to + 2] = (src[from + 2] - 127.5) / 128;
    }
  }
  return out;
}
