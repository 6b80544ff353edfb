/**
 * The training loop of `deno task train` (ArcFace, arXiv 1801.07698), top to bottom as
 * arcface_torch's `train_v2.py` reads: open the run folder, load the data, build the Trainer
 * (resumed from a checkpoint), then for each batch one step, its log line, and the periodic
 * checkpoint and evaluations (held-out pairs, `--val-targets` sets); at the end the final
 * checkpoint, the backbone export and the scores. Log lines also go to TensorBoard (train_log.ts).
 *
 * Resume: a checkpoint holds every weight, the momentum slots, the step, the data cursor and the
 * seeds, so `resume: true` continues on exactly the batch sequence of an uninterrupted run.
 */
import * as tf from "@tensorflow/tfjs";
import { join } from "node:path";
import { trainBatches } from "../../pipeline/batch/train_batches.ts";
import type { TrainBatch } from "../../pipeline/batch/tensor_batch_stream.ts";
import { HeldoutPairs } from "./heldout_eval.ts";
import { exportBackbone, type OpenRun, openRunFolder, saveRunCheckpoint } from "./run_folder.ts";
import type { RunOptions, RunState, RunSummary } from "./run_types.ts";
import { buildTrainer, resolveSteps, startState } from "./run_start.ts";
import { makeSchedule } from "./schedule.ts";
import { loadTrainData } from "./train_data.ts";
import { type LogEntry, StepWindow, TrainLog } from "./train_log.ts";
import { writeTrainPlot } from "./train_plot.ts";
import { NonFiniteLossError, type StepMetrics } from "./trainer.ts";
import { evaluateHeldout, evaluateVal } from "./run_evals.ts";

export type { RunOptions, RunSummary } from "./run_types.ts";

/**
 * Runs (or resumes) training; never throws for a NaN loss or an interrupt: see `stoppedBy`.
 * Holds the run folder's lock throughout; throws a `RunFolderError` when the folder is not
 * available (in use, not empty without `overwrite`, conflicting config on resume).
 * @example
 * ```ts
 * import { presetConfig, runTraining, withSteps } from "../mod.ts";
 *
 * const out = await Deno.makeTempDir();
 * const summary = await runTraining({ config: withSteps(presetConfig("lfw-small"), 20), out });
 * console.log(summary); // and out/log.txt, out/checkpoints/, out/export/model.json
 * ```
 */
export async function runTraining(options: RunOptions): Promise<RunSummary> {
  const run = await openRunFolder({
    out: options.out,
    resume: options.resume ?? false,
    overwrite: options.overwrite,
    config: options.config,
    warn: options.warn ?? ((m) => console.warn(m)),
  });
  try {
    return await trainInFolder(options, run);
  } finally {
    run.checkpoint?.tensors.forEach((t) => t.dispose());
    await run.lock.release();
  }
}

async function trainInFolder(options: RunOptions, run: OpenRun): Promise<RunSummary> {
  const config = structuredClone(options.config);
  const { print, progress } = options;
  const log = new TrainLog(options.out, { print, progress, events: true });
  const data = await loadTrainData(config.data, config.dataRoot, config.numClasses, options.stdin);
  await resolveSteps(config, data, run, options, log);
  const trainer = await buildTrainer(config, data.numClasses, options, log);
  let source: ReadableStreamDefaultReader<TrainBatch> | null = null;
  try {
    const s = await startState(options, run, config, log, trainer, data);
    const schedule = makeSchedule(config.schedule);
    const stopAt = Math.min(options.stopAt ?? config.steps, config.steps);
    s.heldout = config.evalPairs
      ? await HeldoutPairs.load(config.evalPairs, config.evalData, config.network.inputSize, {
        dctScale: config.dctScale,
      })
      : null;
    // list -> wraparound batches -> decode (workers) -> tensors (pipeline/batch/train_batches.ts).
    source = trainBatches(data.records, {
      batchSize: config.batchSize,
      seed: config.seed,
      // A stream is not replayable: a resumed run continues with what the new stdin delivers.
      cursor: data.size === null ? { epoch: s.cursor.epoch, start: 0, step: s.step } : s.cursor,
      imageSize: config.network.inputSize,
      flip: config.flip,
      augment: config.augment,
      dctScale: config.dctScale,
      steps: Math.max(0, stopAt - s.step),
      workers: options.workers ?? 2,
      onError: "skip",
      numClasses: data.numClasses,
    }).getReader();

    // The loop: one step per batch until stopAt, the end of the data, an abort or a NaN loss.
    let window = new StepWindow();
    while (s.step < stopAt) {
      if (options.signal?.aborted) {
        s.summary.stoppedBy = "interrupted";
        break;
      }
      const t0 = performance.now();
      const next = await source.read();
      if (next.done) break; // `steps` batches, or the end of a stream
      const batch = next.value;
      s.skipped.push(...batch.skipped);
      const m = await trainOn(s, batch, schedule(s.step));
      if (!m) break;
      const dt = (performance.now() - t0) / 1000;
      s.step++;
      options.onStep?.({ step: s.step, keys: batch.keys, metrics: m });
      s.cursor = batch.cursor;
      s.epoch = batch.cursor.epoch;
      s.images += batch.keys.length;
      s.seconds += dt;
      window.add(batch.keys.length, dt, m);
      log.progress(s.step, stopAt, m.totalLoss, window.images / window.seconds);
      if (s.step % config.logEvery === 0 || s.step === stopAt || s.summary.firstLoss === null) {
        await logWindow(s, window.entry(batch.epoch, s.step, m.lr));
        window = new StepWindow();
      }
      await periodic(s, stopAt);
    }
    return await finishRun(s);
  } finally {
    await source?.cancel().catch(() => {}); // reaches every stage: prefetch stops, decode workers end
    trainer.dispose();
  }
}

/** One Trainer step on `batch` (freed here); null after a non-finite loss (noted in the log). */
async function trainOn(s: RunState, batch: TrainBatch, lr: number): Promise<StepMetrics | null> {
  const warm = s.trainer.head.config.warmupSteps; // the loss jumps here: say why in the log
  if (warm > 0 && s.step === warm) {
    await s.log.note(`step ${warm}: softmax warm start over, margin on`);
  }
  try {
    return await s.trainer.trainStep(batch.images, batch.labels, lr, s.step);
  } catch (e) {
    if (!(e instanceof NonFiniteLossError)) throw e;
    s.summary.stoppedBy = "non-finite loss";
    s.summary.error = e.message;
    await s.log.note(
      `STOPPED: ${e.message}; the last good checkpoint (${s.lastCheckpoint ?? "none"}) is intact`,
    );
    return null;
  } finally {
    tf.dispose([batch.images, batch.labels]);
  }
}

/** Writes a log line and keeps the summary's first and last loss and accuracy. */
async function logWindow(s: RunState, entry: LogEntry): Promise<void> {
  await s.log.entry(entry);
  s.summary.lastLoss = entry.totalLoss;
  s.summary.lastAccuracy = entry.accuracy;
  s.summary.firstLoss ??= entry.totalLoss;
  s.summary.firstAccuracy ??= entry.accuracy;
}

/** The checkpoint and held-out verification due at this step (not at the last one). */
async function periodic(s: RunState, stopAt: number): Promise<void> {
  const { step, config } = s;
  if (step % config.checkpointEvery === 0 && step < stopAt) {
    await saveRunCheckpoint(s);
    s.summary.plot = await writeTrainPlot(s.options.out, s.title);
  }
  const evalDue = config.evalEvery > 0 && step % config.evalEvery === 0 && step < stopAt;
  if (s.val && evalDue) await evaluateVal(s);
  if (s.heldout && evalDue) {
    const r = await evaluateHeldout(s);
    await s.log.note(
      `step ${step}: held-out verification ${(100 * r.accuracyMean).toFixed(2)}% +- ${
        (100 * r.accuracyStd).toFixed(2)
      } on ${r.nPairs} pairs`,
    );
  }
}

/** The end, after the last step: final checkpoint, export, held-out score (not after a NaN). */
async function finishRun(s: RunState): Promise<RunSummary> {
  const { summary, log, skipped } = s;
  summary.step = s.step;
  if (skipped.length > 0) {
    await log.note(`skipped ${skipped.length} unreadable images, first: ${skipped[0].reason}`);
  }
  summary.imagesPerSec = s.seconds > 0 ? s.images / s.seconds : 0;
  if (summary.stoppedBy !== "non-finite loss") {
    await saveRunCheckpoint(s);
    summary.exportDir = await exportBackbone(s.trainer, s.config, s.options.out, s.step);
    await log.note(`exported ${join(summary.exportDir, "model.json")}`);
    if (s.val && summary.stoppedBy === "done") summary.val = await evaluateVal(s);
    if (s.heldout && summary.stoppedBy === "done") {
      const r = await evaluateHeldout(s);
      summary.heldout = {
        accuracy: r.accuracyMean,
        std: r.accuracyStd,
        auc: r.auc,
        pairs: r.nPairs,
      };
      await log.note(
        `held-out verification ${(100 * r.accuracyMean).toFixed(2)}% +- ${
          (100 * r.accuracyStd).toFixed(2)
        } (AUC ${r.auc.toFixed(4)}) on ${r.nPairs} pairs of unseen identities`,
      );
    }
  }
  summary.checkpoint = s.lastCheckpoint;
  summary.plot = await writeTrainPlot(s.options.out, s.title);
  await log.note(`curves ${summary.plot}`);
  return summary;
}
