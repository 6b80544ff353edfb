/**
 * One training image from a file or encoded bytes: decode, then `networkInput` (./network_input.ts:
 * area resize to `size`, optional mirror, normalization). Runs inside the decode workers, so the
 * main thread (where the trainer computes) only copies finished images into the batch.
 */
import { type DctScale, decodeImage } from "./decode_image.ts";
import { networkInput, type NormalizeMode } from "./network_input.ts";
import type { ImageAugment } from "./augment.ts";

export interface TrainImageOptions {
  /** Output side. Required. */
  size: number;
  /** Mirror left-right. Default: false. */
  flip?: boolean;
  /** Pixel normalization. Default: "arcface". */
  normalize?: NormalizeMode;
  /** Random crop and tone of this image (./augment.ts). Default: none. */
  augment?: ImageAugment;
  /** JPEG shrink in the DCT domain first ("auto", `decodeImage`'s default) or not ("off"). */
  dctScale?: DctScale;
  /** Name used in errors when the input is bytes. Default: `"<bytes>"`. */
  name?: string;
  /** The input path is a RecordIO `.rec`; use the record at this byte offset. Default: none. */
  recordOffset?: number;
  /** Write into this buffer at `offset` (a batch slot) instead of a new one. Default: none. */
  out?: Float32Array;
  /** Float offset into `out`. Default: 0. */
  offset?: number;
}

/** [size, size, 3] float32 (arcface: in [-1, 1]); `out` itself when given. */
export async function trainImage(
  input: string | Uint8Array,
  options: TrainImageOptions,
): Promise<Float32Array> {
  // The one rule (./network_input.ts): decode at the DCT scale that covers `size`, then resize.
  const img = await decodeImage(input, {
    name: options.name,
    recordOffset: options.recordOffset,
    reduceTo: options.size,
    dctScale: options.dctScale,
  });
  return networkInput(img, {
    size: options.size,
    flip: options.flip ?? false,
    augment: options.augment,
    normalize: options.normalize,
    out: options.out,
    offset: options.offset,
  });
}
