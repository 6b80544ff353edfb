/**
 * What `runTraining()` (train_run.ts) takes and returns: the run's options and its summary.
 */
import type { TrainConfig } from "./presets.ts";
import type { StepMetrics } from "./trainer.ts";
import type { ValTarget } from "./val_targets.ts";

export interface RunOptions {
  config: TrainConfig;
  /** Run folder (log.txt, log.jsonl, checkpoints/, export/). Required. */
  out: string;
  /**
   * Continue from the newest intact checkpoint in `out/checkpoints`; `config` must match the run's
   * (`out/run.json`) except for the fields a resume may extend (see resume_config.ts). Default: false.
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
  /** Where `data: "-"` reads its records. Default: `Deno.stdin.readable`. */
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
