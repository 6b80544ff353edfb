/**
 * Training-mode batch normalization (batch statistics over all axes but the last) as two fused
 * wasm kernels, for `batchNormTrain` (model/nets/train_ops.ts) on the wasm backend.
 *
 * As tf ops the forward is mean, sub, square, mean, rsqrt, mul, mul, add (6 full-size passes and
 * a saved x_hat) and the backward sum, mul, sum, mul, sub, sub, mul, mul (8 more): 20-25% of a
 * MobileFaceNet training step, whose many thin layers are memory-bound. Here each direction is two
 * JavaScript passes over the wasm heap (statistics, then the elementwise map), accumulating in
 * float64; the gradient keeps x (alive anyway) instead of a new x_hat.
 *
 * Forward, per channel j over the n = prod(shape[:-1]) values:
 *   mean = sum(x) / n, var = sum(x^2) / n - mean^2 (biased, float64), inv = 1 / sqrt(var + eps),
 *   y = (x - mean) * inv * gamma + beta.
 * The PReLU's sign tests are arithmetic (`+(v > 0)`), not branches: activations are positive at
 * random, and a mispredicted branch per element made the fused gradient 4x slower.
 * Backward (x_hat = (x - mean) * inv):
 *   dbeta = sum(dy), dgamma = sum(dy * x_hat),
 *   dx = gamma * inv / n * (n * dy - dbeta - x_hat * dgamma).
 */
import * as tf from "@tensorflow/tfjs-core";
import type { WasmBackendLike } from "./wasm_kernel_util.ts";

export const BATCH_NORM_TRAIN = "ArcstreamBatchNormTrain";
export const BATCH_NORM_TRAIN_GRAD = "ArcstreamBatchNormTrainGrad";

type KernelArgs = {
  inputs: Record<string, tf.TensorInfo>;
  backend: WasmBackendLike;
  attrs: Record<string, unknown>;
};

const f32 = (b: WasmBackendLike, t: tf.TensorInfo) => b.typedArrayFromHeap(t) as Float32Array;

/** Per-channel sum(x) and sum(x^2) of x [P, C] (flat), in float64. */
function channelSums(xs: Float32Array, c: number): [Float64Array, Float64Array] {
  const s1 = new Float64Array(c), s2 = new Float64Array(c);
  const len = xs.length;
  let i = 0;
  // Two rows per update of the accumulators (each update is a load and a store).
  for (; i + 2 * c <= len; i += 2 * c) {
    for (let j = 0; j < c; j++) {
      const u = xs[i + j], v = xs[i + c + j];
      s1[j] += u + v;
      s2[j] += u * u + v * v;
    }
  }
  for (; i < len; i += c) {
    for (let j = 0; j < c; j++) {
      const v = xs[i + j];
      s1[j] += v;
      s2[j] += v * v;
    }
  }
  return [s1, s2];
}

/**
 * x [..., C], gamma [C], beta [C] (and alpha, C values: PReLU after the norm) -> y [..., C],
 * mean [C], variance [C] (biased), inv [C].
 */
export function batchNormTrainKernel(args: KernelArgs): tf.TensorInfo[] {
  const { x, gamma, beta, alpha } = args.inputs;
  const { backend } = args;
  const eps = args.attrs.varianceEpsilon as number;
  const c = x.shape[x.shape.length - 1];
  const y = backend.makeOutput(x.shape, "float32");
  const stats = [0, 1, 2].map(() => backend.makeOutput([c], "float32"));
  // Views after every allocation: one can grow (and move) the heap.
  const xs = f32(backend, x), ys = f32(backend, y), g = f32(backend, gamma), b = f32(backend, beta);
  const len = xs.length, n = len / c;
  const [s1, s2] = channelSums(xs, c);
  // The float32 mean, as the backward pass reads it; (x - mean) is formed first everywhere, since
  // |mean| can be many standard deviations (e.g. a stem conv on raw pixels).
  const mean = new Float32Array(c), variance = new Float32Array(c), inv = new Float32Array(c);
  const scale = new Float64Array(c);
  for (let j = 0; j < c; j++) {
    const m = s1[j] / n;
    const v = Math.max(0, s2[j] / n - m * m);
    const r = 1 / Math.sqrt(v + eps);
    mean[j] = m;
    variance[j] = v;
    inv[j] = r;
    scale[j] = inv[j] * g[j];
  }
  if (alpha) {
    const a = f32(backend, alpha);
    for (let i = 0; i < len; i += c) {
      for (let j = 0; j < c; j++) {
        const v = (xs[i + j] - mean[j]) * scale[j] + b[j], pos = +(v > 0);
        ys[i + j] = v * (pos + (1 - pos) * a[j]);
      }
    }
  } else {
    for (let i = 0; i < len; i += c) {
      for (let j = 0; j < c; j++) ys[i + j] = (xs[i + j] - mean[j]) * scale[j] + b[j];
    }
  }
  [mean, variance, inv].forEach((v, i) => f32(backend, stats[i]).set(v));
  return [y, ...stats];
}

/**
 * x, dy [..., C], mean, inv, gamma [C] -> dx [..., C], dgamma [C], dbeta [C]; with beta and alpha
 * (the forward's PReLU) dy is the gradient of the PReLU output, and dalpha follows.
 */
export function batchNormTrainGradKernel(args: KernelArgs): tf.TensorInfo[] {
  const { x, dy, mean, inv, gamma, beta, alpha } = args.inputs;
  const { backend } = args;
  const c = x.shape[x.shape.length - 1];
  const dx = backend.makeOutput(x.shape, "float32");
  const dGamma = backend.makeOutput([c], "float32");
  const dBeta = backend.makeOutput([c], "float32");
  const dAlpha = alpha ? backend.makeOutput(alpha.shape, "float32") : null;
  const xs = f32(backend, x), gs = f32(backend, dy), dxs = f32(backend, dx);
  const m = f32(backend, mean), r = f32(backend, inv), g = f32(backend, gamma);
  const len = xs.length, n = len / c;
  const s1 = new Float64Array(c), s2 = new Float64Array(c), s3 = new Float64Array(c);
  // PReLU: slope[j] = alpha, and the norm's output recomputed as in the forward pass.
  const slope = alpha ? f32(backend, alpha) : null;
  const b = slope ? f32(backend, beta) : g;
  const scale = new Float64Array(c);
  for (let j = 0; j < c; j++) scale[j] = r[j] * g[j];
  // Two rows (i, i + step) per accumulator update where there are two; step = 0 adds nothing.
  for (let i = 0; i < len; i += 2 * c) {
    const step = i + c < len ? c : 0, w2 = step ? 1 : 0;
    if (slope) {
      for (let j = 0; j < c; j++) {
        const p = i + j, q = p + step;
        const xm = xs[p] - m[j], ym = xs[q] - m[j], dz = gs[p], dw = gs[q] * w2;
        const yv = xm * scale[j] + b[j], yw = ym * scale[j] + b[j];
        const negv = 1 - +(yv > 0), negw = 1 - +(yw > 0);
        const dv = dz * (1 - negv + negv * slope[j]), dwv = dw * (1 - negw + negw * slope[j]);
        // The norm's output gradient, kept in dx for the second pass (q = p when step = 0: the
        // second store repeats the first, since dw = 0 only feeds the sums).
        dxs[q] = gs[q] * (1 - negw + negw * slope[j]);
        dxs[p] = dv;
        s3[j] += negv * dz * yv + negw * dw * yw;
        s1[j] += dv + dwv;
        s2[j] += dv * xm + dwv * ym;
      }
    } else {
      for (let j = 0; j < c; j++) {
        const p = i + j, q = p + step, dv = gs[p], dw = gs[q] * w2;
        s1[j] += dv + dw;
        s2[j] += dv * (xs[p] - m[j]) + dw * (xs[q] - m[j]);
      }
    }
  }
  // dx = a * dy + bx * (x - mean) + k: a = gamma * inv, bx = -a * inv^2 * s2 / n, k = -a * s1 / n.
  const a = scale, bx = new Float64Array(c), k = new Float64Array(c);
  const dg = new Float32Array(c), db = new Float32Array(c);
  for (let j = 0; j < c; j++) {
    bx[j] = -a[j] * r[j] * r[j] * s2[j] / n;
    k[j] = -a[j] * s1[j] / n;
    dg[j] = s2[j] * r[j];
    db[j] = s1[j];
  }
  // With a PReLU, dx holds its gradient (float32, as the unfused PReLU gradient would) by now.
  const ds = slope ? dxs : gs;
  for (let i = 0; i < len; i += c) {
    for (let j = 0; j < c; j++) dxs[i + j] = a[j] * ds[i + j] + bx[j] * (xs[i + j] - m[j]) + k[j];
  }
  f32(backend, dGamma).set(dg);
  f32(backend, dBeta).set(db);
  if (!dAlpha) return [dx, dGamma, dBeta];
  f32(backend, dAlpha).set(s3);
  return [dx, dGamma, dBeta, dAlpha];
}

/**
 * Fewer channels keep the tf-op path, whose results the PyTorch parity fixtures (width-1/16 nets,
 * 4-channel stems) were checked against: there the wasm `Mean` accumulates in float32, and an
 * exact mean moved some stem outputs of flat image regions across PReLU's kink at 0 (gradients
 * 1e-3 apart, both right to float tolerance). Real nets have 64 or more channels.
 */
const MIN_CHANNELS = 8;

/** True when the fused kernels apply: wasm active with them registered, float32, [C] weights. */
export function batchNormTrainFused(
  x: tf.Tensor,
  gamma: tf.Tensor,
  beta: tf.Tensor,
  alpha?: tf.Tensor,
): boolean {
  const c = x.shape[x.shape.length - 1];
  const vector = (t: tf.Tensor) =>
    t.dtype === "float32" && t.size === c && t.shape[t.shape.length - 1] === c;
  return tf.getBackend() === "wasm" && tf.getKernel(BATCH_NORM_TRAIN, "wasm") !== undefined &&
    x.dtype === "float32" && x.rank >= 2 && x.size > 0 && c >= MIN_CHANNELS && gamma.rank === 1 &&
    vector(gamma) &&
    beta.rank === 1 && vector(beta) && (alpha === undefined || vector(alpha));
}

/** The forward kernel as an op (no gradient of its own: `batchNormTrain` wraps it). */
export function batchNormTrainForward(
  x: tf.Tensor,
  gamma: tf.Tensor,
  beta: tf.Tensor,
  epsilon: number,
  alpha?: tf.Tensor,
): { y: tf.Tensor; mean: tf.Tensor; variance: tf.Tensor; inv: tf.Tensor } {
  const inputs: tf.NamedTensorMap = { x, gamma, beta };
  if (alpha) inputs.alpha = alpha;
  const [y, mean, variance, inv] = tf.engine().runKernel(
    BATCH_NORM_TRAIN,
    inputs,
    { varianceEpsilon: epsilon } as unknown as tf.NamedAttrMap,
  ) as tf.Tensor[];
  return { y, mean, variance, inv };
}

/**
 * The backward kernel as an op: [dx, dgamma, dbeta], and dalpha when the forward had a PReLU
 * (`prelu`: its beta and alpha; dy is then the gradient of the PReLU output).
 */
export function batchNormTrainBackward(
  dy: tf.Tensor,
  x: tf.Tensor,
  mean: tf.Tensor,
  inv: tf.Tensor,
  gamma: tf.Tensor,
  prelu?: { beta: tf.Tensor; alpha: tf.Tensor },
): tf.Tensor[] {
  const inputs: tf.NamedTensorMap = { x, dy, mean, inv, gamma };
  if (prelu) Object.assign(inputs, prelu);
  return tf.engine().runKernel(BATCH_NORM_TRAIN_GRAD, inputs) as tf.Tensor[];
}

const kernel = (name: string, f: (a: KernelArgs) => tf.TensorInfo[]): tf.KernelConfig => ({
  kernelName: name,
  backendName: "wasm",
  kernelFunc: f as unknown as tf.KernelFunc,
});

export const batchNormTrainConfigs: tf.KernelConfig[] = [
  kernel(BATCH_NORM_TRAIN, batchNormTrainKernel),
  kernel(BATCH_NORM_TRAIN_GRAD, batchNormTrainGradKernel),
];
