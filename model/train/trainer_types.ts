/**
 * The Trainer's options, a step's metrics and the error a non-finite loss raises (`trainer.ts`
 * re-exports them).
 */
import type { MarginOptions } from "../loss/arcface.ts";
import type { NetworkOptions } from "../nets/network.ts";
import type { DecaySet } from "./presets.ts";

export interface TrainerOptions {
  /** Backbone options (arch, depth, width, input size, ...). */
  network: NetworkOptions;
  /** Number of identities (columns of the class-weight matrix). */
  numClasses: number;
  /** Margin head options. Default: ArcFace, s = 64, m = 0.5. */
  margin?: MarginOptions;
  /** L2 weight decay on conv/FC kernels, class weights, BN gammas and PReLU alphas. Default: 5e-4. */
  weightDecay?: number;
  /** Weight decay of the class weights ("head/weights") alone. Default: `weightDecay`. */
  headWeightDecay?: number;
  /** SGD momentum. Default: 0.9. */
  momentum?: number;
  /**
   * Micro-batch size for gradient accumulation; the batch must divide evenly. 0 = the whole batch
   * at once. Default: 0.
   */
  microBatch?: number;
  /** Seed of the class-weight initializer. Default: 7. */
  headSeed?: number;
  /**
   * Which weights decay: "no-bias" (conv/FC kernels, class weights, BN gammas, PReLU alphas: every
   * weight but biases and BN betas, as the original TensorFlow ArcFace code's l2 regularizer) or
   * "all" (every trained variable, as arcface_torch's SGD weight_decay). "seed", the old name of
   * "no-bias", is still read (run configs written before the rename). Default: "no-bias".
   */
  decayOn?: DecaySet;
}

/** What one step reports (plain numbers, read back from the device). */
export interface StepMetrics {
  /** Inference (softmax cross-entropy) + weight-decay loss. */
  totalLoss: number;
  /** Softmax cross-entropy of the margin logits. */
  inferenceLoss: number;
  /** 0.5 * wd * sum of squared decayed weights. */
  weightDecayLoss: number;
  /**
   * Fraction of the batch whose margin-logit argmax is its label (the original TF ArcFace code's
   * training accuracy).
   */
  accuracy: number;
  /** Learning rate used for this step. */
  lr: number;
}

/** Raised when a step's loss or gradient is NaN or Inf; the update was not applied. */
export class NonFiniteLossError extends Error {
  constructor(readonly step: number, readonly loss: number, readonly gradNorm2?: number) {
    super(
      `${
        gradNorm2 === undefined ? `Loss is ${loss}` : `Gradient norm is ${gradNorm2} (loss ${loss})`
      } at step ${step}: training stopped before applying the update ` +
        `(try a lower --lr or a longer --warmup)`,
    );
    this.name = "NonFiniteLossError";
  }
}
