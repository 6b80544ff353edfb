/**
 * Gradients that use arcstream's fused wasm kernels while the wasm backend is active.
 *
 * Gradients are registered per op, not per backend, so each one here checks the active backend and
 * the shapes, and otherwise runs the gradient it replaces (the values are the same either way;
 * only the number of passes over memory differs).
 *
 * - FusedBatchNorm: tfjs-core tiles rsqrt(variance) to the full input and makes ~8 full-size
 *   passes; here one pass yields dx, sum(dy) and sum(dy * (x - mean)).
 * - Prelu: greater + 2 selects + zerosLike + 2 muls + a sum become one pass.
 * - Mean / Sum: `ones(x.shape)` * dy (/ n) become one broadcast copy (a fast `Tile`).
 */
import * as tf from "@tensorflow/tfjs-core";
import { batchNormGradApplies, preluGradApplies } from "./wasm_fused_kernels.ts";

/** Names of the multi-output kernels behind the fused gradients. */
export const BATCH_NORM_GRAD = "ArcstreamBatchNormGrad";
export const PRELU_GRAD = "ArcstreamPreluGrad";

let enabled = true;
const onWasm = () => enabled && tf.getBackend() === "wasm";

/** Turns the fused gradients off (tfjs-core's run everywhere) or back on; for benchmarks. */
export function setWasmGradientsEnabled(on: boolean): void {
  enabled = on;
}

function batchNormGradConfig(original: tf.GradConfig): tf.GradConfig {
  return {
    kernelName: tf.FusedBatchNorm,
    inputsToSave: ["x", "mean", "variance", "scale"],
    gradFunc: (dy, saved, attrs) => {
      const [x, mean, variance, scale] = saved;
      if (!onWasm() || !batchNormGradApplies(x, mean, variance, scale) || Array.isArray(dy)) {
        return original.gradFunc(dy, saved, attrs);
      }
      const eps = (attrs as unknown as tf.FusedBatchNormAttrs).varianceEpsilon;
      const inputs: tf.NamedTensorMap = { x, mean, variance, dy };
      if (scale) inputs.scale = scale;
      const [dx, sumDy, sumDyXm] = tf.engine().runKernel(
        BATCH_NORM_GRAD,
        inputs,
        { varianceEpsilon: eps } as unknown as tf.NamedAttrMap,
      ) as tf.Tensor[];
      // [C] math: rstd = 1/sqrt(var + eps), g = scale (or 1).
      const rstd = tf.rsqrt(tf.add(tf.reshape(variance, [-1]), eps));
      const g = scale ? tf.reshape(scale, [-1]) : tf.scalar(1);
      return {
        x: () => dx,
        mean: () => tf.reshape(tf.neg(tf.mul(tf.mul(rstd, g), sumDy)), mean.shape),
        variance: () =>
          tf.reshape(
            tf.mul(tf.mul(tf.mul(tf.pow(rstd, 3), g), sumDyXm), -0.5),
            variance.shape,
          ),
        scale: () => tf.reshape(tf.mul(rstd, sumDyXm), scale ? scale.shape : mean.shape),
        offset: () => tf.reshape(sumDy, mean.shape),
      };
    },
  };
}

function preluGradConfig(original: tf.GradConfig): tf.GradConfig {
  return {
    kernelName: tf.Prelu,
    inputsToSave: ["x", "alpha"],
    gradFunc: (dy, saved, attrs) => {
      const [x, alpha] = saved;
      if (!onWasm() || Array.isArray(dy) || !preluGradApplies(x, alpha, dy)) {
        return original.gradFunc(dy, saved, attrs);
      }
      const [dx, da] = tf.engine().runKernel(PRELU_GRAD, { x, alpha, dy }, {}) as tf.Tensor[];
      return { x: () => dx, alpha: () => da };
    },
  };
}

/** Mean and Sum: dy broadcast back over the reduced axes (divided by their size for Mean). */
function reduceGradConfig(original: tf.GradConfig, mean: boolean): tf.GradConfig {
  return {
    kernelName: mean ? tf.Mean : tf.Sum,
    inputsToSave: ["x"],
    gradFunc: (dy, saved, attrs) => {
      const [x] = saved;
      if (!onWasm() || Array.isArray(dy) || x.dtype !== "float32") {
        return original.gradFunc(dy, saved, attrs);
      }
      const axes = tf.util.parseAxisParam((attrs as { axis: number | number[] }).axis, x.shape);
      const expanded = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
      const n = axes.reduce((p, a) => p * x.shape[a], 1);
      return {
        x: () => {
          const small = mean ? tf.div(tf.reshape(dy, expanded), n) : tf.reshape(dy, expanded);
          return tf.broadcastTo(small, x.shape);
        },
      };
    },
  };
}

const originals = new Map<string, tf.GradConfig>();

/** Installs the wasm-aware gradients (once; the originals are kept for other backends). */
export function registerWasmGradients(): string[] {
  const make: [string, (o: tf.GradConfig) => tf.GradConfig][] = [
    [tf.FusedBatchNorm, batchNormGradConfig],
    [tf.Prelu, preluGradConfig],
    [tf.Mean, (o) => reduceGradConfig(o, true)],
    [tf.Sum, (o) => reduceGradConfig(o, false)],
  ];
  for (const [name, wrap] of make) {
    if (originals.has(name)) continue;
    const original = tf.getGradient(name);
    if (!original) throw new Error(`tfjs-core has no gradient for ${name} to wrap`);
    originals.set(name, original);
    tf.unregisterGradient(name);
    tf.registerGradient(wrap(original));
  }
  return [...originals.keys()];
}
