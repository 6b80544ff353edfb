/**
 * Margin-based softmax heads: ArcFace `cos(theta + m)`, CosFace `cos(theta) - m` and the combined
 * margin `cos(m1 * theta + m2) - m3` (Deng et al., "ArcFace: Additive Angular Margin Loss for Deep
 * Face Recognition", arXiv 1801.07698, eq. 3 and eq. 4).
 *
 * Embeddings and class weights are L2-normalized, so `cos(theta_j) = <x / |x|, W_j / |W_j|>`.
 * Only the target logit gets the margin; all logits are scaled by s.
 */
import type * as tfTypes from "@tensorflow/tfjs";
import * as tf from "@tensorflow/tfjs";

export type MarginType = "arcface" | "cosface" | "combined";

export interface MarginOptions {
  /** Which margin. Default: "arcface". */
  type?: MarginType;
  /** Scale s of the logits. Default: 64. */
  s?: number;
  /** Multiplicative angular margin m1 (combined only). Default: 1. */
  m1?: number;
  /** Additive angular margin m2 (ArcFace's m). Default: 0.5 (arcface), 0 (cosface). */
  m2?: number;
  /** Additive cosine margin m3 (CosFace's m). Default: 0 (arcface), 0.35 (cosface). */
  m3?: number;
  /**
   * Softmax warm start: the first `warmupSteps` steps (0-based step < warmupSteps) train the
   * normalized softmax `s * cos(theta)` with no margin, then the margin applies, as insightface's
   * two-stage MobileFaceNet recipe (softmax, then ArcFace s = 64, m = 0.5). Default: 0.
   */
  warmupSteps?: number;
}

export type MarginConfig = Required<MarginOptions>;

/**
 * Fills in defaults for the chosen margin type and validates them.
 * @example
 * ```ts
 * import { marginConfig } from "../mod.ts";
 *
 * console.log(marginConfig({ m2: 0.5, s: 64 })); // ArcFace: cos(theta + 0.5), scaled by 64
 * ```
 */
export function marginConfig(options: MarginOptions = {}): MarginConfig {
  const type = options.type ?? "arcface";
  if (type !== "arcface" && type !== "cosface" && type !== "combined") {
    throw new RangeError(`Unknown margin "${type}": expected arcface, cosface or combined`);
  }
  const c: MarginConfig = {
    type,
    s: options.s ?? 64,
    m1: type === "combined" ? (options.m1 ?? 1) : 1,
    m2: type === "cosface" ? 0 : (options.m2 ?? (type === "arcface" ? 0.5 : 0.3)),
    m3: type === "arcface" ? 0 : (options.m3 ?? (type === "cosface" ? 0.35 : 0.2)),
    warmupSteps: options.warmupSteps ?? 0,
  };
  if (!Number.isInteger(c.warmupSteps) || c.warmupSteps < 0) {
    throw new RangeError(`Margin warm-up must be an integer >= 0 steps, got ${c.warmupSteps}`);
  }
  if (!(c.s > 0)) throw new RangeError(`Margin scale s must be > 0, got ${c.s}`);
  if (!(c.m1 >= 1)) throw new RangeError(`Margin m1 must be >= 1, got ${c.m1}`);
  if (!(c.m2 >= 0 && c.m2 < Math.PI / 2)) {
    throw new RangeError(`Angular margin m must be in [0, pi/2), got ${c.m2}`);
  }
  if (!(c.m3 >= 0 && c.m3 < 1)) {
    throw new RangeError(`Cosine margin must be in [0, 1), got ${c.m3}`);
  }
  return c;
}

/**
 * The target logit before scaling, from `cos` [N] (values in [-1, 1]).
 *
 * ArcFace (m1 = 1, m3 = 0): `cos(theta + m) = cos*cos(m) - sin*sin(m)`; when theta + m > pi the
 * function is no longer monotonic in theta, so, as insightface does, those entries use
 * `cos(theta) - sin(pi - m) * m` instead (where `cos(theta) <= cos(pi - m)`).
 * Combined (m1 > 1): `cos(m1 * acos(cos) + m2) - m3`, with the same fallback where
 * `m1 * theta + m2 > pi`.
 * The branch is selected with a `step()` mask (no gradient needed), since TF.js has no gradient
 * for comparison ops feeding `where`.
 */
export function marginTarget(cos: tfTypes.Tensor, c: MarginConfig): tfTypes.Tensor {
  return tf.tidy(() => {
    if (c.m1 === 1 && c.m2 === 0) return tf.sub(cos, c.m3);
    let margined: tfTypes.Tensor;
    let threshold: number;
    if (c.m1 === 1) {
      // sin(theta) >= 0 for theta in [0, pi]; the floor keeps d sqrt finite at |cos| = 1.
      const sin = tf.sqrt(tf.maximum(tf.sub(1, tf.square(cos)), 1e-9));
      margined = tf.sub(tf.mul(cos, Math.cos(c.m2)), tf.mul(sin, Math.sin(c.m2)));
      threshold = Math.cos(Math.PI - c.m2);
    } else {
      const theta = tf.acos(tf.clipByValue(cos, -1 + 1e-7, 1 - 1e-7));
      margined = tf.cos(tf.add(tf.mul(theta, c.m1), c.m2));
      threshold = Math.cos((Math.PI - c.m2) / c.m1);
    }
    const fallback = tf.sub(cos, Math.sin(Math.PI - c.m2) * c.m2);
    // 1 where theta is small enough for the margin to keep the logit monotonic, else 0.
    const ok = tf.step(tf.sub(cos, threshold));
    const target = tf.add(tf.mul(ok, margined), tf.mul(tf.sub(1, ok), fallback));
    return tf.sub(target, c.m3);
  });
}

/**
 * The class-weight matrix and the margin. Owns one variable `W` [D, C]; call `dispose()`.
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { MarginHead } from "../mod.ts";
 *
 * const head = new MarginHead(512, 1000); // class weights [512, 1000]; ArcFace s = 64, m = 0.5
 * const labels = tf.tensor1d([0, 1, 2, 3], "int32");
 * const logits = tf.tidy(() => head.logits(tf.randomNormal([4, 512]), labels));
 * console.log(logits.shape); // [4, 1000]
 * tf.dispose([logits, labels]);
 * head.dispose();
 * ```
 */
export class MarginHead {
  readonly config: MarginConfig;
  readonly weights: tfTypes.Variable;
  readonly numClasses: number;

  constructor(embeddingSize: number, numClasses: number, options: MarginOptions = {}, seed = 7) {
    if (!Number.isInteger(numClasses) || numClasses < 2) {
      throw new RangeError(`A margin head needs >= 2 classes, got ${numClasses}`);
    }
    this.config = marginConfig(options);
    this.numClasses = numClasses;
    // [D, C]; normal(0, 0.01) as arcface_torch; only the direction matters after normalization.
    // (inside tidy: the initial value would otherwise outlive the variable as a stray tensor)
    this.weights = tf.tidy(() =>
      tf.variable(tf.randomNormal([embeddingSize, numClasses], 0, 0.01, "float32", seed), true)
    );
  }

  /** Cosines between embeddings [B, D] and every class: [B, C]. */
  cosines(embeddings: tfTypes.Tensor2D): tfTypes.Tensor2D {
    return tf.tidy(() => {
      const x = l2Normalize(embeddings, 1);
      const w = l2Normalize(this.weights, 0);
      return tf.clipByValue(tf.matMul(x, w), -1, 1) as tfTypes.Tensor2D;
    });
  }

  /**
   * Scaled logits [B, C] with the margin on each row's label (labels: [B] int32), at training
   * step `step` (0-based): before the config's `warmupSteps` the margin is left out.
   */
  logits(
    embeddings: tfTypes.Tensor2D,
    labels: tfTypes.Tensor1D,
    step = Infinity,
  ): tfTypes.Tensor2D {
    return tf.tidy(() => marginLogits(this.cosines(embeddings), labels, this.marginAt(step)));
  }

  /** The margin in force at 0-based training step `step`: none during the softmax warm start. */
  marginAt(step: number): MarginConfig {
    if (step >= this.config.warmupSteps) return this.config;
    return { ...this.config, m1: 1, m2: 0, m3: 0 };
  }

  dispose(): void {
    this.weights.dispose();
  }
}

/**
 * Applies the margin to the label column of `cos` [B, C] and scales by s.
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { marginConfig, marginLogits } from "../mod.ts";
 *
 * const logits = tf.tidy(() => {
 *   const cos = tf.tensor2d([[0.9, 0.1], [0.2, 0.7]]); // [B, C]
 *   return marginLogits(cos, tf.tensor1d([0, 1], "int32"), marginConfig());
 * });
 * logits.print();
 * ```
 */
export function marginLogits(
  cos: tfTypes.Tensor2D,
  labels: tfTypes.Tensor1D,
  c: MarginConfig,
): tfTypes.Tensor2D {
  return tf.tidy(() => {
    const oneHot = tf.oneHot(tf.cast(labels, "int32"), cos.shape[1]); // [B, C] int32
    const mask = tf.cast(oneHot, "float32");
    const target = marginTarget(cos, c);
    const mixed = tf.add(tf.mul(mask, target), tf.mul(tf.sub(1, mask), cos));
    return tf.mul(mixed, c.s) as tfTypes.Tensor2D;
  });
}

/** x / max(|x|, 1e-12) along `axis`. */
export function l2Normalize(x: tfTypes.Tensor, axis: number): tfTypes.Tensor {
  return tf.tidy(() => {
    const norm = tf.sqrt(tf.maximum(tf.sum(tf.square(x), axis, true), 1e-24));
    return tf.div(x, norm);
  });
}

/** Mean softmax cross-entropy of logits [B, C] against int labels [B]. */
export function softmaxCrossEntropy(
  logits: tfTypes.Tensor2D,
  labels: tfTypes.Tensor1D,
): tfTypes.Scalar {
  return tf.tidy(() => {
    const mask = tf.cast(tf.oneHot(tf.cast(labels, "int32"), logits.shape[1]), "float32");
    return tf.neg(tf.mean(tf.sum(tf.mul(mask, tf.logSoftmax(logits)), 1))) as tfTypes.Scalar;
  });
}
