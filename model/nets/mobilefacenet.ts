/**
 * MobileFaceNet as insightface's arcface_torch builds it (`backbones/mobilefacenet.py`, `get_mbf`
 * and `get_mbf_large`), after Chen et al., "MobileFaceNets: Efficient CNNs for Accurate Real-Time
 * Face Verification on Mobile Devices" (arXiv 1804.07573), trained with ArcFace (arXiv 1801.07698).
 *
 * Layout (scale s = 2 for mbf, 4 for mbf-large; blocks (1,4,6,2) / (2,8,12,4)):
 * ConvBlock = conv (no bias) + BN + PReLU(per channel); LinearBlock = conv + BN;
 * DepthWise(in, out, groups g) = ConvBlock 1x1 in->g, ConvBlock 3x3 depthwise g, LinearBlock 1x1
 * g->out, + input when residual; GDC = LinearBlock 7x7 depthwise 512 (no padding), flatten, Linear
 * 512->D (no bias), BatchNorm1d(D).
 *
 *   layers.0  ConvBlock 3 -> 64s, 3x3 stride 2 pad 1                        [B, 56, 56, 64s]
 *   layers.1  blocks[0] == 1: ConvBlock 64s -> 64s, 3x3, groups 64; else Residual(64s, g 128)
 *   layers.2  DepthWise 64s -> 64s, stride 2, g 128                          [B, 28, 28, 64s]
 *   layers.3  Residual(64s, blocks[1], g 128)
 *   layers.4  DepthWise 64s -> 128s, stride 2, g 256                         [B, 14, 14, 128s]
 *   layers.5  Residual(128s, blocks[2], g 256)
 *   layers.6  DepthWise 128s -> 128s, stride 2, g 512                        [B, 7, 7, 128s]
 *   layers.7  Residual(128s, blocks[3], g 256)
 *   conv_sep  ConvBlock 128s -> 512, 1x1;  features = GDC                    [B, D]
 *
 * Every layer is named after the PyTorch module that holds its weights, dots as underscores
 * (`layers.2.layers.1.layers.0` -> `layers_2_layers_1_layers_0`), so arcface_torch checkpoints map
 * onto it key by key (`model/io/torch_mbf.ts`). Padding is PyTorch's (symmetric; explicit zero
 * padding before stride-2 convs, where TF's "same" would pad only bottom/right).
 *
 * TF.js has no grouped convolution. The one grouped conv (layers.1 at blocks[0] == 1: 64 groups of
 * k = 64s/64 channels) is a depthwise conv with channel multiplier k, whose k*k maps per group,
 * ordered (group, input i, output j), are summed over i by a fixed depthwise [1, k] conv of ones
 * on the maps reshaped to [H*W*groups, k, k] (standard layers only, so model.json loads anywhere).
 * Other sizes than 112 work too (the GDC kernel is input/16); only 112 matches arcface_torch.
 */
import type * as tfTypes from "@tensorflow/tfjs";
import * as tf from "@tensorflow/tfjs";

export type MbfArch = "mbf" | "mbf-large";

/** get_mbf / get_mbf_large defaults. */
export const MBF_ARCHS: Readonly<Record<MbfArch, { blocks: number[]; scale: number }>> = {
  "mbf": { blocks: [1, 4, 6, 2], scale: 2 },
  "mbf-large": { blocks: [2, 8, 12, 4], scale: 4 },
};

/** PyTorch BatchNorm2d/1d defaults (eps 1e-5, momentum 0.1 = moving-average decay 0.9). */
export const MBF_BN_EPSILON = 1e-5;

export interface MbfOptions {
  /** Which network. Default: "mbf". */
  arch?: MbfArch;
  /** Input side, a multiple of 16; arcface_torch uses 112 (GDC kernel = size / 16). Default: 112. */
  inputSize?: number;
  /** Embedding size. Default: 512. */
  embeddingSize?: number;
  /** Seed of the weight initializers. Default: 1. */
  seed?: number;
}

export type MbfConfig = Required<MbfOptions>;

/**
 * @example
 * ```ts
 * import { mbfConfig } from "../mod.ts";
 *
 * console.log(mbfConfig({ arch: "mbf" })); // arcface_torch's "mbf", defaults filled in
 * ```
 */
export function mbfConfig(options: MbfOptions = {}): MbfConfig {
  const c: MbfConfig = {
    arch: options.arch ?? "mbf",
    inputSize: options.inputSize ?? 112,
    embeddingSize: options.embeddingSize ?? 512,
    seed: options.seed ?? 1,
  };
  if (!(c.arch in MBF_ARCHS)) {
    throw new RangeError(`Cannot build MobileFaceNet "${c.arch}": expected mbf or mbf-large`);
  }
  if (!Number.isInteger(c.inputSize) || c.inputSize < 16 || c.inputSize % 16 !== 0) {
    throw new RangeError(
      `Cannot build MobileFaceNet input size ${c.inputSize}: expected a multiple of 16 (e.g. 112)`,
    );
  }
  if (!Number.isInteger(c.embeddingSize) || c.embeddingSize < 1) {
    throw new RangeError(`Cannot build MobileFaceNet embedding size ${c.embeddingSize}`);
  }
  return c;
}

/** One conv + BN (+ PReLU) unit: a ConvBlock (prelu) or LinearBlock of arcface_torch. */
export interface MbfConv {
  /** PyTorch module path of the block; its conv is `<path>.layers.0`, BN `.1`, PReLU `.2`. */
  path: string;
  inC: number;
  outC: number;
  kernel: number;
  stride: number;
  /** Symmetric zero padding (PyTorch's `padding`). */
  pad: number;
  groups: number;
  prelu: boolean;
}

/** A sequence of units, with the block input added to its output when `residual`. */
export interface MbfBlock {
  convs: MbfConv[];
  residual: boolean;
}

function convBlock(
  path: string,
  inC: number,
  outC: number,
  kernel: number,
  stride: number,
  groups = 1,
  prelu = true,
): MbfConv {
  return { path, inC, outC, kernel, stride, pad: (kernel - 1) / 2, groups, prelu };
}

/** arcface_torch's DepthWise block at `path`. */
function depthWise(
  path: string,
  inC: number,
  outC: number,
  stride: number,
  g: number,
  res: boolean,
) {
  return {
    residual: res,
    convs: [
      convBlock(`${path}.layers.0`, inC, g, 1, 1),
      convBlock(`${path}.layers.1`, g, g, 3, stride, g),
      convBlock(`${path}.layers.2`, g, outC, 1, 1, 1, false),
    ],
  };
}

function residual(path: string, c: number, n: number, g: number): MbfBlock[] {
  return Array.from({ length: n }, (_, i) => depthWise(`${path}.layers.${i}`, c, c, 1, g, true));
}

/**
 * The blocks up to and including conv_sep, in order, with PyTorch module paths. The GDC head
 * (`features.layers.0` depthwise LinearBlock, `features.layers.2` Linear, `features.layers.3` BN1d)
 * follows.
 */
export function mbfPlan(config: MbfConfig): MbfBlock[] {
  const { blocks, scale } = MBF_ARCHS[config.arch];
  const c1 = 64 * scale, c2 = 128 * scale;
  const plan: MbfBlock[] = [{ residual: false, convs: [convBlock("layers.0", 3, c1, 3, 2)] }];
  if (blocks[0] === 1) {
    plan.push({ residual: false, convs: [convBlock("layers.1", c1, c1, 3, 1, 64)] });
  } else plan.push(...residual("layers.1", c1, blocks[0], 128));
  plan.push(depthWise("layers.2", c1, c1, 2, 128, false));
  plan.push(...residual("layers.3", c1, blocks[1], 128));
  plan.push(depthWise("layers.4", c1, c2, 2, 256, false));
  plan.push(...residual("layers.5", c2, blocks[2], 256));
  plan.push(depthWise("layers.6", c2, c2, 2, 512, false));
  plan.push(...residual("layers.7", c2, blocks[3], 256));
  plan.push({ residual: false, convs: [convBlock("conv_sep", c2, 512, 1, 1)] });
  return plan;
}

/** The GDC's depthwise LinearBlock: (S/16)x(S/16) over the 512-channel map, no padding. */
export function mbfGdc(config: MbfConfig): MbfConv {
  const side = config.inputSize / 16;
  return {
    path: "features.layers.0",
    inC: 512,
    outC: 512,
    kernel: side,
    stride: 1,
    pad: 0,
    groups: 512,
    prelu: false,
  };
}

/** TF.js layer name of a PyTorch module path. */
export const tfName = (torchPath: string) => torchPath.replaceAll(".", "_");

/**
 * Builds MobileFaceNet as a LayersModel: [B, S, S, 3] in [-1, 1] -> [B, D].
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { buildMobileFaceNet } from "../mod.ts";
 *
 * const net = buildMobileFaceNet({ arch: "mbf" });
 * const emb = tf.tidy(() => net.predict(tf.zeros([1, 112, 112, 3])) as tf.Tensor); // [1, 512]
 * console.log(emb.shape);
 * emb.dispose();
 * net.dispose();
 * ```
 */
export function buildMobileFaceNet(options: MbfOptions = {}): tfTypes.LayersModel {
  const c = mbfConfig(options);
  let seed = c.seed;
  type T = tfTypes.SymbolicTensor;
  const bn = (name: string) =>
    tf.layers.batchNormalization({ name, epsilon: MBF_BN_EPSILON, momentum: 0.9 });
  const unit = (u: MbfConv, x: T): T => {
    const name = tfName(`${u.path}.layers.0`);
    let h = x;
    // PyTorch pads symmetrically; "same" equals that only at stride 1.
    let padding: "same" | "valid" = u.pad === 0 ? "valid" : "same";
    if (u.pad > 0 && u.stride > 1) {
      h = tf.layers.zeroPadding2d({ name: `${name}_pad`, padding: u.pad }).apply(h) as T;
      padding = "valid";
    }
    // arcface_torch: kaiming_normal_(fan_out) = N(0, 2 / (outC * k * k)) for every conv.
    const std2 = 2 / (u.outC * u.kernel * u.kernel);
    const k = u.inC / u.groups; // channels per group
    if (u.groups === 1) {
      h = tf.layers.conv2d({
        name,
        filters: u.outC,
        kernelSize: u.kernel,
        strides: u.stride,
        padding,
        useBias: false,
        kernelInitializer: tf.initializers.randomNormal({ stddev: Math.sqrt(std2), seed: seed++ }),
      }).apply(h) as T;
    } else {
      h = tf.layers.depthwiseConv2d({
        name,
        kernelSize: u.kernel,
        depthMultiplier: k,
        strides: u.stride,
        padding,
        useBias: false,
        depthwiseInitializer: tf.initializers.randomNormal({
          stddev: Math.sqrt(std2),
          seed: seed++,
        }),
      }).apply(h) as T;
      if (k > 1) h = groupSum(name, h, u.groups, k);
    }
    h = bn(tfName(`${u.path}.layers.1`)).apply(h) as T;
    if (!u.prelu) return h;
    return tf.layers.prelu({
      name: tfName(`${u.path}.layers.2`),
      sharedAxes: [1, 2],
      alphaInitializer: tf.initializers.constant({ value: 0.25 }),
    }).apply(h) as T;
  };

  const input = tf.input({ shape: [c.inputSize, c.inputSize, 3], name: "input" });
  let x = input;
  for (const block of mbfPlan(c)) {
    let h = x;
    for (const u of block.convs) h = unit(u, h);
    x = block.residual
      ? tf.layers.add({ name: `${tfName(block.convs[0].path)}_add` }).apply([x, h]) as T
      : h;
  }
  // GDC: depthwise (S/16)x(S/16) valid conv + BN, flatten, Linear (no bias), BN1d.
  x = unit(mbfGdc(c), x);
  x = tf.layers.flatten({ name: "features_flatten" }).apply(x) as T;
  x = tf.layers.dense({
    name: "features_layers_2",
    units: c.embeddingSize,
    useBias: false,
    kernelInitializer: tf.initializers.randomNormal({
      stddev: Math.sqrt(2 / c.embeddingSize),
      seed: seed++,
    }),
  }).apply(x) as T;
  x = bn("features_layers_3").apply(x) as T;
  return tf.model({ inputs: input, outputs: x, name: c.arch.replace("-", "_") });
}

/**
 * The sum of a grouped conv's per-(input, output) maps: [B, H, W, G*k*k] ordered (g, i, j) ->
 * [B, H, W, G*k] by a fixed, non-trainable depthwise [1, k] conv of ones over i.
 */
function groupSum(
  name: string,
  x: tfTypes.SymbolicTensor,
  groups: number,
  k: number,
): tfTypes.SymbolicTensor {
  const [, h, w] = x.shape as number[];
  let y = tf.layers.reshape({ name: `${name}_split`, targetShape: [h * w * groups, k, k] })
    .apply(x) as tfTypes.SymbolicTensor;
  y = tf.layers.depthwiseConv2d({
    name: `${name}_groupsum`,
    kernelSize: [1, k],
    padding: "valid",
    useBias: false,
    trainable: false,
    depthwiseInitializer: tf.initializers.ones(),
  }).apply(y) as tfTypes.SymbolicTensor;
  return tf.layers.reshape({ name: `${name}_merge`, targetShape: [h, w, groups * k] })
    .apply(y) as tfTypes.SymbolicTensor;
}
