/**
 * Random inference statistics for export parity checks (`onnx_export_test.ts`,
 * `scripts/onnx_opencv_inputs.ts`): a model fresh from its initializers has BN mean 0, variance 1,
 * gamma 1, beta 0, which would hide a mistake in any of them.
 */
import * as tf from "@tensorflow/tfjs";

/** Deterministic uniform numbers in [lo, hi). */
export function uniform(n: number, seed: number, lo: number, hi: number): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = lo + (hi - lo) * (s / 2 ** 32);
  }
  return out;
}

/**
 * Non-trivial inference statistics: BN moving mean/variance, gamma, beta and PReLU alpha drawn at
 * random, so a mistake in any of them (or in their channel order) shows in the output.
 */
export function randomizeStats(model: tf.LayersModel, seed: number): void {
  for (const layer of model.layers) {
    const weights = layer.getWeights();
    if (weights.length === 0) continue;
    const cls = layer.getClassName();
    const next = layer.weights.map((v, i) => {
      const n = weights[i].size;
      const name = v.originalName.split("/").pop()!;
      const range: [number, number] = name === "moving_variance"
        ? [0.5, 2]
        : name === "gamma"
        ? [0.5, 1.5]
        : name === "alpha"
        ? [-0.3, 0.5]
        : cls === "BatchNormalization" || name === "bias"
        ? [-0.3, 0.3]
        : [-1, 1];
      if (!["moving_variance", "moving_mean", "gamma", "beta", "alpha", "bias"].includes(name)) {
        return weights[i].clone(); // conv / dense kernels keep their initialization
      }
      return tf.tensor(uniform(n, seed++, ...range), weights[i].shape);
    });
    layer.setWeights(next);
    tf.dispose(next);
  }
}
