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
import { free, runWasm, type WasmBackendLike } from "./wasm_kernel_util.ts";

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

/** Sum (or mean) over leading axes: [R, C] rows summed into [C], in float64. */
export function reduceLeading(args: KernelArgs, mean: boolean): tf.TensorInfo | null {
  const x = args.inputs.x!;
  const { backend } = args;
  if (x.dtype !== "float32" || x.shape.length === 0) return null;
  const axes = tf.util.parseAxisParam(args.attrs.axis as number | number[], x.shape).sort();
  if (!axes.every((a, i) => a === i)) return null;
  const keepDims = Boolean(args.attrs.keepDims);
  const rows = size(x.shape.slice(0, axes.length));
  const inner = size(x.shape.slice(axes.length));
  const outShape = keepDims
    ? x.shape.map((d, i) => (i < axes.length ? 1 : d))
    : x.shape.slice(axes.length);
  const out = backend.makeOutput(outShape, "float32");
  const xs = f32(backend, x), os = f32(backend, out);
  const acc = new Float64Array(inner);
  for (let r = 0, o = 0; r < rows; r++, o += inner) {
    for (let c = 0; c < inner; c++) acc[c] += xs[o + c];
  }
  const k = mean ? 1 / Math.max(rows, 1) : 1;
  for (let c = 0; c < inner; c++) os[c] = acc[c] * k;
  return out;
}

/** Tile where the input's leading axes are 1 and only they repeat: repeated block copies. */
export function tileLeading(args: KernelArgs): tf.TensorInfo | null {
  const x = args.inputs.x!;
  const reps = args.attrs.reps as number[];
  const { backend } = args;
  if (x.dtype !== "float32" || reps.length !== x.shape.length) return null;
  let k = 0; // axes < k repeat (input size 1 there), axes >= k do not
  while (k < reps.length && x.shape[k] === 1) k++;
  if (reps.slice(k).some((r) => r !== 1)) return null;
  const outShape = x.shape.map((d, i) => d * reps[i]);
  const out = backend.makeOutput(outShape, "float32");
  const xs = f32(backend, x), os = f32(backend, out);
  const n = xs.length, total = os.length;
  if (n === 0) return out;
  os.set(xs, 0);
  // Doubling copies: memcpy speed, log2(repeats) calls.
  for (let filled = n; filled < total; filled *= 2) {
    os.copyWithin(filled, 0, Math.min(filled, total - filled));
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
      const xv = xs[i + j], gy = g[i + j];
      if (xv > 0) dxs[i + j] = gy;
      else {
        dxs[i + j] = gy * al[j];
        acc[j] += gy * xv;
      }
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
 * BatchMatMul with transposeA/transposeB: the wasm backend runs those as a scalar loop; an explicit
 * transpose followed by its XNNPACK path is much faster.
 */
export function matMulTransposed(args: KernelArgs, original: tf.KernelConfig | undefined) {
  const { a, b } = args.inputs as Record<string, tf.TensorInfo>;
  const { backend, attrs } = args;
  if (!original || (!attrs.transposeA && !attrs.transposeB)) return null;
  if (a.dtype !== "float32" || b.dtype !== "float32") return null;
  const t = (x: tf.TensorInfo, yes: unknown) => {
    if (!yes) return null;
    const perm = x.shape.map((_, i) => i);
    [perm[perm.length - 1], perm[perm.length - 2]] = [perm[perm.length - 2], perm[perm.length - 1]];
    return runWasm("Transpose", backend, { x }, { perm });
  };
  const at = t(a, attrs.transposeA), bt = t(b, attrs.transposeB);
  const out = original.kernelFunc({
    inputs: { a: at ?? a, b: bt ?? b },
    backend: backend as unknown as tf.KernelBackend,
    attrs: { ...attrs, transposeA: false, transposeB: false },
  }) as tf.TensorInfo;
  free(backend, at, bt);
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
