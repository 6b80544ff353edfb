/**
 * IR-ResNet backbone with the "E" output block, as used by ArcFace
 * (Deng et al., "ArcFace: Additive Angular Margin Loss for Deep Face Recognition", arXiv 1801.07698,
 * section 3.2: "LResNet100E-IR"; layout as in insightface's arcface_torch `iresnet.py`).
 *
 * Built as a functional `tf.LayersModel` so that it exports as model.json + weights and BN / dropout
 * follow the `training` flag. Layout is NHWC: input [B, S, S, 3] float32 in [-1, 1], output [B, D].
 */
import type * as tfTypes from "@tensorflow/tfjs";
import * as tf from "@tensorflow/tfjs";
import { type LayerMakers, layerMakers } from "./iresnet_layers.ts";

/** Units (IR blocks) per stage for each depth. */
export const IRESNET_UNITS: Readonly<Record<number, readonly number[]>> = {
  18: [2, 2, 2, 2],
  34: [3, 4, 6, 3],
  50: [3, 4, 14, 3],
  100: [3, 13, 30, 3],
  200: [6, 26, 60, 6],
};

/** Channels of the four stages at width multiplier 1. */
const STAGE_WIDTHS = [64, 128, 256, 512];

/** The options every config spells out (presets list these). */
export type IResNetCoreOptions = Omit<
  IResNetOptions,
  NetStyleField
>;

export interface IResNetOptions {
  /** Depth: 18, 34, 50, 100 or 200. Default: 50. */
  depth?: number;
  /** Width multiplier applied to the stem and every stage (0.25 -> 16/32/64/128). Default: 1. */
  width?: number;
  /** Input side in pixels; must be a multiple of 16 (112 -> 7x7 before the output block). Default: 112. */
  inputSize?: number;
  /** Embedding size of the "E" output. Default: 512. */
  embeddingSize?: number;
  /**
   * Dropout rate in the "E" output block (training only). Default: 0.4 (insightface's original
   * MXNet code).
   */
  dropout?: number;
  /** Seed of the weight initializers (each layer gets seed + its index). Default: 1. */
  seed?: number;
  /**
   * BatchNorm epsilon. Default: 2e-5 (insightface's original MXNet code); arcface_torch uses 1e-5.
   */
  bnEpsilon?: number;
  /**
   * Padding of the stride-2 3x3 convolutions: "same" (TF: 0 before, 1 after on even sizes) or
   * "symmetric" (1 on each side, as PyTorch's `padding=1` and MXNet's `pad=(1,1)`). Stride-1 and
   * 1x1 convolutions are the same either way. Default: "same".
   */
  stridePadding?: "same" | "symmetric";
  /**
   * Keep the output BN's gamma fixed at 1 (not trained, not decayed), as arcface_torch's
   * `features.weight.requires_grad = False`. Default: false.
   */
  fixedFeatureScale?: boolean;
  /**
   * Initial weights: "kaiming" (convolutions He normal over fan-out, the FC Glorot normal with a
   * zero bias) or "arcface_torch" (convolutions normal(0, 0.1), the FC torch's `nn.Linear` default
   * U(+-1/sqrt(fan_in)) for weight and bias, as arcface_torch's `iresnet.py`). Default: "kaiming".
   */
  weightInit?: "kaiming" | "arcface_torch";
}

/** The network details of each style (`train --net-style`); "arcstream" is the default. */
export const NET_STYLES = {
  arcstream: {
    bnEpsilon: 2e-5,
    stridePadding: "same",
    fixedFeatureScale: false,
    weightInit: "kaiming",
  },
  arcface_torch: {
    bnEpsilon: 1e-5,
    stridePadding: "symmetric",
    fixedFeatureScale: true,
    weightInit: "arcface_torch",
  },
} as const satisfies Record<string, Required<Pick<IResNetOptions, NetStyleField>>>;

type NetStyleField = "bnEpsilon" | "stridePadding" | "fixedFeatureScale" | "weightInit";

/** The options with every default filled in (saved in checkpoints and exports). */
export type IResNetConfig = Required<IResNetOptions>;

/**
 * Fills in defaults and validates the options.
 * @example
 * ```ts
 * import { iresnetConfig } from "../mod.ts";
 *
 * console.log(iresnetConfig({ depth: 50 })); // every field, defaults filled in and checked
 * ```
 */
export function iresnetConfig(options: IResNetOptions = {}): IResNetConfig {
  const config: IResNetConfig = {
    depth: options.depth ?? 50,
    width: options.width ?? 1,
    inputSize: options.inputSize ?? 112,
    embeddingSize: options.embeddingSize ?? 512,
    dropout: options.dropout ?? 0.4,
    seed: options.seed ?? 1,
    bnEpsilon: options.bnEpsilon ?? NET_STYLES.arcstream.bnEpsilon,
    stridePadding: options.stridePadding ?? NET_STYLES.arcstream.stridePadding,
    fixedFeatureScale: options.fixedFeatureScale ?? NET_STYLES.arcstream.fixedFeatureScale,
    weightInit: options.weightInit ?? NET_STYLES.arcstream.weightInit,
  };
  if (!(config.depth in IRESNET_UNITS)) {
    throw new RangeError(
      `Cannot build IR-ResNet depth ${config.depth}: expected 18, 34, 50, 100 or 200`,
    );
  }
  if (!(config.width > 0 && config.width <= 4)) {
    throw new RangeError(`Cannot build IR-ResNet width ${config.width}: expected 0 < width <= 4`);
  }
  if (!Number.isInteger(config.inputSize) || config.inputSize < 16 || config.inputSize % 16 !== 0) {
    throw new RangeError(
      `Cannot build IR-ResNet input size ${config.inputSize}: expected a multiple of 16 (e.g. 112)`,
    );
  }
  if (!Number.isInteger(config.embeddingSize) || config.embeddingSize < 1) {
    throw new RangeError(`Cannot build IR-ResNet embedding size ${config.embeddingSize}`);
  }
  if (!(config.dropout >= 0 && config.dropout < 1)) {
    throw new RangeError(`Cannot build IR-ResNet dropout ${config.dropout}: expected 0 <= p < 1`);
  }
  if (!(config.bnEpsilon > 0 && config.bnEpsilon < 1)) {
    throw new RangeError(`Cannot build IR-ResNet BN epsilon ${config.bnEpsilon}`);
  }
  if (config.stridePadding !== "same" && config.stridePadding !== "symmetric") {
    throw new RangeError(
      `Cannot build IR-ResNet stride padding "${config.stridePadding}": expected same or symmetric`,
    );
  }
  if (config.weightInit !== "kaiming" && config.weightInit !== "arcface_torch") {
    throw new RangeError(
      `Cannot build IR-ResNet weight init "${config.weightInit}": expected kaiming or arcface_torch`,
    );
  }
  return config;
}

/** Channels of a stage (or the stem, 64 at width 1) after the width multiplier. */
export function scaledWidth(base: number, width: number): number {
  return Math.max(4, Math.round(base * width));
}

/**
 * Builds the backbone. Layer names are stable (stem_*, s{stage}u{unit}_*, out_*): checkpoints use
 * them.
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { buildIResNet } from "../mod.ts";
 *
 * const net = buildIResNet({ depth: 18, width: 0.25, inputSize: 64, embeddingSize: 128 });
 * const emb = tf.tidy(() => net.predict(tf.zeros([2, 64, 64, 3])) as tf.Tensor); // [2, 128]
 * console.log(emb.shape);
 * emb.dispose();
 * net.dispose();
 * ```
 */
export function buildIResNet(options: IResNetOptions = {}): tfTypes.LayersModel {
  const c = iresnetConfig(options);
  const make = layerMakers(c);

  const input = tf.input({ shape: [c.inputSize, c.inputSize, 3], name: "input" });
  // Stem: conv3x3(64) + BN + PReLU at full resolution. [B, S, S, 64w]
  let x = make.conv("stem_conv", scaledWidth(64, c.width), 3, 1).apply(
    input,
  ) as tfTypes.SymbolicTensor;
  x = make.bn("stem_bn").apply(x) as tfTypes.SymbolicTensor;
  x = make.prelu("stem_prelu").apply(x) as tfTypes.SymbolicTensor;
  let channels = scaledWidth(64, c.width);

  IRESNET_UNITS[c.depth].forEach((units, stage) => {
    const out = scaledWidth(STAGE_WIDTHS[stage], c.width);
    for (let unit = 0; unit < units; unit++) {
      const stride = unit === 0 ? 2 : 1;
      x = irBlock(make, x, `s${stage + 1}u${unit + 1}`, channels, out, stride, c.stridePadding);
      channels = out;
    }
  });

  x = outputBlock(make, x, c);
  return tf.model({ inputs: input, outputs: x, name: `iresnet${c.depth}` });
}

/**
 * One IR block named `p` ("s2u1"): [B, H, W, channels] -> [B, H/stride, W/stride, out]. Layers are
 * created in a fixed order (their initializer seeds depend on it).
 */
function irBlock(
  make: LayerMakers,
  x: tfTypes.SymbolicTensor,
  p: string,
  channels: number,
  out: number,
  stride: number,
  stridePadding: IResNetConfig["stridePadding"],
): tfTypes.SymbolicTensor {
  // IR block: BN, conv3x3, BN, PReLU, conv3x3 (stride here), BN.
  let y = make.bn(`${p}_bn1`).apply(x) as tfTypes.SymbolicTensor;
  y = make.conv(`${p}_conv1`, out, 3, 1).apply(y) as tfTypes.SymbolicTensor;
  y = make.bn(`${p}_bn2`).apply(y) as tfTypes.SymbolicTensor;
  y = make.prelu(`${p}_prelu`).apply(y) as tfTypes.SymbolicTensor;
  if (stride === 2 && stridePadding === "symmetric") {
    // [B, H, W, C] -> [B, H+2, W+2, C]; then a "valid" conv samples as torch's padding=1.
    y = tf.layers.zeroPadding2d({ name: `${p}_pad`, padding: 1 }).apply(
      y,
    ) as tfTypes.SymbolicTensor;
    y = tf.layers.conv2d({
      name: `${p}_conv2`,
      filters: out,
      kernelSize: 3,
      strides: 2,
      padding: "valid",
      useBias: false,
      kernelInitializer: make.kernelInit(),
    }).apply(y) as tfTypes.SymbolicTensor;
  } else y = make.conv(`${p}_conv2`, out, 3, stride).apply(y) as tfTypes.SymbolicTensor;
  y = make.bn(`${p}_bn3`).apply(y) as tfTypes.SymbolicTensor;
  let shortcut = x;
  if (stride !== 1 || channels !== out) {
    shortcut = make.conv(`${p}_sc_conv`, out, 1, stride).apply(x) as tfTypes.SymbolicTensor;
    shortcut = make.bn(`${p}_sc_bn`).apply(shortcut) as tfTypes.SymbolicTensor;
  }
  // No activation after the addition (the "IR" in IR-ResNet).
  return tf.layers.add({ name: `${p}_add` }).apply([y, shortcut]) as tfTypes.SymbolicTensor;
}

/** The "E" output block: BN, Dropout, flatten, FC, BN. [B, S/16, S/16, 512w] -> [B, D] */
function outputBlock(
  make: LayerMakers,
  x: tfTypes.SymbolicTensor,
  c: IResNetConfig,
): tfTypes.SymbolicTensor {
  x = make.bn("out_bn1").apply(x) as tfTypes.SymbolicTensor;
  if (c.dropout > 0) {
    x = tf.layers.dropout({ name: "out_dropout", rate: c.dropout }).apply(
      x,
    ) as tfTypes.SymbolicTensor;
  }
  x = tf.layers.flatten({ name: "out_flatten" }).apply(x) as tfTypes.SymbolicTensor;
  // torch's nn.Linear default: weight and bias U(+-1/sqrt(fan_in)), fan_in = 512w * (S/16)^2.
  const bound = 1 / Math.sqrt(x.shape[1] as number);
  const uniform = () =>
    tf.initializers.randomUniform({ minval: -bound, maxval: bound, seed: make.nextSeed() });
  const torchFc = c.weightInit === "arcface_torch";
  x = tf.layers.dense({
    name: "out_fc",
    units: c.embeddingSize,
    kernelInitializer: torchFc
      ? uniform()
      : tf.initializers.glorotNormal({ seed: make.nextSeed() }),
    biasInitializer: torchFc ? uniform() : "zeros",
  }).apply(x) as tfTypes.SymbolicTensor;
  return make.bn("out_bn2").apply(x) as tfTypes.SymbolicTensor;
}

/**
 * True when a trainable weight is decayed (conv kernels, FC kernel, BN gammas, PReLU alphas, as
 * the original TensorFlow ArcFace code regularizes them); biases and BN betas are not.
 */
export function isDecayed(weightName: string): boolean {
  return /(kernel|gamma|alpha)(_\d+)?$/.test(weightName);
}
