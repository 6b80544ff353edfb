/**
 * Area resampling of image regions into MTCNN net inputs, on typed arrays.
 *
 * The reference implementations shrink the image pyramid and the R/O-Net crops with "area"
 * interpolation (OpenCV INTER_AREA in facenet's detect_face.py, `interpolate(mode="area")`, i.e.
 * adaptive average pooling, in facenet-pytorch), not bilinear: bilinear without antialiasing makes
 * noticeably different P-Net maps at small scales. One summed-area table per image makes every
 * output pixel an O(1) box sum, so the whole pyramid and all crops cost O(output pixels).
 *
 * Outputs are written the way the Caffe-layout weights want them: normalized
 * `(x - 127.5) * 0.0078125` and transposed height <-> width (`[W, H, 3]` per image).
 *
 * Not a second copy of pipeline/decode/resize.ts (the recognition network's resampler): that one
 * is OpenCV INTER_AREA with fractional bin edges on whole images; this one is PyTorch's adaptive
 * average pooling (integer bin edges `floor`/`ceil`) on crops that may leave the image, fused with
 * the detector's normalization and transpose, to match the reference detectors' arithmetic.
 */

import type { RgbImage } from "../../records.ts";
export type { RgbImage };

/** Summed-area table of an RGB image, `[(H + 1), (W + 1), 3]` float64 (exact for any size). */
export class IntegralImage {
  readonly width: number;
  readonly height: number;
  readonly sums: Float64Array;

  /** `bgr` swaps the channel order the nets see (face-api.js feeds BGR). */
  constructor(image: RgbImage, bgr = false) {
    const { pixels, width, height } = image;
    if (pixels.length !== width * height * 3) {
      throw new RangeError(
        `Cannot read image: ${pixels.length} bytes for ${width}x${height}x3 (expected ${
          width * height * 3
        })`,
      );
    }
    this.width = width;
    this.height = height;
    const stride = (width + 1) * 3;
    const s = new Float64Array((height + 1) * stride);
    const c0 = bgr ? 2 : 0;
    const c2 = bgr ? 0 : 2;
    for (let y = 0; y < height; y++) {
      let r = 0, g = 0, b = 0;
      const src = y * width * 3;
      const above = y * stride;
      const row = (y + 1) * stride;
      for (let x = 0; x < width; x++) {
        const p = src + x * 3;
        r += pixels[p + c0];
        g += pixels[p + 1];
        b += pixels[p + c2];
        const o = row + (x + 1) * 3;
        const a = above + (x + 1) * 3;
        s[o] = s[a] + r;
        s[o + 1] = s[a + 1] + g;
        s[o + 2] = s[a + 2] + b;
      }
    }
    this.sums = s;
  }

  /**
   * Area-resizes the region rows [y0, y0 + h) x cols [x0, x0 + w) (0-based; may cross the border,
   * outside pixels count as 0, as facenet's zero padding) to `outH x outW`, normalized and
   * transposed, into `out` at `offset` (`outW * outH * 3` floats, layout `[outW, outH, 3]`).
   * Bins follow adaptive average pooling: `[floor(i*h/outH), ceil((i+1)*h/outH))`.
   */
  cropTo(
    x0: number,
    y0: number,
    w: number,
    h: number,
    outW: number,
    outH: number,
    out: Float32Array,
    offset: number,
  ): void {
    const W = this.width, H = this.height, s = this.sums;
    const stride = (W + 1) * 3;
    // Per output column: clipped source column bounds and bin width.
    const cx0 = new Int32Array(outW), cx1 = new Int32Array(outW), bw = new Float64Array(outW);
    for (let j = 0; j < outW; j++) {
      const a = Math.floor((j * w) / outW), b = Math.ceil(((j + 1) * w) / outW);
      bw[j] = b - a;
      cx0[j] = Math.min(Math.max(x0 + a, 0), W);
      cx1[j] = Math.min(Math.max(x0 + b, 0), W);
    }
    for (let i = 0; i < outH; i++) {
      const a = Math.floor((i * h) / outH), b = Math.ceil(((i + 1) * h) / outH);
      const bh = b - a;
      const ya = Math.min(Math.max(y0 + a, 0), H) * stride;
      const yb = Math.min(Math.max(y0 + b, 0), H) * stride;
      for (let j = 0; j < outW; j++) {
        const xa = cx0[j] * 3, xb = cx1[j] * 3;
        const k = 0.0078125 / (bh * bw[j]);
        const o = offset + (j * outH + i) * 3;
        for (let c = 0; c < 3; c++) {
          const sum = s[yb + xb + c] - s[ya + xb + c] - s[yb + xa + c] + s[ya + xa + c];
          // (mean - 127.5) * 0.0078125; an empty (fully outside) bin is a zero pixel.
          out[o + c] = sum * k - 127.5 * 0.0078125;
        }
      }
    }
  }
}
