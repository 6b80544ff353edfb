/**
 * Memory-lean training forward pass of the IR-ResNet built by `iresnet.ts` (ArcFace, arXiv
 * 1801.07698): BN as one custom-gradient op (`train_ops.ts`), on the LayersModel's variables.
 */
import type * as tfTypes from "@tensorflow/tfjs";
import * as tf from "@tensorflow/tfjs";
import { IRESNET_UNITS, type IResNetConfig } from "./iresnet.ts";
import { variablesByName, weightAccess } from "./train_ops.ts";

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
