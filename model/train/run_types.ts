/**
 * What `runTraining()` (train_loop.ts) takes and returns, the run's options and its summary, and
 * the state its loop carries from step to step (`RunState`).
 */
import type { SkippedRecord } from "../../pipeline/batch/decode_batch_stream.ts";
import type { WrapCursor } from "../../pipeline/batch/wrap_batch_stream.ts";
import type { HeldoutPairs } from "./heldout_eval.ts";
import type { TrainConfig } from "./presets.ts";
import type { TrainLog } from "./train_log.ts";
import type { StepMetrics, Trainer } from "./trainer.ts";
import type { ValTarget, ValTargetRun } from "./val_targets.ts";

export interface RunOptions {
  config: TrainConfig;
  /** Run folder (log.txt, log.jsonl, checkpoints/, export/). Required. */
  out: string;
  /**
   * Continue from the newest intact checkpoint in `out/checkpoints`; `config` must match the run's
   * (`out/run.json`) except for the fields a resume may extend (see config_diff.ts). Default: false.
   */
  resume?: boolean;
  /** A new run into a non-empty folder: clear the run's own files instead of refusing. */
  overwrite?: boolean;
  /** Where warnings go (stale lock taken over, damaged checkpoint skipped). Default: console.warn. */
  warn?: (message: string) => void;
  /** Stop after this global step (for tests and for splitting a run); Default: config.steps. */
  stopAt?: number;
  /** Where log lines go. Default: console.log. */
  print?: (line: string) => void;
  /** Progress bar on stderr. Default: stderr is a terminal. */
  progress?: boolean;
  /** Decode workers of the data source (0: in this thread). Default: 2. */
  workers?: number;
  /** Where `data: "-"` reads its records (the task passes stdin). Required for `data: "-"`. */
  stdin?: () => ReadableStream<Uint8Array>;
  /** An abort signal; when it fires the loop saves a checkpoint after the current step and stops. */
  signal?: AbortSignal;
  /**
   * Validation sets scored every `config.evalEvery` steps and at the end (loaded and checked by
   * the caller, see val_targets.ts). Default: none.
   */
  valTargets?: ValTarget[];
  /** Called after each step with the batch's sample keys and the step's metrics. */
  onStep?: (info: { step: number; keys: string[]; metrics: StepMetrics }) => void;
}

export interface RunSummary {
  stoppedBy: "done" | "interrupted" | "non-finite loss";
  /** Global step reached (steps done). */
  step: number;
  firstLoss: number | null;
  lastLoss: number | null;
  firstAccuracy: number | null;
  lastAccuracy: number | null;
  /** Mean images/s over the steps of this invocation. */
  imagesPerSec: number;
  checkpoint: string | null;
  exportDir: string | null;
  /** The curves (`curves.svg` in the run folder), redrawn at each evaluation and at the end. */
  plot: string | null;
  /** Held-out verification accuracy (10-fold mean) at the end, when pairs were given. */
  heldout: { accuracy: number; std: number; auc: number; pairs: number } | null;
  /** The validation targets' last evaluation (at the end), when `valTargets` were given. */
  val?: { name: string; accuracy: number; std: number; highest: number; pairs: number }[];
  /** The NaN/Inf message when stoppedBy is "non-finite loss". */
  error?: string;
}

/** A summary before the first step. */
export function emptySummary(): RunSummary {
  return {
    stoppedBy: "done",
    step: 0,
    firstLoss: null,
    lastLoss: null,
    firstAccuracy: null,
    lastAccuracy: null,
    imagesPerSec: 0,
    checkpoint: null,
    exportDir: null,
    plot: null,
    heldout: null,
  };
}

/** The state of one run's loop: the trainer, the position (step, data cursor, epoch), the summary. */
export interface RunState {
  options: RunOptions;
  /** The run's config, epochs resolved to steps. */
  config: TrainConfig;
  log: TrainLog;
  trainer: Trainer;
  /** Held-out verification pairs, when `config.evalPairs` is set. */
  heldout: HeldoutPairs | null;
  /** Validation sets (`--val-targets`) with their highest accuracies, when given. */
  val: ValTargetRun | null;
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
