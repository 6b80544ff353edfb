/**
 * Memory-lean training forward pass of the IR-ResNet built by `iresnet.ts` (ArcFace, arXiv
 * 1801.07698), on the same variables as the LayersModel (which stays the inference/export graph).
 *
 * Why: under `tf.variableGrads` every intermediate tensor lives until the backward pass ends.
 * tfjs-layers' BatchNormalization leaves ~6 full-size intermediates per call (moments, centring,
 * scaling), so r50 at batch 4 needed > 4 GB and overflowed the wasm heap. Here BN is one
 * `tf.customGrad` op that keeps only x_hat and 1/sigma for its hand-written gradient, so a block
 * keeps ~10 activations instead of ~30 (r50: ~110 MB per 112x112 image instead of ~510 MB).
 */
import type * as tfTypes from "@tensorflow/tfjs";
import * as tf from "@tensorflow/tfjs";
import { IRESNET_UNITS, type IResNetConfig } from "../nets/iresnet.ts";
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

export interface TrainForwardOptions {
  /** Seed of this call's dropout mask (derive it from the step for reproducible runs). */
  dropoutSeed?: number;
}

/**
 * Training-mode forward pass [B, S, S, 3] -> [B, D] (batch statistics, dropout on), reading the
 * weights of `model` (built by `buildIResNet(config)`). Call inside `tf.variableGrads`.
 */
export function trainForward(
  model: tfTypes.LayersModel,
  config: IResNetConfig,
  x: tfTypes.Tensor4D,
  options: TrainForwardOptions = {},
  vars: Map<string, tfTypes.Variable> = variablesByName(model),
): tfTypes.Tensor2D {
  const { v, bn } = weightAccess(vars, "IR-ResNet", "buildIResNet", config.bnEpsilon);
  const conv = (name: string, t: tfTypes.Tensor, stride: number) => {
    const k = v(`${name}/kernel`) as tfTypes.Tensor4D;
    // Symmetric padding of strided 3x3 convs, as the LayersModel's zeroPadding2d + "valid".
    if (stride === 2 && k.shape[0] === 3 && config.stridePadding === "symmetric") {
      const padded = tf.pad(t, [[0, 0], [1, 1], [1, 1], [0, 0]]) as tfTypes.Tensor4D;
      return tf.conv2d(padded, k, stride, "valid");
    }
    return tf.conv2d(t as tfTypes.Tensor4D, k, stride, "same");
  };

  let h: tfTypes.Tensor = bn("stem_bn", conv("stem_conv", x, 1), v("stem_prelu/alpha"));
  IRESNET_UNITS[config.depth].forEach((units, stage) => {
    for (let unit = 0; unit < units; unit++) {
      const p = `s${stage + 1}u${unit + 1}`;
      const stride = unit === 0 ? 2 : 1;
      let y: tfTypes.Tensor = conv(`${p}_conv1`, bn(`${p}_bn1`, h), 1);
      y = bn(`${p}_bn2`, y, v(`${p}_prelu/alpha`)); // + PReLU
      y = bn(`${p}_bn3`, conv(`${p}_conv2`, y, stride));
      const shortcut = vars.has(`${p}_sc_conv/kernel`)
        ? bn(`${p}_sc_bn`, conv(`${p}_sc_conv`, h, stride))
        : h;
      h = tf.add(y, shortcut);
    }
  });
  h = bn("out_bn1", h);
  if (config.dropout > 0) h = tf.dropout(h, config.dropout, undefined, options.dropoutSeed);
  const flat = tf.reshape(h, [h.shape[0], -1]);
  const fc = tf.add(tf.matMul(flat, v("out_fc/kernel")), v("out_fc/bias"));
  return bn("out_bn2", fc) as tfTypes.Tensor2D;
}
