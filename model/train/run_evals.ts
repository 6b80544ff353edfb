/**
 * The evaluations of a training run (train_loop.ts runs them every `evalEvery` steps and at the
 * end): the held-out pairs (`heldout.jsonl`) and the `--val-targets` sets (log.jsonl lines, see
 * val_targets.ts), each of the current backbone, logged, and the curves redrawn.
 */
import type { VerificationResult } from "../eval/verification.ts";
import type { RunState, RunSummary } from "./run_types.ts";
import { writeTrainPlot } from "./train_plot.ts";

/** Held-out verification of the current backbone: logged, and the curves redrawn. */
export async function evaluateHeldout(s: RunState): Promise<VerificationResult> {
  const r = await s.heldout!.evaluate(s.trainer.model);
  await s.log.heldout({
    time: new Date().toISOString(),
    step: s.step,
    accuracy: r.accuracyMean,
    std: r.accuracyStd,
    auc: r.auc,
    pairs: r.nPairs,
    threshold: r.bestThreshold,
  });
  s.summary.plot = await writeTrainPlot(s.options.out, s.title);
  return r;
}

/** The validation targets (`--val-targets`) scored on the current backbone, the curves redrawn. */
export async function evaluateVal(s: RunState): Promise<RunSummary["val"]> {
  const entries = await s.val!.evaluate(s.trainer.model, s.step, s.epoch, s.log);
  s.summary.plot = await writeTrainPlot(s.options.out, s.title);
  return entries.map(({ val: name, accuracy, std, highest, pairs }) => ({
    name,
    accuracy,
    std,
    highest,
    pairs,
  }));
}
