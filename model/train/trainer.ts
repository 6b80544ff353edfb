/**
 * One ArcFace training step: IR-ResNet forward in training mode, margin head, softmax
 * cross-entropy + L2 weight decay, gradients (optionally accumulated over micro-batches), momentum
 * SGD (Deng et al., arXiv 1801.07698, section 3.2).
 *
 * The `Trainer` owns the backbone, the class weights and the optimizer slots; `dispose()` frees
 * them. Its full state is a map of named tensors for checkpoints (`state()` / `restore()`, laid out
 * in `checkpoint.ts`).
 */
import type * as tfTypes from "@tensorflow/tfjs";
import * as tf from "@tensorflow/tfjs";
import { MarginHead, softmaxCrossEntropy } from "../loss/arcface.ts";
import { isDecayed } from "../nets/iresnet.ts";
import { buildNetwork, type NetworkConfig, networkConfig } from "../nets/network.ts";
import { networkTrainForward } from "../nets/network_train.ts";
import { MomentumSGD } from "./optimizer.ts";
import { sumOfSquares } from "./sum_of_squares.ts";
import { addResults, disposeResult, type GradResult, meanResult } from "./trainer_gradients.ts";
import { restoreTrainingState, trainingState } from "./checkpoint.ts";
import { variablesByName } from "../nets/train_ops.ts";

export type { GradResult } from "./trainer_gradients.ts";

export { NonFiniteLossError, type StepMetrics, type TrainerOptions } from "./trainer_types.ts";
import { NonFiniteLossError, type StepMetrics, type TrainerOptions } from "./trainer_types.ts";

/**
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { Trainer } from "../mod.ts";
 *
 * const network = { depth: 18, width: 0.25, inputSize: 64 };
 * const trainer = new Trainer({ network, numClasses: 10 });
 * const images = tf.randomUniform([8, 64, 64, 3], -1, 1) as tf.Tensor4D;
 * const labels = tf.tensor1d([0, 1, 2, 3, 4, 5, 6, 7], "int32");
 * const m = await trainer.trainStep(images, labels, 0.1, 0); // lr 0.1, step 0
 * console.log(m.totalLoss);
 * tf.dispose([images, labels]);
 * trainer.dispose();
 * ```
 */
export class Trainer {
  readonly network: NetworkConfig;
  readonly model: tfTypes.LayersModel;
  readonly head: MarginHead;
  readonly optimizer: MomentumSGD;
  readonly weightDecay: number;
  readonly headWeightDecay: number;
  readonly microBatch: number;
  /** Trainable variables by stable key ("model/<layer>/<weight>" or "head/weights"). */
  readonly variables = new Map<string, tfTypes.Variable>();
  /** Keys of the variables under weight decay. */
  readonly decayed: string[] = [];
  /** The backbone's variables (incl. BN moving stats) by "<layer>/<weight>". */
  readonly modelVars: Map<string, tfTypes.Variable>;

  constructor(options: TrainerOptions) {
    this.network = networkConfig(options.network);
    this.weightDecay = options.weightDecay ?? 5e-4;
    if (!(this.weightDecay >= 0)) {
      throw new RangeError(`Weight decay must be >= 0, got ${this.weightDecay}`);
    }
    this.headWeightDecay = options.headWeightDecay ?? this.weightDecay;
    if (!(this.headWeightDecay >= 0)) {
      throw new RangeError(`Head weight decay must be >= 0, got ${this.headWeightDecay}`);
    }
    this.microBatch = options.microBatch ?? 0;
    if (!Number.isInteger(this.microBatch) || this.microBatch < 0) {
      throw new RangeError(`Micro-batch must be an integer >= 0, got ${this.microBatch}`);
    }
    this.model = buildNetwork(this.network);
    this.head = new MarginHead(
      this.network.embeddingSize,
      options.numClasses,
      options.margin,
      options.headSeed ?? 7,
    );
    this.optimizer = new MomentumSGD({ momentum: options.momentum ?? 0.9 });
    this.modelVars = variablesByName(this.model);
    for (const w of this.model.trainableWeights) {
      // arcface_torch's `features.weight.requires_grad = False`: the output BN scale stays 1.
      const fixedScale = this.network.kind === "iresnet" && this.network.fixedFeatureScale;
      if (fixedScale && w.originalName === "out_bn2/gamma") continue;
      this.variables.set(`model/${w.originalName}`, w.read() as tfTypes.Variable);
    }
    this.variables.set("head/weights", this.head.weights);
    const decayOn = options.decayOn ?? "no-bias";
    if (decayOn !== "no-bias" && decayOn !== "seed" && decayOn !== "all") {
      throw new RangeError(`Weight decay set must be no-bias or all, got "${decayOn}"`);
    }
    for (const key of this.variables.keys()) {
      if (decayOn === "all" || key === "head/weights" || isDecayed(key)) this.decayed.push(key);
    }
  }

  /**
   * The batch itself, checked: [B, S, S, 3]. Inputs are made at the network's size by
   * `networkInput()` (pipeline/decode/network_input.ts), the one rule training and evaluation
   * share; a resize here would be a second rule.
   */
  private prepare(images: tfTypes.Tensor4D): tfTypes.Tensor4D {
    const s = this.network.inputSize;
    if (images.shape[1] !== s || images.shape[2] !== s) {
      throw new RangeError(
        `Batch images are ${images.shape[1]}x${images.shape[2]}, the network takes ${s}x${s}: ` +
          `make them with networkInput({ size: ${s} }) (trainBatches({ imageSize: ${s} }))`,
      );
    }
    return images.clone();
  }

  /**
   * Loss and gradients for one (micro-)batch. Returns the gradients keyed like `variables` and the
   * scalar losses and the count of correct predictions; all returned tensors belong to the caller.
   */
  gradients(
    images: tfTypes.Tensor4D,
    labels: tfTypes.Tensor1D,
    dropoutSeed?: number,
    step = Infinity,
  ): GradResult {
    const keys = [...this.variables.keys()];
    const varList = keys.map((k) => this.variables.get(k)!);
    let correct!: tfTypes.Scalar;
    const x = tf.tidy(() => this.prepare(images));
    try {
      const { value: inference, grads } = tf.variableGrads(() => {
        // [B, D]; training mode (batch statistics, dropout) on the LayersModel's variables.
        const emb = networkTrainForward(
          this.model,
          this.network,
          x,
          { dropoutSeed },
          this.modelVars,
        );
        const logits = this.head.logits(emb, labels, step); // [B, C]
        correct = tf.keep(
          tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), tf.cast(labels, "int32")), "float32")),
        );
        return softmaxCrossEntropy(logits, labels);
      }, varList);
      // The weight-decay term's gradient is wd * w: added here, one variable at a time, rather
      // than differentiated through the tape (which would hold a square of every weight at once).
      const decay = this.decayLoss();
      const decayed = new Set(this.decayed);
      const out = new Map<string, tfTypes.Tensor>();
      keys.forEach((k, i) => {
        const g = grads[varList[i].name];
        const wd = this.decayOf(k);
        if (!decayed.has(k) || wd === 0) return out.set(k, g);
        out.set(k, tf.tidy(() => tf.add(g, tf.mul(varList[i], wd))));
        g.dispose();
      });
      const total = tf.add(inference, decay);
      return { grads: out, total, inference, decay, correct };
    } finally {
      x.dispose();
    }
  }

  /** The weight decay of variable `key`: `headWeightDecay` for the class weights, else `weightDecay`. */
  decayOf(key: string): number {
    return key === "head/weights" ? this.headWeightDecay : this.weightDecay;
  }

  /**
   * 0.5 * wd * sum(w^2) over the decayed variables (tf.nn.l2_loss, as the original TF ArcFace
   * code's regularizer), the class weights at their own wd when it differs.
   */
  decayLoss(): tfTypes.Scalar {
    // Two sums so that a run without a separate head wd adds exactly what it always did.
    const sums = { body: tf.scalar(0) as tfTypes.Tensor, head: tf.scalar(0) as tfTypes.Tensor };
    const apart = this.headWeightDecay !== this.weightDecay;
    for (const k of this.decayed) {
      const part = apart && k === "head/weights" ? "head" : "body";
      const next = tf.tidy(() => tf.add(sums[part], sumOfSquares(this.variables.get(k)!)));
      sums[part].dispose();
      sums[part] = next;
    }
    const out = tf.tidy(() =>
      tf.add(
        tf.mul(sums.body, 0.5 * this.weightDecay),
        tf.mul(sums.head, 0.5 * this.headWeightDecay),
      )
    ) as tfTypes.Scalar;
    tf.dispose([sums.body, sums.head]);
    return out;
  }

  /**
   * Gradients of the whole batch, accumulated over micro-batches of `microBatch` samples when set:
   * the mean of the per-micro-batch gradients (each of which is a mean over its samples), which
   * equals the full-batch gradient up to BN's per-micro-batch statistics.
   */
  accumulate(images: tfTypes.Tensor4D, labels: tfTypes.Tensor1D, step = 0): GradResult {
    const b = images.shape[0];
    const m = this.microBatch === 0 || this.microBatch >= b ? b : this.microBatch;
    if (b % m !== 0) {
      throw new RangeError(`Batch size ${b} is not a multiple of the micro-batch size ${m}`);
    }
    const parts = b / m;
    // Dropout masks derive from (network seed, step, micro-batch): a resumed run draws the same.
    const seed = (p: number) => ((this.network.seed * 1000003 + step * 64 + p) >>> 0) % 2147483647;
    if (parts === 1) return this.gradients(images, labels, seed(0), step);
    let acc: GradResult | null = null;
    for (let p = 0; p < parts; p++) {
      const [xi, yi] = tf.tidy(() => [
        tf.slice(images, [p * m, 0, 0, 0], [m, -1, -1, -1]) as tfTypes.Tensor4D,
        tf.slice(labels, [p * m], [m]) as tfTypes.Tensor1D,
      ]);
      const r = this.gradients(xi, yi, seed(p), step);
      xi.dispose();
      yi.dispose();
      acc = acc === null ? r : addResults(acc, r);
    }
    return meanResult(acc!, parts);
  }

  /**
   * One optimizer step on a batch ([B, H, W, 3] images, [B] labels) at learning rate `lr`.
   * Throws `NonFiniteLossError` (without updating) when the loss is NaN/Inf.
   */
  async trainStep(
    images: tfTypes.Tensor4D,
    labels: tfTypes.Tensor1D,
    lr: number,
    step = 0,
  ): Promise<StepMetrics> {
    const r = this.accumulate(images, labels, step);
    try {
      // Squared global gradient norm: NaN/Inf in any gradient shows here, even where a clip
      // (e.g. of the cosines) kept the loss itself finite.
      let norm2: tfTypes.Tensor = tf.scalar(0);
      for (const g of r.grads.values()) {
        const next = tf.tidy(() => tf.add(norm2, sumOfSquares(g)));
        norm2.dispose();
        norm2 = next;
      }
      const [total, inference, decay, correct, gn] = await Promise.all(
        [r.total, r.inference, r.decay, r.correct, norm2].map((t) => t.data()),
      );
      norm2.dispose();
      if (!Number.isFinite(total[0])) throw new NonFiniteLossError(step, total[0]);
      if (!Number.isFinite(gn[0])) throw new NonFiniteLossError(step, total[0], gn[0]);
      this.optimizer.apply(this.variables, r.grads, lr);
      return {
        totalLoss: total[0],
        inferenceLoss: inference[0],
        weightDecayLoss: decay[0],
        accuracy: correct[0] / images.shape[0],
        lr,
      };
    } finally {
      disposeResult(r);
    }
  }

  /** Embeddings [B, D] in inference mode (moving BN statistics, no dropout). */
  embed(images: tfTypes.Tensor4D): tfTypes.Tensor2D {
    return tf.tidy(() =>
      this.model.apply(this.prepare(images), { training: false }) as tfTypes.Tensor2D
    );
  }

  /** Every tensor of the training state (all model weights incl. BN moving stats, head, slots). */
  state(): Map<string, tfTypes.Tensor> {
    return trainingState(this);
  }

  /** Restores `state()` output (e.g. from a checkpoint); checks that every weight is present. */
  restore(tensors: Map<string, tfTypes.Tensor>): void {
    restoreTrainingState(this, tensors);
  }

  dispose(): void {
    this.model.dispose();
    this.head.dispose();
    this.optimizer.dispose();
  }
}
