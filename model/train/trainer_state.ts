/**
 * A `Trainer`'s full state as named tensors, what checkpoints save and restore:
 * "model/<layer>/<weight>" (every backbone weight, BN moving statistics included), "head/weights"
 * (the class weights) and "slot/<key>" (the optimizer's momentum slots).
 */
import type * as tfTypes from "@tensorflow/tfjs";
import type { MarginHead } from "../loss/arcface.ts";
import type { MomentumSGD } from "./optimizer.ts";

/** What holds the state (a `Trainer`). */
export interface TrainingStateOwner {
  readonly model: tfTypes.LayersModel;
  readonly head: MarginHead;
  readonly optimizer: MomentumSGD;
}

/** Every tensor of the training state (all model weights incl. BN moving stats, head, slots). */
export function trainingState(owner: TrainingStateOwner): Map<string, tfTypes.Tensor> {
  const out = new Map<string, tfTypes.Tensor>();
  for (const w of owner.model.weights) out.set(`model/${w.originalName}`, w.read());
  out.set("head/weights", owner.head.weights);
  for (const [k, v] of owner.optimizer.state()) out.set(`slot/${k}`, v);
  return out;
}

/** Restores `trainingState()` output (e.g. from a checkpoint); checks that every weight is present. */
export function restoreTrainingState(
  owner: TrainingStateOwner,
  tensors: Map<string, tfTypes.Tensor>,
): void {
  for (const w of owner.model.weights) {
    const t = tensors.get(`model/${w.originalName}`);
    if (!t) throw new RangeError(`Checkpoint has no tensor "model/${w.originalName}"`);
    if (t.shape.join("x") !== w.shape.join("x")) {
      throw new RangeError(
        `Checkpoint tensor "model/${w.originalName}" has shape [${t.shape}], expected [${w.shape}]`,
      );
    }
    w.write(t);
  }
  const h = tensors.get("head/weights");
  if (!h || h.shape.join("x") !== owner.head.weights.shape.join("x")) {
    throw new RangeError(
      `Checkpoint class weights are missing or not [${owner.head.weights.shape}] (other dataset?)`,
    );
  }
  owner.head.weights.assign(h);
  const slots = new Map<string, tfTypes.Tensor>();
  for (const [k, t] of tensors) if (k.startsWith("slot/")) slots.set(k.slice(5), t);
  owner.optimizer.restore(slots);
}
