/**
 * Momentum SGD as used to train ArcFace (arXiv 1801.07698, section 3.2: momentum 0.9), in the
 * `tf.train.MomentumOptimizer` / PyTorch form: `v = momentum * v + g; w = w - lr * v`.
 *
 * Weight decay is not applied here: it is a term of the loss (see `model/train/trainer.ts`), as in
 * the original TensorFlow ArcFace code, so that it is logged. The momentum slots are plain tensors
 * owned by this class so that a checkpoint can save and restore them exactly.
 */
import type * as tfTypes from "@tensorflow/tfjs";
import * as tf from "@tensorflow/tfjs";

export interface MomentumOptions {
  /** Momentum coefficient. Default: 0.9. */
  momentum?: number;
}

export class MomentumSGD {
  readonly momentum: number;
  /** Velocity per variable key, lazily created (zeros) on the first update. */
  readonly slots = new Map<string, tfTypes.Variable>();

  constructor(options: MomentumOptions = {}) {
    this.momentum = options.momentum ?? 0.9;
    if (!(this.momentum >= 0 && this.momentum < 1)) {
      throw new RangeError(`Momentum must be in [0, 1), got ${this.momentum}`);
    }
  }

  /** One update of every variable in `vars` (key -> variable) with `grads` (key -> gradient). */
  apply(
    vars: Map<string, tfTypes.Variable>,
    grads: Map<string, tfTypes.Tensor>,
    lr: number,
  ): void {
    if (!Number.isFinite(lr) || lr < 0) {
      throw new RangeError(`Learning rate must be >= 0, got ${lr}`);
    }
    for (const [key, g] of grads) {
      const w = vars.get(key);
      if (!w) throw new RangeError(`No variable "${key}" for a gradient`);
      let v = this.slots.get(key);
      if (!v) {
        v = tf.tidy(() => tf.variable(tf.zerosLike(w), false));
        this.slots.set(key, v);
      }
      const slot = v;
      tf.tidy(() => {
        const next = tf.add(tf.mul(slot, this.momentum), g);
        slot.assign(next);
        w.assign(tf.sub(w, tf.mul(next, lr)));
      });
    }
  }

  /** The slots as key -> tensor (views of the variables; do not dispose). */
  state(): Map<string, tfTypes.Tensor> {
    return new Map(this.slots);
  }

  /** Replaces the slots with variables initialized from `state` (the caller still owns `state`). */
  restore(state: Map<string, tfTypes.Tensor>): void {
    this.dispose();
    for (const [key, t] of state) this.slots.set(key, tf.variable(t, false));
  }

  dispose(): void {
    for (const v of this.slots.values()) v.dispose();
    this.slots.clear();
  }
}
