/**
 * Training augmentation beyond the flip: a random crop (scale and position jitter of the face in
 * its frame) and a random tone change (contrast and brightness), drawn per image from (seed, step)
 * like the flips, so a resumed run and `deno task train-order`'s export see the same draws.
 *
 * Where they act in the one network-input rule (./network_input.ts):
 *
 *   uint8 [H, W, 3] --crop--> uint8 [h, w, 3] --resizeRgb--> uint8 [S, S, 3]
 *        --tone--> uint8 [S, S, 3] --mirror, normalize--> float32 [S, S, 3]
 *
 * Every step is integer or rounds to uint8 with `Math.floor(x + 0.5)`, so another implementation
 * (scripts/torch_run_data.py, numpy) reproduces the inputs bit for bit from the exported draws.
 */
import { deriveSeed, Prng, SEED_SALT } from "../shuffle/prng.ts";
import type { RgbImage } from "../records.ts";

/** The augmentation of a training run (absent or zero fields: none). */
export interface AugmentOptions {
  /**
   * Random crop: a box of side fraction `f` uniform in [cropScale, 1] of the image's height and
   * width, at a uniform position, resized to the input side. 1 = no crop.
   * @default 1
   */
  cropScale?: number;
  /**
   * Random tone: each pixel v becomes `gain * (v - 128) + 128 + 128 * shift`, gain uniform in
   * [1 - jitter, 1 + jitter] (contrast), shift uniform in [-jitter, jitter] (brightness). 0 = none.
   * @default 0
   */
  jitter?: number;
}

/** One image's draws: crop `[f, u, v]` (side fraction, x and y position in [0, 1)), tone `[gain, shift]`. */
export interface ImageAugment {
  crop?: [number, number, number];
  tone?: [number, number];
}

/** `options` with its defaults filled in; a RangeError names a bad field. */
function resolveAugment(options: AugmentOptions | undefined): Required<AugmentOptions> {
  const cropScale = options?.cropScale ?? 1;
  const jitter = options?.jitter ?? 0;
  if (!(cropScale > 0 && cropScale <= 1)) {
    throw new RangeError(`cropScale must be in (0, 1], got ${cropScale}`);
  }
  if (!(jitter >= 0 && jitter < 1)) {
    throw new RangeError(`jitter must be in [0, 1), got ${jitter}`);
  }
  return { cropScale, jitter };
}

/** Throws a RangeError naming the bad field; returns whether anything is on. */
export function checkAugment(options: AugmentOptions | undefined): boolean {
  const { cropScale, jitter } = resolveAugment(options);
  return cropScale < 1 || jitter > 0;
}

/**
 * The augmentations of batch `step` (of `n` images), drawn from (seed, step): for each image in
 * order, the crop's f, u, v (when cropScale < 1), then the tone's gain, shift (when jitter > 0).
 * @example
 * ```ts
 * import { batchAugments } from "../mod.ts";
 *
 * const a = batchAugments(0, 12, 64, { cropScale: 0.8, jitter: 0.2 });
 * console.log(a[0].crop, a[0].tone); // [f in [0.8, 1], u, v], [gain in [0.8, 1.2], shift]
 * ```
 */
export function batchAugments(
  seed: number,
  step: number,
  n: number,
  options: AugmentOptions | undefined,
): ImageAugment[] {
  const { cropScale: crop, jitter } = resolveAugment(options);
  if (crop === 1 && jitter === 0) return Array.from({ length: n }, () => ({}));
  const rng = new Prng(deriveSeed(seed, step, SEED_SALT.augment));
  return Array.from({ length: n }, () => {
    const a: ImageAugment = {};
    if (crop < 1) {
      a.crop = [crop + (1 - crop) * rng.nextFloat(), rng.nextFloat(), rng.nextFloat()];
    }
    if (jitter > 0) {
      a.tone = [1 + jitter * (2 * rng.nextFloat() - 1), jitter * (2 * rng.nextFloat() - 1)];
    }
    return a;
  });
}

/** A box's side and start on one axis of length `n`: side max(1, round(f * n)), start in [0, n - side]. */
function span(n: number, f: number, u: number): [number, number] {
  const side = Math.min(n, Math.max(1, Math.floor(f * n + 0.5)));
  return [side, Math.min(n - side, Math.floor(u * (n - side + 1)))];
}

/** `image` cropped to the box of `crop` ([f, u, v]); a copy, uint8 [h, w, 3]. */
export function cropRgb(image: RgbImage, crop: [number, number, number]): RgbImage {
  const [f, u, v] = crop;
  const [w, x0] = span(image.width, f, u);
  const [h, y0] = span(image.height, f, v);
  const pixels = new Uint8Array(h * w * 3);
  const row = image.width * 3;
  for (let y = 0; y < h; y++) {
    const from = (y0 + y) * row + x0 * 3;
    pixels.set(image.pixels.subarray(from, from + w * 3), y * w * 3);
  }
  return { pixels, height: h, width: w };
}

/** `lut` (256 normalized values) behind the tone map: entry v is lut[tone(v)]. */
export function toneTable(lut: Float32Array, tone: [number, number]): Float32Array {
  const [gain, shift] = tone;
  return Float32Array.from({ length: 256 }, (_, v) => {
    const t = Math.floor(gain * (v - 128) + 128 + 128 * shift + 0.5);
    return lut[Math.min(255, Math.max(0, t))];
  });
}
