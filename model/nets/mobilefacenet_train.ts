/**
 * Memory-lean training forward pass of the MobileFaceNet built by `mobilefacenet.ts`
 * (arcface_torch's mbf; arXiv 1804.07573 + ArcFace, arXiv 1801.07698), on the LayersModel's own
 * variables, as `iresnet_train.ts` does for IR-ResNet: BN is one `tf.customGrad` op
 * (`batchNormTrain`, PyTorch's eps 1e-5), the grouped conv a depthwise conv + a sum over each
 * group's inputs, padding PyTorch's symmetric one given explicitly.
 */
import type * as tfTypes from "@tensorflow/tfjs";
import * as tf from "@tensorflow/tfjs";
import {
  MBF_BN_EPSILON,
  type MbfConfig,
  type MbfConv,
  mbfGdc,
  mbfPlan,
  tfName,
} from "./mobilefacenet.ts";
import { weightAccess } from "./train_ops.ts";

/**
 * Grouped conv of x [B, H, W, G*k] with k channels in and out per group, as arcstream stores it:
 * a depthwise kernel [kh, kw, G*k, k] whose output map (g, i, j) = conv(x[g*k + i], w[.., g*k+i, j]).
 * Output channel g*k + j = sum over i. [B, Ho, Wo, G*k]
 */
export function groupedConv2d(
  x: tfTypes.Tensor4D,
  kernel: tfTypes.Tensor4D,
  groups: number,
  stride: number,
  pad: number,
): tfTypes.Tensor4D {
  const k = kernel.shape[3];
  const explicit: [[0, 0], [number, number], [number, number], [0, 0]] = [
    [0, 0],
    [pad, pad],
    [pad, pad],
    [0, 0],
  ];
  const maps = tf.depthwiseConv2d(x, kernel, stride, explicit); // [B, Ho, Wo, G*k*k]
  if (k === 1) return maps;
  const [b, ho, wo] = maps.shape;
  const split = tf.reshape(maps, [b * ho * wo * groups, k, k]);
  return tf.reshape(tf.sum(split, 1), [b, ho, wo, groups * k]);
}

/**
 * Training-mode forward pass [B, S, S, 3] -> [B, D] (batch statistics; BN moving averages are
 * updated), reading the weights of `model` (built by `buildMobileFaceNet(config)`). Call inside
 * `tf.variableGrads`.
 */
export function mbfTrainForward(
  config: MbfConfig,
  x: tfTypes.Tensor4D,
  vars: Map<string, tfTypes.Variable>,
): tfTypes.Tensor2D {
  const { v, bn } = weightAccess(vars, "MobileFaceNet", "buildMobileFaceNet", MBF_BN_EPSILON);
  const unit = (u: MbfConv, h: tfTypes.Tensor4D): tfTypes.Tensor4D => {
    const conv = tfName(`${u.path}.layers.0`);
    let y: tfTypes.Tensor4D;
    if (u.groups === 1) {
      const p = u.pad;
      y = tf.conv2d(h, v(`${conv}/kernel`) as tfTypes.Tensor4D, u.stride, [
        [0, 0],
        [p, p],
        [p, p],
        [0, 0],
      ]);
    } else {
      const w = v(`${conv}/depthwise_kernel`) as tfTypes.Tensor4D;
      y = groupedConv2d(h, w, u.groups, u.stride, u.pad);
    }
    // BN, then PReLU (ConvBlock) or nothing (LinearBlock): one op on wasm.
    const alpha = u.prelu ? v(`${tfName(`${u.path}.layers.2`)}/alpha`) : undefined;
    return bn(tfName(`${u.path}.layers.1`), y, alpha) as tfTypes.Tensor4D;
  };
  let h = x;
  for (const block of mbfPlan(config)) {
    let y = h;
    for (const u of block.convs) y = unit(u, y);
    h = block.residual ? tf.add(h, y) : y;
  }
  h = unit(mbfGdc(config), h);
  const flat = tf.reshape(h, [h.shape[0], -1]);
  const fc = tf.matMul(flat, v("features_layers_2/kernel"));
  return bn("features_layers_3", fc) as tfTypes.Tensor2D;
}
