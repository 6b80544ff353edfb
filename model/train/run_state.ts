/**
 * The state one training run shares between its loop (train_steps.ts) and its end
 * (train_finish.ts): the trainer, the position (step, data cursor, epoch), the last checkpoint and
 * the summary being filled; and the two actions both take, a checkpoint and a held-out evaluation.
 */
import { join } from "node:path";
import type { SkippedRecord } from "../../pipeline/batch/decode_batch_stream.ts";
import type { WrapCursor } from "../../pipeline/batch/wrap_batch_stream.ts";
import type { VerificationResult } from "../eval/verification.ts";
import { saveCheckpoint } from "./checkpoint.ts";
import type { HeldoutPairs } from "./heldout_eval.ts";
import type { TrainConfig } from "./presets.ts";
import type { RunOptions, RunSummary } from "./run_options.ts";
import type { TrainLog } from "./train_log.ts";
import { writeTrainPlot } from "./train_plot.ts";
import type { Trainer } from "./trainer.ts";

export interface RunState {
  options: RunOptions;
  /** The run's config, epochs resolved to steps. */
  config: TrainConfig;
  log: TrainLog;
  trainer: Trainer;
  /** Held-out verification pairs, when `config.evalPairs` is set. */
  heldout: HeldoutPairs | null;
  /** The curves' title. */
  title: string;
  summary: RunSummary;
  /** Global step reached (steps done). */
  step: number;
  /** Where the data source resumes: saved in each checkpoint. */
  cursor: WrapCursor;
  epoch: number;
  lastCheckpoint: string | null;
  /** Unreadable images the data source skipped. */
  skipped: SkippedRecord[];
  /** Images and seconds of this invocation's steps (for the mean images/s). */
  images: number;
  seconds: number;
}

/** Saves a checkpoint at the current step and cursor (atomic; the last `config.keep` kept). */
export async function saveRunCheckpoint(s: RunState): Promise<void> {
  s.lastCheckpoint = await saveCheckpoint(
    join(s.options.out, "checkpoints"),
    {
      step: s.step,
      epoch: s.epoch,
      cursor: s.cursor,
      seeds: { data: s.config.seed, network: s.config.network.seed },
      config: s.config,
    },
    s.trainer.state(),
    s.config.keep,
  );
  await s.log.note(`checkpoint ${s.lastCheckpoint}`);
}

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
