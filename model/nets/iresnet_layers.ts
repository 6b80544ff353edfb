/**
 * The layer constructors of the IR-ResNet in `iresnet.ts`: one seed counter shared by every
 * initializer, and the initialization of the config's `weightInit` style.
 */
import type * as tfTypes from "@tensorflow/tfjs";
import * as tf from "@tensorflow/tfjs";

/** What the constructors read of an `IResNetConfig` (a structural type: no import back). */
export interface LayerSettings {
  seed: number;
  bnEpsilon: number;
  weightInit: "kaiming" | "arcface_torch";
}

/**
 * Layer constructors sharing one seed counter: each initializer takes the next seed in construction
 * order, so the build order of the layers fixes the initial weights.
 */
export interface LayerMakers {
  /** The next initializer seed (seed, seed + 1, ...). */
  nextSeed(): number;
  kernelInit(): ReturnType<typeof tf.initializers.randomNormal>;
  bn(name: string): tfTypes.layers.Layer;
  prelu(name: string): tfTypes.layers.Layer;
  conv(name: string, filters: number, kernelSize: number, strides: number): tfTypes.layers.Layer;
}

export function layerMakers(c: LayerSettings): LayerMakers {
  let seed = c.seed;
  const nextSeed = () => seed++;
  // Kaiming normal over fan_out, or arcface_torch's normal(0, 0.1) (docs/parity.md, initialization).
  const kernelInit = () =>
    c.weightInit === "arcface_torch"
      ? tf.initializers.randomNormal({ mean: 0, stddev: 0.1, seed: nextSeed() })
      : tf.initializers.varianceScaling({
        scale: 2,
        mode: "fanOut",
        distribution: "normal",
        seed: nextSeed(),
      });
  // BN as in mxnet: eps 2e-5 (1e-5 in arcface_torch), moving-average momentum 0.9 (torch's 0.1).
  const bn = (name: string) =>
    tf.layers.batchNormalization({ name, epsilon: c.bnEpsilon, momentum: 0.9 });
  const prelu = (name: string) =>
    tf.layers.prelu({
      name,
      sharedAxes: [1, 2],
      alphaInitializer: tf.initializers.constant({ value: 0.25 }),
    });
  const conv = (name: string, filters: number, kernelSize: number, strides: number) =>
    tf.layers.conv2d({
      name,
      filters,
      kernelSize,
      strides,
      padding: "same",
      useBias: false,
      kernelInitializer: kernelInit(),
    });
  return { nextSeed, kernelInit, bn, prelu, conv };
}
