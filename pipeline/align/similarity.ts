/**
 * Face alignment as in ArcFace (Deng et al., "ArcFace: Additive Angular Margin Loss for Deep Face
 * Recognition", CVPR 2019, arXiv 1801.07698) and insightface: a similarity transform (rotation +
 * uniform scale + translation) fitted by least squares (Umeyama, "Least-squares estimation of
 * transformation parameters between two point patterns", TPAMI 1991) from the 5 MTCNN landmarks
 * onto the 112x112 template, then a bilinear warp with border value 0 (cv2.warpAffine's rule).
 */

/**
 * The side of an ArcFace face crop: the template below is defined on a 112x112 square, and the
 * paper's nets (and insightface's data) take 112x112 RGB faces.
 */
export const ARCFACE_SIZE = 112;

/** insightface's `arcface_dst`: left eye, right eye, nose, left and right mouth corner (112x112). */
export const ARCFACE_TEMPLATE_112: readonly (readonly [number, number])[] = [
  [38.2946, 51.6963],
  [73.5318, 51.5014],
  [56.0252, 71.7366],
  [41.5493, 92.3655],
  [70.7299, 92.2041],
];

/**
 * A 2-D similarity `x' = a*x - b*y + tx, y' = b*x + a*y + ty`, i.e. scale `hypot(a, b)` and
 * rotation `atan2(b, a)`.
 */
export interface Similarity {
  a: number;
  b: number;
  tx: number;
  ty: number;
}

/**
 * The template for a `size x size` crop (scaled from 112).
 * @example
 * ```ts
 * import { arcfaceTemplate } from "../mod.ts";
 *
 * console.log(arcfaceTemplate(224)); // the five 112 x 112 landmarks, scaled by 2
 * ```
 */
export function arcfaceTemplate(size = ARCFACE_SIZE): [number, number][] {
  const k = size / ARCFACE_SIZE;
  return ARCFACE_TEMPLATE_112.map(([x, y]) => [x * k, y * k]);
}

/**
 * Least-squares similarity mapping `src[i]` onto `dst[i]`. In 2-D, Umeyama's solution with the
 * reflection guard is the least-squares fit over matrices `[[a, -b], [b, a]]`, which has this
 * closed form on the centred points.
 */
export function estimateSimilarity(
  src: readonly (readonly [number, number])[],
  dst: readonly (readonly [number, number])[],
): Similarity {
  const n = src.length;
  if (n < 2 || dst.length !== n) {
    throw new RangeError(`estimateSimilarity needs >= 2 point pairs, got ${n} and ${dst.length}`);
  }
  let sx = 0, sy = 0, dx = 0, dy = 0;
  for (let i = 0; i < n; i++) {
    if (![src[i][0], src[i][1], dst[i][0], dst[i][1]].every(Number.isFinite)) {
      throw new RangeError(`estimateSimilarity: point ${i} is not finite`);
    }
    sx += src[i][0], sy += src[i][1], dx += dst[i][0], dy += dst[i][1];
  }
  sx /= n, sy /= n, dx /= n, dy /= n;
  let num_a = 0, num_b = 0, den = 0;
  for (let i = 0; i < n; i++) {
    const x = src[i][0] - sx, y = src[i][1] - sy;
    const u = dst[i][0] - dx, v = dst[i][1] - dy;
    num_a += x * u + y * v;
    num_b += x * v - y * u;
    den += x * x + y * y;
  }
  if (!(den > 0)) throw new RangeError("estimateSimilarity: the source points all coincide");
  const a = num_a / den, b = num_b / den;
  return { a, b, tx: dx - (a * sx - b * sy), ty: dy - (b * sx + a * sy) };
}

/** Applies `m` to a point. */
export function applySimilarity(
  m: Similarity,
  [x, y]: readonly [number, number],
): [number, number] {
  return [m.a * x - m.b * y + m.tx, m.b * x + m.a * y + m.ty];
}

/**
 * Warps an HWC uint8 image (`channels` per pixel) into a `size x size` crop: output pixel (u, v)
 * samples the source at `m^-1(u, v)` bilinearly; neighbours outside the source count as 0.
 */
export function warpSimilarity(
  pixels: Uint8Array,
  width: number,
  height: number,
  m: Similarity,
  size: number,
  channels = 3,
): Uint8Array {
  const det = m.a * m.a + m.b * m.b;
  if (!(det > 0)) throw new RangeError("warpSimilarity: degenerate transform");
  // Inverse of [[a, -b], [b, a]] is [[a, b], [-b, a]] / det.
  const ia = m.a / det, ib = m.b / det;
  const out = new Uint8Array(size * size * channels);
  for (let v = 0; v < size; v++) {
    for (let u = 0; u < size; u++) {
      const px = u - m.tx, py = v - m.ty;
      const x = ia * px + ib * py, y = -ib * px + ia * py;
      const x0 = Math.floor(x), y0 = Math.floor(y);
      const fx = x - x0, fy = y - y0;
      const o = (v * size + u) * channels;
      if (x0 < -1 || y0 < -1 || x0 >= width || y0 >= height) continue;
      const w00 = (1 - fx) * (1 - fy), w01 = fx * (1 - fy), w10 = (1 - fx) * fy, w11 = fx * fy;
      const in0 = y0 >= 0, in1 = y0 + 1 < height, inL = x0 >= 0, inR = x0 + 1 < width;
      const r0 = y0 * width, r1 = (y0 + 1) * width;
      for (let c = 0; c < channels; c++) {
        let s = 0;
        if (in0 && inL) s += w00 * pixels[(r0 + x0) * channels + c];
        if (in0 && inR) s += w01 * pixels[(r0 + x0 + 1) * channels + c];
        if (in1 && inL) s += w10 * pixels[(r1 + x0) * channels + c];
        if (in1 && inR) s += w11 * pixels[(r1 + x0 + 1) * channels + c];
        out[o + c] = Math.round(s); // Uint8Array clamps to [0, 255]
      }
    }
  }
  return out;
}

/**
 * Aligns a face: fits landmarks -> template and warps to `size x size` RGB. Returns the crop and
 * the transform (source -> crop pixels).
 * @example
 * ```ts
 * import { alignFace, decodeImage, MtcnnDetector } from "../mod.ts";
 *
 * const image = await decodeImage("fixtures/pipeline/images/Adrien_Brody/Adrien_Brody_0001.jpg");
 * const detector = await MtcnnDetector.create();
 * const [face] = detector.detect(image);
 * detector.dispose();
 * const { pixels, transform } = alignFace(image, face.landmarks, 112); // [112, 112, 3] uint8
 * console.log(pixels.length, transform);
 * ```
 */
export function alignFace(
  image: { pixels: Uint8Array; width: number; height: number },
  landmarks: readonly (readonly [number, number])[],
  size = ARCFACE_SIZE,
): { pixels: Uint8Array; transform: Similarity } {
  if (landmarks.length !== 5) {
    throw new RangeError(`alignFace needs 5 landmarks, got ${landmarks.length}`);
  }
  const transform = estimateSimilarity(landmarks, arcfaceTemplate(size));
  return {
    pixels: warpSimilarity(image.pixels, image.width, image.height, transform, size),
    transform,
  };
}
