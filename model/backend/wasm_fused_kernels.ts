/**
 * Memory-bound kernels for the TF.js wasm backend written as single JavaScript passes over the
 * wasm heap, where tfjs-backend-wasm 4.22 is slow (profile of an IR-ResNet training step, batch 4,
 * [4, 112, 112, 64] tensors): `Tile` to a full tensor 540 ms, `Sum`/`Mean` over the leading
 * (batch and spatial) axes 35-45 ms (it transposes first), `FusedBatchNorm` 25 ms, a batch-norm or
 * PReLU gradient 8-10 full-size passes. Each kernel here takes the common NHWC shapes and hands
 * anything else to the kernel it replaces.
 *
 * Views on the heap are taken after every output is allocated: an allocation can grow (and so
 * move) the heap.
 */
import * as tf from "@tensorflow/tfjs-core";
import { free, heapF32, runWasm, type WasmBackendLike } from "./wasm_kernel_util.ts";

type KernelArgs = {
  inputs: Record<string, tf.TensorInfo | null | undefined>;
  backend: WasmBackendLike;
  attrs: Record<string, unknown>;
};

const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);
const f32 = (b: WasmBackendLike, t: tf.TensorInfo) => b.typedArrayFromHeap(t) as Float32Array;

/** A [C] vector (or [1, .., 1, C]) matching the last axis of x, else false. */
function isChannelVector(t: tf.TensorInfo | null | undefined, channels: number): boolean {
  return t == null || (t.dtype === "float32" && size(t.shape) === channels &&
    t.shape.slice(0, -1).every((d) => d === 1) &&
    (t.shape.length === 0 || t.shape[t.shape.length - 1] === channels));
}

/** Wraps a fast path, falling back to the kernel it replaces when `fast` returns null. */
export function withFallback(
  name: string,
  fast: (args: KernelArgs) => tf.TensorInfo | tf.TensorInfo[] | null,
  original: tf.KernelConfig | undefined,
): tf.KernelConfig {
  return {
    kernelName: name,
    backendName: "wasm",
    // The replaced kernel's setup (its cwrap) still has to run when the backend starts.
    setupFunc: original?.setupFunc,
    kernelFunc: ((args: KernelArgs) => {
      const out = fast(args);
      if (out !== null) return out;
      if (!original) throw new Error(`No wasm fallback kernel for ${name}`);
      return original.kernelFunc(args as unknown as Parameters<tf.KernelFunc>[0]);
    }) as unknown as tf.KernelFunc,
  };
}

/**
 * Sum (or mean) over a run of adjacent axes that is not innermost ([O, R, I] -> [O, I], in float64),
 * which the wasm backend does by transposing first. Innermost reductions stay with it (fast).
 */
export function reduceOuter(args: KernelArgs, mean: boolean): tf.TensorInfo | null {
  const x = args.inputs.x!;
  const { backend } = args;
  if (x.dtype !== "float32" || x.shape.length === 0) return null;
  const axes = tf.util.parseAxisParam(args.attrs.axis as number | number[], x.shape).sort();
  const k0 = axes[0], k1 = axes[axes.length - 1] + 1;
  if (axes.length === 0 || axes.some((a, i) => a !== k0 + i)) return null;
  const outer = size(x.shape.slice(0, k0)), rows = size(x.shape.slice(k0, k1));
  const inner = size(x.shape.slice(k1));
  if (inner < 8) return null;
  const keepDims = Boolean(args.attrs.keepDims);
  const outShape = keepDims
    ? x.shape.map((d, i) => (i >= k0 && i < k1 ? 1 : d))
    : x.shape.filter((_, i) => i < k0 || i >= k1);
  const out = backend.makeOutput(outShape, "float32");
  const xs = f32(backend, x), os = f32(backend, out);
  const acc = new Float64Array(inner);
  const k = mean ? 1 / Math.max(rows, 1) : 1;
  for (let o = 0; o < outer; o++) {
    acc.fill(0);
    for (let r = 0, p = o * rows * inner; r < rows; r++, p += inner) {
      for (let c = 0; c < inner; c++) acc[c] += xs[p + c];
    }
    for (let c = 0; c < inner; c++) os[o * inner + c] = acc[c] * k;
  }
  return out;
}

/**
 * Tile as block copies: x's rows go to the first tile, then each axis, innermost first, doubles
 * its filled block until the repeats are done. A few hundred memcpy-speed copies for the
 * broadcasts that gradients make ([B, 1, 1, C] or [1, 1, 1, C] to [B, H, W, C]).
 */
export function tileBlocks(args: KernelArgs): tf.TensorInfo | null {
  const x = args.inputs.x!;
  const reps = args.attrs.reps as number[];
  const { backend } = args;
  const rank = x.shape.length;
  if (x.dtype !== "float32" || reps.length !== rank || rank === 0) return null;
  const outShape = x.shape.map((d, i) => d * reps[i]);
  const repeated = reps.flatMap((r, i) => (r > 1 ? [i] : []));
  if (repeated.length === 1) return tileOneAxis(backend, x, outShape, repeated[0], reps);
  const inRows = size(x.shape.slice(0, -1)), rowLen = x.shape[rank - 1];
  if (inRows > 65536 && rowLen < 16) return null; // many tiny rows: the C++ loop is fine
  const out = backend.makeOutput(outShape, "float32");
  if (size(outShape) === 0) return out;
  const [heap, base] = heapF32(backend, out);
  const src = heapF32(backend, x)[1];
  const strides = new Array<number>(rank); // out strides
  strides[rank - 1] = 1;
  for (let d = rank - 2; d >= 0; d--) strides[d] = strides[d + 1] * outShape[d + 1];
  // Visits every index over axes [0, d) inside x's extent, with its out offset.
  const each = (d: number, f: (offset: number) => void, axis = 0, offset = base) => {
    if (axis === d) return f(offset);
    for (let i = 0; i < x.shape[axis]; i++) each(d, f, axis + 1, offset + i * strides[axis]);
  };
  let r = 0;
  each(rank - 1, (o) => {
    heap.copyWithin(o, src + r * rowLen, src + (r + 1) * rowLen);
    r++;
  });
  for (let d = rank - 1; d >= 0; d--) {
    if (reps[d] === 1) continue;
    const block = x.shape[d] * strides[d], total = block * reps[d];
    each(d, (o) => {
      for (let filled = block; filled < total; filled *= 2) {
        heap.copyWithin(o + filled, o, o + Math.min(filled, total - filled));
      }
    });
  }
  return out;
}

/**
 * Tile along one axis d: out[o, r, :] = x[o, :] with o over x's axes before d and `:` the block
 * of x from d on. One loop, however small the block: the sum over a grouped conv's inputs
 * ([P, 1, k] -> [P, k, k], P ~ 1.6M in MobileFaceNet) took the C++ loop 0.7-0.9 s per call.
 */
function tileOneAxis(
  backend: WasmBackendLike,
  x: tf.TensorInfo,
  outShape: number[],
  d: number,
  reps: number[],
): tf.TensorInfo {
  const out = backend.makeOutput(outShape, "float32");
  const outer = size(x.shape.slice(0, d)), block = size(x.shape.slice(d)), r = reps[d];
  if (outer * block === 0) return out;
  const [heap, base] = heapF32(backend, out);
  const src = heapF32(backend, x)[1];
  for (let o = 0, s = src, t = base; o < outer; o++, s += block) {
    for (let k = 0; k < r; k++, t += block) {
      if (block > 32) heap.copyWithin(t, s, s + block);
      else for (let j = 0; j < block; j++) heap[t + j] = heap[s + j];
    }
  }
  return out;
}

/** y = (x - mean) * scale / sqrt(variance + eps) + offset, per channel (last axis). */
export function batchNormForward(args: KernelArgs): tf.TensorInfo | null {
  const { x, mean, variance, offset, scale } = args.inputs as Record<string, tf.TensorInfo>;
  const { backend } = args;
  const eps = args.attrs.varianceEpsilon as number;
  const c = x.shape[x.shape.length - 1];
  if (x.dtype !== "float32" || x.shape.length < 2) return null;
  if (![mean, variance, offset, scale].every((t) => isChannelVector(t, c)) || !mean || !variance) {
    return null;
  }
  const out = backend.makeOutput(x.shape, "float32");
  const xs = f32(backend, x), ys = f32(backend, out);
  const m = f32(backend, mean), v = f32(backend, variance);
  const s = scale ? f32(backend, scale) : null, o = offset ? f32(backend, offset) : null;
  const a = new Float32Array(c), b = new Float32Array(c);
  for (let j = 0; j < c; j++) {
    a[j] = (s ? s[j] : 1) / Math.sqrt(v[j] + eps);
    b[j] = o ? o[j] : 0;
  }
  for (let i = 0, n = xs.length; i < n; i += c) {
    for (let j = 0; j < c; j++) ys[i + j] = (xs[i + j] - m[j]) * a[j] + b[j];
  }
  return out;
}

/**
 * One pass of the batch-norm gradient: dx = dy * scale * rstd, and per channel sum(dy) and
 * sum(dy * (x - mean)), from which the mean/variance/scale/offset gradients follow ([C] math).
 */
export function batchNormGrad(args: KernelArgs): tf.TensorInfo[] {
  const { x, mean, variance, scale, dy } = args.inputs as Record<string, tf.TensorInfo>;
  const { backend } = args;
  const eps = args.attrs.varianceEpsilon as number;
  const c = x.shape[x.shape.length - 1];
  const dx = backend.makeOutput(x.shape, "float32");
  const sumDy = backend.makeOutput([c], "float32");
  const sumDyXm = backend.makeOutput([c], "float32");
  const xs = f32(backend, x), g = f32(backend, dy), dxs = f32(backend, dx);
  const m = f32(backend, mean), v = f32(backend, variance);
  const s = scale ? f32(backend, scale) : null;
  const a = new Float32Array(c);
  for (let j = 0; j < c; j++) a[j] = (s ? s[j] : 1) / Math.sqrt(v[j] + eps);
  const s1 = new Float64Array(c), s2 = new Float64Array(c);
  for (let i = 0, n = xs.length; i < n; i += c) {
    for (let j = 0; j < c; j++) {
      const gy = g[i + j];
      dxs[i + j] = gy * a[j];
      s1[j] += gy;
      s2[j] += gy * (xs[i + j] - m[j]);
    }
  }
  f32(backend, sumDy).set(s1);
  f32(backend, sumDyXm).set(s2);
  return [dx, sumDy, sumDyXm];
}

/** PReLU gradient in one pass: dx = x > 0 ? dy : alpha * dy; dalpha = sum(x > 0 ? 0 : dy * x). */
export function preluGrad(args: KernelArgs): tf.TensorInfo[] {
  const { x, alpha, dy } = args.inputs as Record<string, tf.TensorInfo>;
  const { backend } = args;
  const c = x.shape[x.shape.length - 1];
  const dx = backend.makeOutput(x.shape, "float32");
  const da = backend.makeOutput(alpha.shape, "float32");
  const xs = f32(backend, x),
    g = f32(backend, dy),
    dxs = f32(backend, dx),
    al = f32(backend, alpha);
  const acc = new Float64Array(c);
  for (let i = 0, n = xs.length; i < n; i += c) {
    for (let j = 0; j < c; j++) {
      // Branch-free (`+(x > 0)`; a `?:` compiles to a branch here, mispredicted half the time):
      // activations are positive about half the time, at random.
      const xv = xs[i + j], gy = g[i + j], neg = 1 - +(xv > 0);
      dxs[i + j] = gy * (1 + neg * (al[j] - 1));
      acc[j] += neg * gy * xv;
    }
  }
  f32(backend, da).set(acc);
  return [dx, da];
}

/** True when the fused PReLU gradient applies: alpha is one value per channel (last axis). */
export function preluGradApplies(x: tf.TensorInfo, alpha: tf.TensorInfo, dy: tf.TensorInfo) {
  const c = x.shape[x.shape.length - 1];
  return x.dtype === "float32" && dy.dtype === "float32" && x.shape.length >= 2 &&
    tf.util.arraysEqual(x.shape, dy.shape) && isChannelVector(alpha, c);
}

/** True when the fused batch-norm gradient applies: per-channel statistics on the last axis. */
export function batchNormGradApplies(
  x: tf.TensorInfo,
  mean: tf.TensorInfo,
  variance: tf.TensorInfo,
  scale: tf.TensorInfo | null | undefined,
) {
  const c = x.shape[x.shape.length - 1];
  return x.dtype === "float32" && x.shape.length >= 2 && isChannelVector(mean, c) &&
    isChannelVector(variance, c) && isChannelVector(scale, c);
}

/**
 * BatchMatMul with transposeA: the wasm backend runs it as a scalar loop; an explicit transpose
 * followed by its XNNPACK path is 3-8x faster (FC weight gradients). Its transposeB path is already
 * fast and is left alone.
 */
export function matMulTransposedA(args: KernelArgs, original: tf.KernelConfig | undefined) {
  const { a, b } = args.inputs as Record<string, tf.TensorInfo>;
  const { backend, attrs } = args;
  if (!original || !attrs.transposeA || a.dtype !== "float32" || b.dtype !== "float32") return null;
  const perm = a.shape.map((_, i) => i);
  [perm[perm.length - 1], perm[perm.length - 2]] = [perm[perm.length - 2], perm[perm.length - 1]];
  const at = runWasm("Transpose", backend, { x: a }, { perm });
  const out = original.kernelFunc({
    inputs: { a: at, b },
    backend: backend as unknown as tf.KernelBackend,
    attrs: { ...attrs, transposeA: false },
  }) as tf.TensorInfo;
  free(backend, at);
  return out;
}

/**
 * Identity (and a Cast to the same dtype, which `tf.moments` does on every batch norm): share the
 * data with a reference count, as the cpu backend does, instead of copying the whole tensor.
 */
export function shareData(args: KernelArgs): tf.TensorInfo | null {
  const x = args.inputs.x!;
  const dtype = (args.attrs?.dtype as tf.DataType | undefined) ?? x.dtype;
  if (dtype !== x.dtype || x.dtype === "string" || x.dtype === "complex64") return null;
  (args.backend as unknown as { incRef(id: tf.DataId): void }).incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape.slice(), dtype: x.dtype };
}
