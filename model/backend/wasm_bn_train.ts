/**
 * Training-mode batch normalization (Ioffe & Szegedy, arXiv 1502.03167) as two wasm kernels,
 * used by `batchNormTrain` (model/train/train_forward.ts) on the wasm backend.
 *
 * Written with tf ops, a training BN makes 7 full-size passes forward (mean, centre, square,
 * mean, scale, gamma, beta) and 8 backward; here the forward is one statistics pass plus one pass
 * writing both x_hat (saved for the gradient) and y, and the backward one pass for the two
 * channel sums plus one writing dx. Statistics accumulate in float64, shifted by each channel's
 * first value so that E[x^2] - E[x]^2 does not cancel.
 *
 * Layout: x [..., C] float32, per-channel statistics over every axis but the last.
 */
import * as tf from "@tensorflow/tfjs-core";
import type { WasmBackendLike } from "./wasm_kernel_util.ts";

/** Kernel names (multi-output kernels, no stock equivalent). */
export const BN_TRAIN = "ArcstreamBatchNormTrain";
export const BN_TRAIN_GRAD = "ArcstreamBatchNormTrainGrad";

type KernelArgs = {
  inputs: Record<string, tf.TensorInfo>;
  backend: WasmBackendLike;
  attrs: Record<string, unknown>;
};

const f32 = (b: WasmBackendLike, t: tf.TensorInfo) => b.typedArrayFromHeap(t) as Float32Array;

/**
 * Inputs x [..., C], gamma [C], beta [C]; attr varianceEpsilon. Outputs: y = x_hat * gamma + beta,
 * x_hat = (x - mean) / sqrt(var + eps) (both x's shape), mean [C], biased variance [C],
 * 1 / sqrt(var + eps) [C].
 */
export function batchNormTrainForward(args: KernelArgs): tf.TensorInfo[] {
  const { x, gamma, beta } = args.inputs;
  const { backend } = args;
  const eps = args.attrs.varianceEpsilon as number;
  const c = x.shape[x.shape.length - 1];
  const y = backend.makeOutput(x.shape, "float32");
  const xHat = backend.makeOutput(x.shape, "float32");
  const meanOut = backend.makeOutput([c], "float32");
  const varOut = backend.makeOutput([c], "float32");
  const invOut = backend.makeOutput([c], "float32");
  // Views after every allocation: an allocation can grow (and move) the heap.
  const xs = f32(backend, x), ys = f32(backend, y), hs = f32(backend, xHat);
  const g = f32(backend, gamma), b = f32(backend, beta);
  const n = xs.length / c;
  const shift = new Float64Array(c), s1 = new Float64Array(c), s2 = new Float64Array(c);
  for (let j = 0; j < c; j++) shift[j] = n > 0 ? xs[j] : 0;
  for (let i = 0, len = xs.length; i < len; i += c) {
    for (let j = 0; j < c; j++) {
      const d = xs[i + j] - shift[j];
      s1[j] += d;
      s2[j] += d * d;
    }
  }
  const mean = new Float32Array(c), inv = new Float32Array(c), variance = new Float32Array(c);
  for (let j = 0; j < c; j++) {
    const m1 = s1[j] / n;
    variance[j] = Math.max(0, s2[j] / n - m1 * m1);
    mean[j] = shift[j] + m1;
    inv[j] = 1 / Math.sqrt(variance[j] + eps);
  }
  for (let i = 0, len = xs.length; i < len; i += c) {
    for (let j = 0; j < c; j++) {
      const h = Math.fround((xs[i + j] - mean[j]) * inv[j]);
      hs[i + j] = h;
      ys[i + j] = h * g[j] + b[j];
    }
  }
  f32(backend, meanOut).set(mean);
  f32(backend, varOut).set(variance);
  f32(backend, invOut).set(inv);
  return [y, xHat, meanOut, varOut, invOut];
}

/**
 * Inputs dy, xHat (x's shape), invStd [C], gamma [C]. Outputs dx (x's shape), dGamma [C],
 * dBeta [C]: dBeta = sum(dy), dGamma = sum(dy * x_hat),
 * dx = gamma * invStd / n * (n * dy - dBeta - x_hat * dGamma).
 */
export function batchNormTrainGrad(args: KernelArgs): tf.TensorInfo[] {
  const { dy, xHat, invStd, gamma } = args.inputs;
  const { backend } = args;
  const c = xHat.shape[xHat.shape.length - 1];
  const dx = backend.makeOutput(xHat.shape, "float32");
  const dGammaOut = backend.makeOutput([c], "float32");
  const dBetaOut = backend.makeOutput([c], "float32");
  const gs = f32(backend, dy), hs = f32(backend, xHat), dxs = f32(backend, dx);
  const inv = f32(backend, invStd), g = f32(backend, gamma);
  const n = hs.length / c;
  const sDy = new Float64Array(c), sDyH = new Float64Array(c);
  for (let i = 0, len = hs.length; i < len; i += c) {
    for (let j = 0; j < c; j++) {
      const d = gs[i + j];
      sDy[j] += d;
      sDyH[j] += d * hs[i + j];
    }
  }
  const k = new Float64Array(c), dB = new Float32Array(c), dG = new Float32Array(c);
  for (let j = 0; j < c; j++) {
    k[j] = (g[j] * inv[j]) / n;
    dB[j] = sDy[j];
    dG[j] = sDyH[j];
  }
  for (let i = 0, len = hs.length; i < len; i += c) {
    for (let j = 0; j < c; j++) {
      dxs[i + j] = k[j] * (n * gs[i + j] - sDy[j] - hs[i + j] * sDyH[j]);
    }
  }
  f32(backend, dGammaOut).set(dG);
  f32(backend, dBetaOut).set(dB);
  return [dx, dGammaOut, dBetaOut];
}

/** True when the fused kernels take x: float32, rank >= 2, a [C] gamma/beta on the last axis. */
export function bnTrainApplies(x: tf.TensorInfo, gamma: tf.TensorInfo, beta: tf.TensorInfo) {
  const c = x.shape[x.shape.length - 1];
  const vec = (t: tf.TensorInfo) =>
    t.dtype === "float32" && t.shape.length === 1 && t.shape[0] === c;
  return x.dtype === "float32" && x.shape.length >= 2 && c > 0 && x.shape.every((d) => d > 0) &&
    vec(gamma) && vec(beta);
}

export const bnTrainConfigs: tf.KernelConfig[] = [
  {
    kernelName: BN_TRAIN,
    backendName: "wasm",
    kernelFunc: batchNormTrainForward as unknown as tf.KernelFunc,
  },
  {
    kernelName: BN_TRAIN_GRAD,
    backendName: "wasm",
    kernelFunc: batchNormTrainGrad as unknown as tf.KernelFunc,
  },
];
