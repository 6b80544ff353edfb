/**
 * One backward pass's result (gradients and scalar losses) and the arithmetic of gradient
 * accumulation over micro-batches: sums, then the mean. Each function frees its inputs.
 */
import type * as tfTypes from "@tensorflow/tfjs";
import * as tf from "@tensorflow/tfjs";

/** Gradients keyed like `Trainer.variables`, scalar losses and the count of correct predictions. */
export interface GradResult {
  grads: Map<string, tfTypes.Tensor>;
  total: tfTypes.Tensor;
  inference: tfTypes.Tensor;
  decay: tfTypes.Tensor;
  correct: tfTypes.Tensor;
}

/** Frees every tensor of `r`. */
export function disposeResult(r: GradResult): void {
  for (const g of r.grads.values()) g.dispose();
  tf.dispose([r.total, r.inference, r.decay, r.correct]);
}

/** `a + b`, term by term; frees `a` and `b`. */
export function addResults(a: GradResult, b: GradResult): GradResult {
  const grads = new Map<string, tfTypes.Tensor>();
  for (const [k, g] of a.grads) grads.set(k, tf.add(g, b.grads.get(k)!));
  const sum = {
    grads,
    total: tf.add(a.total, b.total),
    inference: tf.add(a.inference, b.inference),
    decay: tf.add(a.decay, b.decay),
    correct: tf.add(a.correct, b.correct),
  };
  disposeResult(a);
  disposeResult(b);
  return sum;
}

/** The mean of `parts` results from their sum (`correct` stays a count); frees `sum`. */
export function meanResult(sum: GradResult, parts: number): GradResult {
  const grads = new Map<string, tfTypes.Tensor>();
  for (const [k, g] of sum.grads) grads.set(k, tf.div(g, parts));
  const mean: GradResult = {
    grads,
    total: tf.div(sum.total, parts),
    inference: tf.div(sum.inference, parts),
    decay: tf.div(sum.decay, parts),
    correct: sum.correct.clone(),
  };
  disposeResult(sum);
  return mean;
}
