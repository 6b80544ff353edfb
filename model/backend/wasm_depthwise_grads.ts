/**
 * Depthwise-convolution gradients for the TF.js wasm backend (tfjs-backend-wasm 4.22 registers
 * neither, so MobileFaceNet cannot train on it without them).
 *
 * Filter [kh, kw, C, M] (M = channel multiplier); y[n, i, j, c*M + m] =
 * sum_{a,b} x[n, i*s + a - pt, j*s + b - pl, c] * f[a, b, c, m].
 *
 * - input gradient: per dy channel c*M + m, a correlation with the flipped filter tap list, run by
 *   the wasm backend's XNNPACK `DepthwiseConv2dNative` (multiplier 1 over C*M channels), then the M
 *   maps of each input channel summed (one innermost-axis `Sum`). Stride s > 1 is split into s*s
 *   phases exactly as the dense input gradient does (`wasm_stride_phases.ts`): each
 *   phase is a stride-1 depthwise conv with a sub-filter, interleaved into dx.
 * - filter gradient: dW[a, b, c, m] = sum_{n,i,j} x[n, i*s + a - pt, j*s + b - pl, c] *
 *   dy[n, i, j, c*M + m], a reduction to k*k*C*M numbers with no reuse to exploit (memory-bound),
 *   so one JavaScript pass over views of the wasm heap, accumulating in float64: per output row and
 *   tap, four channels at a time in local variables (a float64-array update per pixel and channel
 *   made it ~2x slower).
 *
 * NHWC, float32, dilations 1; padding 'same', 'valid' or explicit.
 */
import * as tf from "@tensorflow/tfjs-core";
import { interleavePhases, stridePhases } from "./wasm_stride_phases.ts";
import { free, heapF32, reshape, runWasm, type WasmBackendLike } from "./wasm_kernel_util.ts";

type Pad = tf.backend_util.ExplicitPadding | "valid" | "same" | number;

interface DepthwiseGradAttrs {
  strides: number | [number, number];
  pad: Pad;
  dilations?: number | [number, number];
  dimRoundingMode?: "floor" | "round" | "ceil";
}

function depthwiseInfo(xShape: number[], filterShape: number[], attrs: DepthwiseGradAttrs) {
  const d = attrs.dilations ?? 1;
  if ((Array.isArray(d) ? d : [d, d]).some((v) => v !== 1)) {
    throw new Error(`arcstream's wasm depthwise gradients support only dilation 1, got ${d}`);
  }
  return tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    attrs.strides,
    1,
    attrs.pad as "same",
    attrs.dimRoundingMode,
    true,
    "channelsLast",
  );
}

/** dW [kh, kw, C, M] from x [N, H, W, C] and dy [N, Ho, Wo, C*M]. */
export function depthwiseBackpropFilterWasm(args: {
  inputs: { x: tf.TensorInfo; dy: tf.TensorInfo };
  backend: WasmBackendLike;
  attrs: DepthwiseGradAttrs & { filterShape: [number, number, number, number] };
}): tf.TensorInfo {
  const { inputs: { x, dy }, backend, attrs } = args;
  const info = depthwiseInfo(x.shape, attrs.filterShape, attrs);
  const [kh, kw, c, m] = attrs.filterShape;
  const [n, h, w] = x.shape;
  const { outHeight: ho, outWidth: wo, strideHeight: sh, strideWidth: sw } = info;
  const pt = info.padInfo.top, pl = info.padInfo.left;
  const cm = c * m;
  const acc = new Float64Array(kh * kw * cm);
  const [heap, xs] = heapF32(backend, x);
  const dys = heapF32(backend, dy)[1];
  // x channel of each output channel o = k*m + q, as an offset into an x pixel.
  const xc = Int32Array.from({ length: cm }, (_, o) => Math.floor(o / m));
  const g = { heap, acc, xc, c, cm, sw, pl, w, wo, kw };
  for (let b0 = 0; b0 < n; b0++) {
    for (let i = 0; i < ho; i++) {
      const dyRow = dys + (b0 * ho + i) * wo * cm;
      for (let a = 0; a < kh; a++) {
        const hIn = i * sh + a - pt;
        if (hIn < 0 || hIn >= h) continue;
        filterGradRow(g, xs + (b0 * h + hIn) * w * c, dyRow, a);
      }
    }
  }
  const out = backend.makeOutput([kh, kw, c, m], "float32");
  const [outHeap, o] = heapF32(backend, out);
  outHeap.set(acc, o);
  return out;
}

/**
 * One output row's contribution to the taps of filter row `a`: acc[a, b, o] += sum over the row's
 * columns j of x[j*sw + b - pl, o / m] * dy[j, o]. Four output channels at a time, summed over j in
 * local (register) accumulators, so acc is touched once per row rather than once per pixel.
 */
function filterGradRow(
  g: {
    heap: Float32Array;
    acc: Float64Array;
    xc: Int32Array;
    c: number;
    cm: number;
    sw: number;
    pl: number;
    w: number;
    wo: number;
    kw: number;
  },
  xRow: number,
  dyRow: number,
  a: number,
): void {
  const { heap, acc, xc, c, cm, sw, pl, w, wo, kw } = g;
  for (let b = 0; b < kw; b++) {
    // Columns j whose input column j*sw + b - pl lies inside the image: [j0, j1).
    const j0 = Math.min(wo, Math.max(0, Math.ceil((pl - b) / sw)));
    const j1 = Math.max(j0, Math.min(wo, Math.floor((w - 1 - b + pl) / sw) + 1));
    if (j1 === j0) continue;
    const ao = (a * kw + b) * cm;
    const xStep = sw * c, x0 = xRow + (j0 * sw + b - pl) * c, d0 = dyRow + j0 * cm;
    let o = 0;
    for (; o + 4 <= cm; o += 4) {
      const x1 = x0 + xc[o], x2 = x0 + xc[o + 1], x3 = x0 + xc[o + 2], x4 = x0 + xc[o + 3];
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      for (let j = 0, xo = 0, d = d0 + o; j < j1 - j0; j++, xo += xStep, d += cm) {
        s0 += heap[x1 + xo] * heap[d];
        s1 += heap[x2 + xo] * heap[d + 1];
        s2 += heap[x3 + xo] * heap[d + 2];
        s3 += heap[x4 + xo] * heap[d + 3];
      }
      acc[ao + o] += s0;
      acc[ao + o + 1] += s1;
      acc[ao + o + 2] += s2;
      acc[ao + o + 3] += s3;
    }
    for (; o < cm; o++) {
      let s0 = 0;
      for (let j = 0, xo = x0 + xc[o], d = d0 + o; j < j1 - j0; j++, xo += xStep, d += cm) {
        s0 += heap[xo] * heap[d];
      }
      acc[ao + o] += s0;
    }
  }
}

/** Taps `rows` x `cols` of a [kh, kw, CM, 1] filter as a new [rows, cols, CM, 1] filter. */
function gatherTaps(
  backend: WasmBackendLike,
  filter: tf.TensorInfo,
  rows: number[],
  cols: number[],
): tf.TensorInfo {
  const [, kw, cm] = filter.shape;
  const picked = backend.makeOutput([rows.length, cols.length, cm, 1], "float32");
  const [heap, src] = heapF32(backend, filter);
  let o = heapF32(backend, picked)[1];
  for (const r of rows) {
    for (const col of cols) {
      const s = src + (r * kw + col) * cm;
      heap.copyWithin(o, s, s + cm);
      o += cm;
    }
  }
  return picked;
}

/** Sums each input channel's M maps: z [N, h, w, C*M] -> [N, h, w, C] (z is freed). */
function sumMultiplier(backend: WasmBackendLike, z: tf.TensorInfo, m: number): tf.TensorInfo {
  if (m === 1) return z;
  const [n, h, w, cm] = z.shape;
  const flat = reshape(backend, z, [n * h * w * (cm / m), m]);
  const summed = runWasm("Sum", backend, { x: flat }, { axis: [1], keepDims: false });
  const out = reshape(backend, summed, [n, h, w, cm / m]);
  free(backend, z, flat, summed);
  return out;
}

/** dx [N, H, W, C] from dy [N, Ho, Wo, C*M] and the filter [kh, kw, C, M]. */
export function depthwiseBackpropInputWasm(args: {
  inputs: { dy: tf.TensorInfo; filter: tf.TensorInfo };
  backend: WasmBackendLike;
  attrs: DepthwiseGradAttrs & { inputShape: [number, number, number, number] };
}): tf.TensorInfo {
  const { inputs: { dy, filter }, backend, attrs } = args;
  const info = depthwiseInfo(attrs.inputShape, filter.shape, attrs);
  const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw } = info;
  const [n, h, w, c] = attrs.inputShape;
  const cm = dy.shape[3];
  const m = cm / c;
  const flat = reshape(backend, filter, [kh, kw, cm, 1]);
  const phases = stridePhases(backend, dy, [h, w], info, (crop, rowTaps, colTaps) => {
    const sub = gatherTaps(backend, flat, rowTaps, colTaps); // [Th, Tw, C*M, 1]
    const [t, bt, l, r] = crop.pad;
    const z = runWasm("DepthwiseConv2dNative", backend, { x: crop.x, filter: sub }, {
      strides: [1, 1],
      dilations: [1, 1],
      pad: [[0, 0], [t, bt], [l, r], [0, 0]],
      dimRoundingMode: undefined,
    }); // [N, hc, wc, C*M]
    free(backend, sub);
    return sumMultiplier(backend, z, m);
  });
  free(backend, flat);
  return interleavePhases(backend, phases, [n, h, w, c], [sh, sw]);
}

export const depthwiseBackpropFilterConfig: tf.KernelConfig = {
  kernelName: tf.DepthwiseConv2dNativeBackpropFilter,
  backendName: "wasm",
  kernelFunc: depthwiseBackpropFilterWasm as unknown as tf.KernelFunc,
};

export const depthwiseBackpropInputConfig: tf.KernelConfig = {
  kernelName: tf.DepthwiseConv2dNativeBackpropInput,
  backendName: "wasm",
  kernelFunc: depthwiseBackpropInputWasm as unknown as tf.KernelFunc,
};
