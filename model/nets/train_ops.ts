/**
 * The pieces the memory-lean training forwards (`iresnet_train.ts`, `mobilefacenet_train.ts`)
 * share: the LayersModel's variables by name, and a BatchNorm for training. Each forward runs on
 * the same variables as its LayersModel (which stays the inference/export graph).
 *
 * Why: under `tf.variableGrads` every intermediate tensor lives until the backward pass ends.
 * tfjs-layers' BatchNormalization leaves ~6 full-size intermediates per call (moments, centring,
 * scaling), so r50 at batch 4 needed > 4 GB and overflowed the wasm heap. Here BN is one
 * `tf.customGrad` op that keeps only x_hat and 1/sigma for its hand-written gradient, so a block
 * keeps ~10 activations instead of ~30 (r50: ~110 MB per 112x112 image instead of ~510 MB).
 */
import type * as tfTypes from "@tensorflow/tfjs";
import * as tf from "@tensorflow/tfjs";
import {
  batchNormTrainBackward,
  batchNormTrainForward,
  batchNormTrainFused,
} from "../backend/wasm_batch_norm_train.ts";

/** BN settings shared with the layers in `iresnet.ts` (epsilon: `IResNetConfig.bnEpsilon`). */
const BN_EPSILON = 2e-5;
const BN_MOMENTUM = 0.9;

/** The model's variables by "<layer>/<weight>" (original, un-suffixed names). */
export function variablesByName(model: tfTypes.LayersModel): Map<string, tfTypes.Variable> {
  const out = new Map<string, tfTypes.Variable>();
  for (const w of model.weights) out.set(w.originalName, w.read() as tfTypes.Variable);
  return out;
}

/**
 * Weight lookup by name over `vars` (an error names the network and its builder when one is
 * missing) and a train-mode batch norm of layer `name` with those weights.
 */
export function weightAccess(
  vars: Map<string, tfTypes.Variable>,
  net: string,
  builder: string,
  epsilon: number,
): {
  v: (name: string) => tfTypes.Variable;
  bn: (name: string, t: tfTypes.Tensor, alpha?: tfTypes.Tensor) => tfTypes.Tensor;
} {
  const v = (name: string) => {
    const t = vars.get(name);
    if (!t) throw new Error(`${net} has no weight "${name}" (not built by ${builder}?)`);
    return t;
  };
  const bn = (name: string, t: tfTypes.Tensor, alpha?: tfTypes.Tensor) =>
    batchNormTrain(
      t,
      v(`${name}/gamma`),
      v(`${name}/beta`),
      v(`${name}/moving_mean`),
      v(`${name}/moving_variance`),
      epsilon,
      alpha,
    );
  return { v, bn };
}

/**
 * Batch normalization in training mode over all axes but the last, as one op with its own
 * gradient; updates the moving mean/variance (momentum 0.9, unbiased variance as PyTorch/MXNet).
 * With `alpha` (one slope per channel), a PReLU follows, fused into the same op on wasm.
 */
export function batchNormTrain(
  x: tfTypes.Tensor,
  gamma: tfTypes.Variable,
  beta: tfTypes.Variable,
  movingMean: tfTypes.Variable,
  movingVar: tfTypes.Variable,
  epsilon = BN_EPSILON,
  alpha?: tfTypes.Tensor,
): tfTypes.Tensor {
  const axes = x.shape.slice(0, -1).map((_, i) => i);
  const n = x.shape.slice(0, -1).reduce((a, b) => a * b, 1);
  const updateMoving = (mean: tfTypes.Tensor, variance: tfTypes.Tensor) => {
    const unbiased = n > 1 ? tf.mul(variance, n / (n - 1)) : variance;
    movingMean.assign(tf.add(tf.mul(movingMean, BN_MOMENTUM), tf.mul(mean, 1 - BN_MOMENTUM)));
    movingVar.assign(tf.add(tf.mul(movingVar, BN_MOMENTUM), tf.mul(unbiased, 1 - BN_MOMENTUM)));
  };
  if (batchNormTrainFused(x, gamma, beta, alpha)) {
    return fusedBatchNormTrain(x, [gamma, beta, alpha], epsilon, updateMoving);
  }
  const op = tf.customGrad((...args: (tfTypes.Tensor | tfTypes.GradSaveFunc)[]) => {
    const [xIn, g, b] = args as tfTypes.Tensor[];
    const save = args[3] as tfTypes.GradSaveFunc;
    const input = xIn as tfTypes.Tensor;
    const mean = tf.mean(input, axes); // [C]
    const centred = tf.sub(input, mean);
    const variance = tf.mean(tf.square(centred), axes); // [C], biased, as used for normalizing
    const invStd = tf.rsqrt(tf.add(variance, epsilon)); // [C]
    const xHat = tf.mul(centred, invStd);
    save([xHat, invStd, g as tfTypes.Tensor]);
    // Side effect inside the op's forward (tape off): exponential moving averages.
    updateMoving(mean, variance);
    return {
      value: tf.add(tf.mul(xHat, g as tfTypes.Tensor), b as tfTypes.Tensor),
      // customGrad runs gradFunc outside any tidy: without this one, its full-size temporaries
      // would live until the whole backward pass ends.
      gradFunc: (dy: tfTypes.Tensor, saved: tfTypes.Tensor[]) =>
        tf.tidy(() => {
          const [xh, inv, gm] = saved;
          const dBeta = tf.sum(dy, axes);
          const dGamma = tf.sum(tf.mul(dy, xh), axes);
          // dx = gamma / sigma / n * (n * dy - sum(dy) - x_hat * sum(dy * x_hat))
          const inner = tf.sub(tf.sub(tf.mul(dy, n), dBeta), tf.mul(xh, dGamma));
          const dx = tf.mul(inner, tf.div(tf.mul(gm, inv), n));
          return [dx, dGamma, dBeta];
        }),
    };
  });
  const y = op(x, gamma, beta);
  return alpha ? tf.prelu(y, alpha) : y;
}

/**
 * `batchNormTrain` on the wasm backend: two fused passes each way
 * (model/backend/wasm_batch_norm_train.ts), keeping x (alive anyway) for the gradient, not x_hat.
 */
function fusedBatchNormTrain(
  x: tfTypes.Tensor,
  [gamma, beta, alpha]: [tfTypes.Tensor, tfTypes.Tensor, tfTypes.Tensor | undefined],
  epsilon: number,
  updateMoving: (mean: tfTypes.Tensor, variance: tfTypes.Tensor) => void,
): tfTypes.Tensor {
  const inputs = alpha ? [x, gamma, beta, alpha] : [x, gamma, beta];
  const op = tf.customGrad((...args: (tfTypes.Tensor | tfTypes.GradSaveFunc)[]) => {
    const [xIn, g, b, a] = args as tfTypes.Tensor[];
    const { y, mean, variance, inv } = batchNormTrainForward(xIn, g, b, epsilon, alpha && a);
    (args[inputs.length] as tfTypes.GradSaveFunc)([xIn, mean, inv, ...inputs.slice(1)]);
    updateMoving(mean, variance);
    return {
      value: y,
      // [dx, dgamma, dbeta] (+ dalpha): one per input.
      gradFunc: (dy: tfTypes.Tensor, saved: tfTypes.Tensor[]) => {
        const [xs, mean, inv, gs, bs, al] = saved;
        return batchNormTrainBackward(dy, xs, mean, inv, gs, al && { beta: bs, alpha: al });
      },
    };
  });
  return op(...inputs);
}
