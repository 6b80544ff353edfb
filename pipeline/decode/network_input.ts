/**
 * The one rule that turns an RGB image into a network input, on every path: training batches
 * (`DecodeBatchStream`, in the decode workers), the trainer's held-out check and `eval-lfw`
 * (`Embedder`, model/eval/embed_stream.ts):
 *
 *   file --decodeImage(reduceTo: S)--> uint8 [H, W, 3] --resizeRgb--> uint8 [S, S, 3]
 *        --normalize--> float32 [S, S, 3] (mirrored if asked)
 *
 * A training image may also be cropped before the resize and tone-mapped after it
 * (`augment`, ./augment.ts).
 *
 * A JPEG at least twice S is decoded at a reduced DCT scale that still covers S (250 -> 125 for
 * LFW at 112: half the decode work, what OpenCV's IMREAD_REDUCED_COLOR_2 does); faces already
 * near S (aligned 112 px crops) are decoded whole. Paths that decode a file for a network input
 * pass `reduceTo: S` (`trainImage`, `HeldoutPairs.load`, eval-lfw on aligned images).
 *
 * `resizeRgb` (./resize.ts) averages areas when shrinking (OpenCV INTER_AREA: no aliasing when the
 * 112 px faces become a 64 px input) and interpolates bilinearly with half-pixel centres when
 * enlarging. The resized image is rounded to uint8, as a training image always was, so one image
 * gives bit-identical inputs wherever it is prepared.
 */
import type { RgbImage } from "../records.ts";
import { resizeRgb } from "./resize.ts";
import { cropRgb, type ImageAugment, toneTable } from "./augment.ts";

/**
 * How uint8 pixels become model input: arcface (x-127.5)/128 (arcstream's training input), raw
 * 0-255, unit x/255, arcface_torch (x/255-0.5)/0.5 (insightface's PyTorch training input, used by
 * models imported from it).
 */
export type NormalizeMode = "arcface" | "raw" | "unit" | "arcface_torch";
export const NORMALIZE_MODES: readonly NormalizeMode[] = [
  "arcface",
  "raw",
  "unit",
  "arcface_torch",
];

/** insightface's pixel normalization (`(x - 127.5) / 128`): [0, 255] -> [-0.996, 0.996]. */
export function arcfaceNormalize(x: number): number {
  return (x - 127.5) / 128;
}

/** One pixel value under `mode`. */
export function normalizePixel(x: number, mode: NormalizeMode): number {
  if (mode === "arcface") return arcfaceNormalize(x);
  if (mode === "unit") return x / 255;
  if (mode === "raw") return x;
  if (mode === "arcface_torch") return (x / 255 - 0.5) / 0.5;
  throw new RangeError(`normalize must be one of ${NORMALIZE_MODES.join(", ")}: "${mode}"`);
}

const tables = new Map<NormalizeMode, Float32Array>();

/** The 256 float32 values of `mode` (a lookup table: one multiply-free load per channel). */
function table(mode: NormalizeMode): Float32Array {
  let t = tables.get(mode);
  if (!t) {
    t = Float32Array.from({ length: 256 }, (_, x) => normalizePixel(x, mode));
    tables.set(mode, t);
  }
  return t;
}

export interface NetworkInputOptions {
  /** Output side S (square). Required. */
  size: number;
  /** Pixel normalization of the model. Default: "arcface". */
  normalize?: NormalizeMode;
  /** Mirror left-right (training augmentation, the flip test). Default: false. */
  flip?: boolean;
  /** Training augmentation of this image (./augment.ts). Default: none. */
  augment?: ImageAugment;
  /** Write into this buffer at `offset` (S * S * 3 floats) instead of a new one. Default: none. */
  out?: Float32Array;
  /** Float offset into `out`. Default: 0. */
  offset?: number;
}

/**
 * `image` as a network input: float32 [S, S, 3], resized and normalized by the one rule above.
 * @example
 * ```ts
 * import { decodeImage, networkInput } from "../mod.ts";
 *
 * const img = await decodeImage("fixtures/pipeline/images/Adrien_Brody/Adrien_Brody_0001.jpg");
 * const x = networkInput(img, { size: 112, normalize: "arcface" }); // float32 [112, 112, 3]
 * console.log(x.length, Math.min(...x), Math.max(...x)); // 37632, in [-1, 1]
 * ```
 */
export function networkInput(image: RgbImage, options: NetworkInputOptions): Float32Array {
  const s = options.size;
  const aug = options.augment;
  if (!Number.isInteger(s) || s < 1) {
    throw new RangeError(`size must be a positive integer, got ${s}`);
  }
  if (image.pixels.length !== image.height * image.width * 3) {
    const { pixels, height, width } = image;
    throw new RangeError(`Cannot use image: ${pixels.length} bytes is not ${height}x${width}x3`);
  }
  const { pixels, height: h, width: w } = aug?.crop ? cropRgb(image, aug.crop) : image;
  const base = table(options.normalize ?? "arcface");
  const lut = aug?.tone ? toneTable(base, aug.tone) : base;
  const src = resizeRgb(pixels, h, w, s, s); // [S, S, 3] uint8
  const n = s * s * 3;
  const offset = options.offset ?? 0;
  const out = options.out ?? new Float32Array(n);
  if (offset < 0 || offset + n > out.length) {
    throw new RangeError(`Cannot write ${n} floats at ${offset} into a buffer of ${out.length}`);
  }
  if (!options.flip) {
    for (let k = 0; k < n; k++) out[offset + k] = lut[src[k]];
    return out;
  }
  const row = s * 3;
  for (let y = 0; y < s; y++) {
    for (let x = 0; x < s; x++) {
      const from = y * row + (s - 1 - x) * 3;
      const to = offset + y * row + x * 3;
      out[to] = lut[src[from]];
      out[to + 1] = lut[src[from + 1]];
      out[to + 2] = lut[src[from + 2]];
    }
  }
  return out;
}
