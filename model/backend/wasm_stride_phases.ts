/**
 * Polyphase decomposition of a strided convolution's input gradient, shared by the wasm backend's
 * dense (`wasm_conv_grads.ts`) and depthwise (`wasm_depthwise_grads.ts`) input gradients.
 *
 * With stride s, output rows h = s*i + ph only meet the filter taps a = (ph + pt) mod s + s*t, so
 * each of the s*s phases (ph, pw) is a stride-1 correlation of dy with the sub-filter of those taps
 * (flipped), and the phases interleave into dx: the same FLOPs as the forward conv, where dilating
 * dy with zeros would cost s*s times as much. NHWC, float32.
 */
import type * as tf from "@tensorflow/tfjs-core";
import { cropForPads, free, heapF32, type WasmBackendLike } from "./wasm_kernel_util.ts";

type CropInfo = ReturnType<typeof cropForPads>;

/** Taps of one phase along one axis: source taps (flipped order), and the dy padding before. */
export function phaseTaps(k: number, s: number, pad: number, phase: number) {
  const a0 = (((phase + pad) % s) + s) % s;
  const t = a0 < k ? Math.ceil((k - a0) / s) : 0;
  const q = (phase + pad - a0) / s; // dy index of output row 0 for tap t = 0
  const taps: number[] = [];
  for (let u = 0; u < t; u++) taps.push(a0 + s * (t - 1 - u));
  return { taps, before: t - 1 - q };
}

/** The geometry `stridePhases` needs (as in tf.backend_util's Conv2DInfo). */
interface PhaseGeometry {
  filterHeight: number;
  filterWidth: number;
  strideHeight: number;
  strideWidth: number;
  padInfo: { top: number; left: number };
}

/**
 * The stride phases of an input gradient dx [N, h, w, C] from dy: for each phase (ph, pw), the
 * filter taps that reach it and dy cropped/padded so that `conv(crop, rowTaps, colTaps)` (a stride-1
 * convolution of those taps) gives [N, ceil(h/sh), ceil(w/sw), C]. Phases no tap reaches get
 * `out: null` (zero gradient). Shared by the dense and depthwise input gradients.
 */
export function stridePhases(
  backend: WasmBackendLike,
  dy: tf.TensorInfo,
  [h, w]: number[],
  g: PhaseGeometry,
  conv: (crop: CropInfo, rowTaps: number[], colTaps: number[]) => tf.TensorInfo,
): Phase[] {
  const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw } = g;
  const [, ho, wo] = dy.shape;
  // Every phase computes ceil(H/s) x ceil(W/s) rows/cols; extra ones are dropped when interleaving.
  const hc = Math.ceil(h / sh), wc = Math.ceil(w / sw);
  const phases: Phase[] = [];
  for (let ph = 0; ph < sh; ph++) {
    const rows = phaseTaps(kh, sh, g.padInfo.top, ph);
    for (let pw = 0; pw < sw; pw++) {
      const cols = phaseTaps(kw, sw, g.padInfo.left, pw);
      if (rows.taps.length === 0 || cols.taps.length === 0) {
        phases.push({ ph, pw, out: null }); // no tap reaches these pixels: zero gradient
        continue;
      }
      const top = rows.before, left = cols.before;
      const bottom = hc + rows.taps.length - 1 - top - ho;
      const right = wc + cols.taps.length - 1 - left - wo;
      const crop = cropForPads(backend, dy, [top, bottom, left, right]);
      const out = conv(crop, rows.taps, cols.taps);
      free(backend, crop.owned ? crop.x : null);
      phases.push({ ph, pw, out });
    }
  }
  return phases;
}

/** One stride phase of an input gradient: rows ph, ph+sh, ... and columns pw, pw+sw, ... */
export interface Phase {
  ph: number;
  pw: number;
  /** [N, ceil(h/sh), ceil(w/sw), C], or null where no filter tap reaches the phase (zeros). */
  out: tf.TensorInfo | null;
}

/**
 * Interleaves the stride phases of an input gradient into dx [N, h, w, C] (freeing them); with
 * stride 1 the single phase is dx itself. Shared by the dense and depthwise input gradients.
 */
export function interleavePhases(
  backend: WasmBackendLike,
  phases: Phase[],
  [n, h, w, c]: number[],
  [sh, sw]: number[],
): tf.TensorInfo {
  if (sh === 1 && sw === 1 && phases[0].out) return phases[0].out;
  const hc = Math.ceil(h / sh), wc = Math.ceil(w / sw);
  const dx = backend.makeOutput([n, h, w, c], "float32");
  const [heap, base] = heapF32(backend, dx);
  for (const { ph, pw, out } of phases) {
    const src = out ? heapF32(backend, out)[1] : -1;
    for (let m = 0; m < n; m++) {
      for (let i = 0, y = ph; y < h; i++, y += sh) {
        for (let j = 0, x = pw; x < w; j++, x += sw) {
          const d = base + ((m * h + y) * w + x) * c;
          if (src < 0) heap.fill(0, d, d + c);
          else {
            const s = src + ((m * hc + i) * wc + j) * c;
            heap.copyWithin(d, s, s + c);
          }
        }
      }
    }
    free(backend, out);
  }
  return dx;
}
