/**
 * Recognizes the grouped convolution that arcstream's MobileFaceNet spells with standard Keras
 * layers (`model/nets/mobilefacenet.ts`, `groupSum`) and converts it to the one grouped ONNX `Conv`
 * that `torch.onnx.export` writes for arcface_torch's `Conv2d(groups=G)`:
 *
 *   DepthwiseConv2D (multiplier k, cin = G*k)   [N, H, W, G*k*k]  maps ordered (g, i, j)
 *   Reshape [H*W*G, k, k]                       [N, H*W*G, k, k]
 *   DepthwiseConv2D [1, k] of ones, valid       [N, H*W*G, 1, k]  sum over i
 *   Reshape [H, W, G*k]                         [N, H, W, G*k]
 *
 * Converted layer by layer, the two Reshapes need NCHW <-> NHWC Transposes around them; the fused
 * form needs none. A chain that does not match exactly (bias, activation, other consumers, a kernel
 * that is not all ones) is left to the per-layer converters.
 */
import type * as tf from "@tensorflow/tfjs";
import type { LayerConverter } from "./onnx_context.ts";
import { pair, rank4 } from "./onnx_context.ts";
import { convPads } from "./onnx_layers.ts";

/** One recognized chain: `head` is converted as a grouped conv; `tail`'s output is its output. */
export interface GroupedConvChain {
  head: tf.layers.Layer;
  /** The layers after `head` whose work the grouped conv does (split, group sum, merge). */
  fused: tf.layers.Layer[];
  tail: tf.layers.Layer;
  groups: number;
  k: number;
}

/** The one layer reading `layer`'s output, or null when there are none or several. */
function soleConsumer(layer: tf.layers.Layer): tf.layers.Layer | null {
  const out = layer.outboundNodes;
  return out.length === 1 ? out[0].outboundLayer : null;
}

function config(layer: tf.layers.Layer): Record<string, unknown> {
  return layer.getConfig() as Record<string, unknown>;
}

function isLinear(c: Record<string, unknown>): boolean {
  return (c.activation ?? "linear") === "linear" && c.useBias === false;
}

/** Whether `layer` is a bias-free [1, k] depthwise conv of ones, stride 1, valid. */
function isOnesGroupSum(layer: tf.layers.Layer, k: number): boolean {
  const c = config(layer);
  if (layer.getClassName() !== "DepthwiseConv2D" || !isLinear(c)) return false;
  if (c.depthMultiplier !== 1 || c.padding !== "valid") return false;
  if (JSON.stringify(pair(c.strides ?? 1, "strides")) !== "[1,1]") return false;
  const [w] = layer.getWeights();
  if (w.shape.join() !== `1,${k},${k},1`) return false;
  return (w.dataSync() as Float32Array).every((v) => v === 1);
}

/** The chain starting at `head`, if it is one. */
function matchChain(head: tf.layers.Layer): GroupedConvChain | null {
  const c = config(head);
  const k = Number(c.depthMultiplier ?? 1);
  if (head.getClassName() !== "DepthwiseConv2D" || k < 2 || !isLinear(c)) return null;
  const [, h, w, cin] = (head.input as tf.SymbolicTensor).shape as number[];
  if (cin % k !== 0) return null;
  const groups = cin / k;
  const split = soleConsumer(head);
  const sum = split && soleConsumer(split);
  const merge = sum && soleConsumer(sum);
  if (!split || !sum || !merge) return null;
  const [, oh, ow] = (head.output as tf.SymbolicTensor).shape as number[];
  const target = (l: tf.layers.Layer) => JSON.stringify(config(l).targetShape);
  if (
    split.getClassName() !== "Reshape" || target(split) !== JSON.stringify([oh * ow * groups, k, k])
  ) return null;
  if (!isOnesGroupSum(sum, k)) return null;
  if (
    merge.getClassName() !== "Reshape" || target(merge) !== JSON.stringify([oh, ow, groups * k])
  ) {
    return null;
  }
  return h && w ? { head, fused: [split, sum, merge], tail: merge, groups, k } : null;
}

/** Every grouped-conv chain of `model`, by head layer. */
export function findGroupedConvs(model: tf.LayersModel): Map<tf.layers.Layer, GroupedConvChain> {
  const chains = new Map<tf.layers.Layer, GroupedConvChain>();
  for (const layer of model.layers) {
    const chain = matchChain(layer);
    if (chain) chains.set(layer, chain);
  }
  return chains;
}

/**
 * Converts a chain's head as ONNX Conv(group = G): the depthwise kernel [kh, kw, G*k, k] (input
 * channel g*k + i, multiplier j) becomes W [G*k, k, kh, kw] with W[g*k + j, i] = kernel[., ., g*k + i,
 * j], which is the sum over i that the chain computes.
 */
export function groupedConvConverter(chain: GroupedConvChain): LayerConverter {
  return ([x], ctx) => {
    const hw = rank4(ctx);
    const { groups, k } = chain;
    const kernel = ctx.weight("depthwise_kernel");
    const [kh, kw, cin] = kernel.shape;
    const w = new Float32Array(cin * k * kh * kw);
    for (let g = 0; g < groups; g++) {
      for (let j = 0; j < k; j++) {
        for (let i = 0; i < k; i++) {
          for (let y = 0; y < kh; y++) {
            for (let xx = 0; xx < kw; xx++) {
              const src = ((y * kw + xx) * cin + g * k + i) * k + j;
              w[(((g * k + j) * k + i) * kh + y) * kw + xx] = kernel.data[src];
            }
          }
        }
      }
    }
    const strides = pair(ctx.config.strides ?? 1, `${ctx.layerName} strides`);
    const dilations = pair(ctx.config.dilationRate ?? 1, `${ctx.layerName} dilation`);
    return ctx.node("Conv", [x, ctx.constant("kernel", [cin, k, kh, kw], w)], {
      kernel_shape: [kh, kw],
      strides,
      dilations,
      group: groups,
      pads: convPads(String(ctx.config.padding ?? "valid"), hw, [kh, kw], strides, dilations),
    });
  };
}
