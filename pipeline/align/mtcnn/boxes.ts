/**
 * MTCNN box math on typed arrays, as in the original MATLAB code and facenet's `detect_face.py`
 * (Zhang et al., "Joint Face Detection and Alignment using Multi-task Cascaded Convolutional
 * Networks", 2016).
 *
 * A box set is a flat Float64Array of rows `[x1, y1, x2, y2, score, r1, r2, r3, r4]` (STRIDE 9):
 * corners in the original 1-based inclusive convention (pixel columns x1-1 .. x2-1), then the
 * score and the pending regression offsets (fractions of the box size).
 */

export const STRIDE = 9;

/** Number of rows in a box set. */
export function count(b: Float64Array): number {
  return b.length / STRIDE;
}

/** The rows `idx` of `b`, in that order. */
export function select(b: Float64Array, idx: ArrayLike<number>): Float64Array {
  const out = new Float64Array(idx.length * STRIDE);
  for (let i = 0; i < idx.length; i++) {
    out.set(b.subarray(idx[i] * STRIDE, idx[i] * STRIDE + STRIDE), i * STRIDE);
  }
  return out;
}

/** Concatenates box sets. */
export function concat(parts: Float64Array[]): Float64Array {
  const out = new Float64Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/**
 * Greedy non-maximum suppression by score; returns the kept row indices, best first.
 * "Union" divides the overlap by the union (IoU), "Min" by the smaller area (O-Net's last step).
 * `plusOne`: areas and overlaps use the inclusive +1 pixel convention of the original code
 * (torchvision's IoU, used by facenet-pytorch for "Union", does not).
 */
export function nms(
  b: Float64Array,
  threshold: number,
  method: "Union" | "Min",
  plusOne = true,
): number[] {
  const p = plusOne ? 1 : 0;
  const n = count(b);
  const order = Array.from({ length: n }, (_, i) => i);
  order.sort((i, j) => b[j * STRIDE + 4] - b[i * STRIDE + 4]);
  const area = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const o = i * STRIDE;
    area[i] = (b[o + 2] - b[o] + p) * (b[o + 3] - b[o + 1] + p);
  }
  const suppressed = new Uint8Array(n);
  const keep: number[] = [];
  for (let a = 0; a < n; a++) {
    const i = order[a];
    if (suppressed[i]) continue;
    keep.push(i);
    const oi = i * STRIDE;
    for (let c = a + 1; c < n; c++) {
      const j = order[c];
      if (suppressed[j]) continue;
      const oj = j * STRIDE;
      const w = Math.max(0, Math.min(b[oi + 2], b[oj + 2]) - Math.max(b[oi], b[oj]) + p);
      const h = Math.max(0, Math.min(b[oi + 3], b[oj + 3]) - Math.max(b[oi + 1], b[oj + 1]) + p);
      const inter = w * h;
      const o = method === "Min"
        ? inter / Math.min(area[i], area[j])
        : inter / (area[i] + area[j] - inter);
      if (o > threshold) suppressed[j] = 1;
    }
  }
  return keep;
}

/**
 * Applies the stored regression offsets in place. P-Net's step scales by `x2 - x1` (`plusOne`
 * false), R/O-Net's by `x2 - x1 + 1`, as the original code does.
 */
export function regress(b: Float64Array, plusOne: boolean): void {
  const p = plusOne ? 1 : 0;
  for (let o = 0; o < b.length; o += STRIDE) {
    const w = b[o + 2] - b[o] + p, h = b[o + 3] - b[o + 1] + p;
    b[o] += b[o + 5] * w;
    b[o + 1] += b[o + 6] * h;
    b[o + 2] += b[o + 7] * w;
    b[o + 3] += b[o + 8] * h;
  }
}

/** Makes every box square around its centre (side = the longer side), in place ("rerec"). */
export function square(b: Float64Array): void {
  for (let o = 0; o < b.length; o += STRIDE) {
    const w = b[o + 2] - b[o], h = b[o + 3] - b[o + 1];
    const l = Math.max(w, h);
    b[o] += w * 0.5 - l * 0.5;
    b[o + 1] += h * 0.5 - l * 0.5;
    b[o + 2] = b[o] + l;
    b[o + 3] = b[o + 1] + l;
  }
}

/** Truncates the corners toward zero, in place (`np.fix` before cropping). */
export function fix(b: Float64Array): void {
  for (let o = 0; o < b.length; o += STRIDE) {
    for (let k = 0; k < 4; k++) b[o + k] = Math.trunc(b[o + k]);
  }
}

/**
 * P-Net candidates from one scale's output: `out` is `[W', H', 6]` (transposed, as the input),
 * channels `[logit0, logit1, dx1, dy1, dx2, dy2]`. A cell (x, y) maps to the 12x12 window at
 * stride 2 of the scaled image: `[fix((2x + 1) / s), fix((2y + 1) / s), fix((2x + 12) / s), ...]`.
 */
export function pnetCandidates(
  out: Float32Array,
  outW: number,
  outH: number,
  scale: number,
  threshold: number,
): Float64Array {
  const rows: number[] = [];
  for (let x = 0; x < outW; x++) {
    for (let y = 0; y < outH; y++) {
      const o = (x * outH + y) * 6;
      const score = 1 / (1 + Math.exp(out[o] - out[o + 1])); // softmax over 2 logits
      if (score < threshold) continue;
      rows.push(
        Math.trunc((2 * x + 1) / scale),
        Math.trunc((2 * y + 1) / scale),
        Math.trunc((2 * x + 12) / scale),
        Math.trunc((2 * y + 12) / scale),
        score,
        out[o + 2],
        out[o + 3],
        out[o + 4],
        out[o + 5],
      );
    }
  }
  return new Float64Array(rows);
}
