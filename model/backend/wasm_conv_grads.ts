/**
 * Convolution gradients for the TF.js wasm backend, built on its XNNPACK `Conv2D`.
 *
 * tfjs-backend-wasm 4.22 has no `Conv2DBackpropFilter` (training falls over) and its
 * `Conv2DBackpropInput` is a scalar C++ loop. Both gradients become XNNPACK GEMMs / convolutions:
 *
 * - filter gradient dW[a, b, ci, co] = sum_{n,i,j} x[n, i*s + a - pt, j*s + b - pl, ci] dy[n,i,j,co]:
 *   the patches of x, laid out [kh*kw*Ci, N*Ho*Wo] ("im2col, transposed", one JS pass of row
 *   copies), times dy seen as [N*Ho*Wo, Co], as a 1x1 conv: one GEMM with a long inner dimension,
 *   whose result is already [kh, kw, Ci, Co]. (A conv of x^T with dy^T as the filter, dilated by
 *   the stride, gives the same numbers but runs XNNPACK with 4-channel taps, 3-4x slower.)
 * - input gradient, stride 1: a conv of dy padded by k-1-p with the filter flipped in space and its
 *   in/out channels swapped ([kh, kw, Co, Ci]);
 * - input gradient, stride s > 1: polyphase. Output rows h = s*i + ph only meet the filter taps
 *   a = (ph + pt) mod s + s*t, so each of the s*s phases is a stride-1 conv of dy with a sub-filter,
 *   and the phases interleave into dx (`wasm_stride_phases.ts`). Same FLOPs as the forward conv,
 *   where dilating dy with zeros would cost s*s times as much.
 *
 * NHWC, float32, dilations 1 (what tf.layers and IR-ResNet use); padding 'same', 'valid' or explicit.
 */
import * as tf from "@tensorflow/tfjs-core";
import {
  conv2dExplicit,
  free,
  heapF32,
  reshape,
  runWasm,
  slice,
  transpose,
  type WasmBackendLike,
} from "./wasm_kernel_util.ts";
import { interleavePhases, stridePhases } from "./wasm_stride_phases.ts";

type Pad = tf.backend_util.ExplicitPadding | "valid" | "same" | number;

interface ConvGradAttrs {
  strides: number | [number, number];
  pad: Pad;
  dataFormat?: "NHWC" | "NCHW";
  dimRoundingMode?: "floor" | "round" | "ceil";
}

function convInfo(xShape: number[], filterShape: number[], attrs: ConvGradAttrs, what: string) {
  if (attrs.dataFormat !== undefined && attrs.dataFormat !== "NHWC") {
    throw new Error(`arcstream's wasm ${what} supports only NHWC, got ${attrs.dataFormat}`);
  }
  return tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    attrs.strides,
    1,
    attrs.pad as "same",
    attrs.dimRoundingMode,
    false,
    "channelsLast",
  );
}

/**
 * Below this many floats a plain loop beats `copyWithin`/`fill`: each call of those builtins costs
 * ~0.2 us however short the row, and deep r50 stages copy millions of 7-28 float rows per step
 * (measured: a 14-float row copy is ~5x faster as a loop; from ~56 floats the builtin wins).
 */
const SHORT_ROW = 32;

/** heap[dst .. dst+len) = heap[src .. src+len) (non-overlapping). */
function copyRow(heap: Float32Array, dst: number, src: number, len: number): void {
  if (len > SHORT_ROW) heap.copyWithin(dst, src, src + len);
  else for (let j = 0; j < len; j++) heap[dst + j] = heap[src + j];
}

/** heap[dst .. dst+len) = 0. */
function zeroRow(heap: Float32Array, dst: number, len: number): void {
  if (len > SHORT_ROW) heap.fill(0, dst, dst + len);
  else for (let j = 0; j < len; j++) heap[dst + j] = 0;
}

/**
 * One patch plane [Ho, W] for a stride-1 tap: out[i, j] = plane[i + i0, j + shift], 0 outside the
 * image. The valid rows are one contiguous block of the source (same row pitch), so a single
 * copy moves them; columns j < j0 and j >= j1 took values from the neighbouring row and are zeroed.
 */
function copyShiftedPlane(
  heap: Float32Array,
  o: number,
  plane: number,
  g: { h: number; w: number; ho: number; i0: number; shift: number; j0: number; j1: number },
): void {
  const { h, w, ho, i0, shift, j0, j1 } = g;
  const r0 = Math.min(ho, Math.max(0, -i0)), r1 = Math.max(r0, Math.min(ho, h - i0));
  if (r0 > 0) heap.fill(0, o, o + r0 * w);
  if (r1 < ho) heap.fill(0, o + r1 * w, o + ho * w);
  if (r1 === r0) return;
  // Trim the ends so that the source stays inside the plane.
  const lead = Math.max(0, -shift), tail = Math.max(0, shift);
  const d0 = o + r0 * w + lead, d1 = o + r1 * w - tail;
  const s0 = plane + (r0 + i0) * w + shift + lead;
  if (d1 > d0) heap.copyWithin(d0, s0, s0 + (d1 - d0));
  for (let i = r0; i < r1; i++) {
    const row = o + i * w;
    for (let j = 0; j < j0; j++) heap[row + j] = 0;
    for (let j = j1; j < w; j++) heap[row + j] = 0;
  }
}

/**
 * Patches of xT [Ci, N, H, W] as [kh*kw*Ci, N*Ho*Wo]: row (a, b, ci), column (n, i, j) holds
 * x[n, i*sh + a - pt, j*sw + b - pl, ci], zero outside the image.
 */
function im2colT(
  backend: WasmBackendLike,
  xT: tf.TensorInfo,
  info: tf.backend_util.Conv2DInfo,
): tf.TensorInfo {
  const [ci, n, h, w] = xT.shape;
  const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw } = info;
  const { outHeight: ho, outWidth: wo } = info;
  const pt = info.padInfo.top, pl = info.padInfo.left;
  const out = backend.makeOutput([kh * kw * ci, n * ho * wo], "float32");
  const [heap, xs] = heapF32(backend, xT);
  let o = heapF32(backend, out)[1];
  for (let a = 0; a < kh; a++) {
    for (let b = 0; b < kw; b++) {
      // Columns j whose source column j*sw + b - pl lies inside the image: [j0, j1).
      const j0 = Math.min(wo, Math.max(0, Math.ceil((pl - b) / sw)));
      const j1 = Math.max(j0, Math.min(wo, Math.floor((w - 1 - b + pl) / sw) + 1));
      for (let c = 0; c < ci; c++) {
        for (let m = 0; m < n; m++) {
          const plane = xs + (c * n + m) * h * w;
          if (sw === 1 && wo === w) {
            // Stride 1, rows as wide as the image: the patch plane is the image shifted by
            // (a - pt, b - pl), so copy it as one block, then zero the wrapped border columns.
            copyShiftedPlane(heap, o, plane, { h, w, ho, i0: a - pt, shift: b - pl, j0, j1 });
            o += ho * wo;
            continue;
          }
          for (let i = 0; i < ho; i++, o += wo) {
            const hIn = i * sh + a - pt;
            if (hIn < 0 || hIn >= h) {
              zeroRow(heap, o, wo);
              continue;
            }
            const row = plane + hIn * w + b - pl;
            if (j0 > 0) zeroRow(heap, o, j0);
            if (sw === 1) copyRow(heap, o + j0, row + j0, j1 - j0);
            else for (let j = j0; j < j1; j++) heap[o + j] = heap[row + j * sw];
            if (j1 < wo) zeroRow(heap, o + j1, wo - j1);
          }
        }
      }
    }
  }
  return out;
}

/**
 * Output pixels (dy rows) per GEMM of the filter gradient. The GEMM's filter operand is dy, which
 * the wasm Conv2D transposes (HWIO -> OHWI) and XNNPACK packs anew on every call; for a whole
 * [8, 56, 56, 128] dy that setup ran out of cache and cost 2x the GEMM itself.
 */
export const FILTER_GRAD_ROWS = { value: 4096 };

/** dW [kh, kw, Ci, Co] from x [N, H, W, Ci] and dy [N, Ho, Wo, Co]: summed over image slices. */
export function conv2dBackpropFilterWasm(args: {
  inputs: { x: tf.TensorInfo; dy: tf.TensorInfo };
  backend: WasmBackendLike;
  attrs: ConvGradAttrs & { filterShape: [number, number, number, number] };
}): tf.TensorInfo {
  const { inputs: { x, dy }, backend, attrs } = args;
  const info = convInfo(x.shape, attrs.filterShape, attrs, "Conv2DBackpropFilter");
  const [n, h, w, ci] = x.shape;
  const [, ho, wo, co] = dy.shape;
  const per = Math.max(1, Math.floor(FILTER_GRAD_ROWS.value / Math.max(1, ho * wo)));
  if (per >= n) return filterGradGemm(backend, x, dy, info, attrs.filterShape);
  let sum: tf.TensorInfo | null = null;
  for (let n0 = 0; n0 < n; n0 += per) {
    const m = Math.min(per, n - n0);
    // Whole images: contiguous copies, and a slice's patches are its own.
    const xs = slice(backend, x, [n0, 0, 0, 0], [m, h, w, ci]);
    const dys = slice(backend, dy, [n0, 0, 0, 0], [m, ho, wo, co]);
    const part = filterGradGemm(backend, xs, dys, info, attrs.filterShape);
    free(backend, xs, dys);
    if (sum === null) sum = part;
    else {
      const next = runWasm("Add", backend, { a: sum, b: part });
      free(backend, sum, part);
      sum = next;
    }
  }
  return sum!;
}

/** One GEMM of the filter gradient over all of x [m, H, W, Ci] and dy [m, Ho, Wo, Co]. */
function filterGradGemm(
  backend: WasmBackendLike,
  x: tf.TensorInfo,
  dy: tf.TensorInfo,
  info: tf.backend_util.Conv2DInfo,
  [kh, kw, ci, co]: number[],
): tf.TensorInfo {
  const p = dy.shape[0] * dy.shape[1] * dy.shape[2];
  const xT = transpose(backend, x, [3, 0, 1, 2]); // [Ci, N, H, W]: rows of W pixels
  // A 1x1 stride-1 unpadded conv's patches are x itself: xT is already [Ci, P].
  const pointwise = kh === 1 && kw === 1 && info.strideHeight === 1 && info.strideWidth === 1 &&
    info.padInfo.top === 0 && info.padInfo.left === 0 && info.outHeight === x.shape[1] &&
    info.outWidth === x.shape[2];
  const cols = pointwise ? xT : im2colT(backend, xT, info); // [kh*kw*Ci, P]
  if (!pointwise) free(backend, xT);
  // GEMM [kh*kw*Ci, P] x [P, Co] as a 1x1 conv over a 1 x (kh*kw*Ci) "image" of P channels.
  const a = reshape(backend, cols, [1, 1, kh * kw * ci, p]);
  const b = reshape(backend, dy, [1, 1, p, co]);
  const g = conv2dExplicit(backend, a, b, [0, 0, 0, 0], [1, 1], [1, 1]);
  free(backend, cols, a, b);
  const out = reshape(backend, g, [kh, kw, ci, co]);
  free(backend, g);
  return out;
}

/**
 * The filter taps for a correlation with dy: out[u, v, co, ci] = W[rows[u], cols[v], ci, co]
 * (rows/cols list source taps). Block copies, then one transpose of the channel pair.
 */
function gatherSwapped(
  backend: WasmBackendLike,
  filter: tf.TensorInfo,
  rows: number[],
  cols: number[],
): tf.TensorInfo {
  const [, kw, ci, co] = filter.shape;
  const block = ci * co;
  const picked = backend.makeOutput([rows.length, cols.length, ci, co], "float32");
  const [heap, src] = heapF32(backend, filter);
  let o = heapF32(backend, picked)[1];
  for (const r of rows) {
    for (const c of cols) {
      const s = src + (r * kw + c) * block;
      heap.copyWithin(o, s, s + block);
      o += block;
    }
  }
  const out = transpose(backend, picked, [0, 1, 3, 2]);
  free(backend, picked);
  return out;
}

/** dx [N, H, W, Ci] from dy [N, Ho, Wo, Co] and the filter [kh, kw, Ci, Co]. */
export function conv2dBackpropInputWasm(args: {
  inputs: { dy: tf.TensorInfo; filter: tf.TensorInfo };
  backend: WasmBackendLike;
  attrs: ConvGradAttrs & { inputShape: [number, number, number, number] };
}): tf.TensorInfo {
  const { inputs: { dy, filter }, backend, attrs } = args;
  const info = convInfo(attrs.inputShape, filter.shape, attrs, "Conv2DBackpropInput");
  const [n, h, w, ci] = attrs.inputShape;
  const phases = stridePhases(backend, dy, [h, w], info, (crop, rowTaps, colTaps) => {
    const sub = gatherSwapped(backend, filter, rowTaps, colTaps); // [Th, Tw, Co, Ci]
    const out = conv2dExplicit(backend, crop.x, sub, crop.pad, [1, 1], [1, 1]); // [N,hc,wc,Ci]
    free(backend, sub);
    return out;
  });
  return interleavePhases(backend, phases, [n, h, w, ci], [info.strideHeight, info.strideWidth]);
}

export const conv2dBackpropFilterConfig: tf.KernelConfig = {
  kernelName: tf.Conv2DBackpropFilter,
  backendName: "wasm",
  kernelFunc: conv2dBackpropFilterWasm as unknown as tf.KernelFunc,
};

export const conv2dBackpropInputConfig: tf.KernelConfig = {
  kernelName: tf.Conv2DBackpropInput,
  backendName: "wasm",
  kernelFunc: conv2dBackpropInputWasm as unknown as tf.KernelFunc,
};
