/**
 * The step loop of a training run: read a batch, one Trainer step, then the periodic work (log
 * window means, checkpoints, held-out verification), until `stopAt`, the end of the data, an abort
 * or a non-finite loss.
 */
import * as tf from "@tensorflow/tfjs";
import type { TrainBatch } from "../../pipeline/batch/tensor_batch_stream.ts";
import {
  evaluateHeldout,
  evaluateValTargets,
  type RunState,
  saveRunCheckpoint,
} from "./run_state.ts";
import type { LogEntry } from "./train_log.ts";
import { writeTrainPlot } from "./train_plot.ts";
import { NonFiniteLossError, type StepMetrics } from "./trainer.ts";

/** Sums over the steps since the last log line; a log line carries their means. */
class StepWindow {
  images = 0;
  seconds = 0;
  loss = 0;
  inference = 0;
  decay = 0;
  acc = 0;
  n = 0;

  add(images: number, seconds: number, m: StepMetrics): void {
    this.images += images;
    this.seconds += seconds;
    this.loss += m.totalLoss;
    this.inference += m.inferenceLoss;
    this.decay += m.weightDecayLoss;
    this.acc += m.accuracy;
    this.n++;
  }

  /** The window's means as a log line (as the seed averaged its display values). */
  entry(epoch: number, step: number, lr: number): LogEntry {
    return {
      time: new Date().toISOString(),
      epoch,
      step,
      totalLoss: this.loss / this.n,
      inferenceLoss: this.inference / this.n,
      weightDecayLoss: this.decay / this.n,
      accuracy: this.acc / this.n,
      lr,
      imagesPerSec: this.images / this.seconds,
      numTensors: tf.memory().numTensors,
      rssBytes: Deno.memoryUsage().rss,
    };
  }
}

/**
 * Runs steps until `stopAt`; sets `summary.stoppedBy` to "interrupted" or "non-finite loss" when
 * one of those ends it. The caller saves the final checkpoint.
 */
export async function runSteps(
  s: RunState,
  source: ReadableStreamDefaultReader<TrainBatch>,
  schedule: (step: number) => number,
  stopAt: number,
): Promise<void> {
  let window = new StepWindow();
  while (s.step < stopAt) {
    if (s.options.signal?.aborted) {
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
    s.options.onStep?.({ step: s.step, keys: batch.keys, metrics: m });
    s.cursor = batch.cursor;
    s.epoch = batch.cursor.epoch;
    s.images += batch.keys.length;
    s.seconds += dt;
    window.add(batch.keys.length, dt, m);
    s.log.progress(s.step, stopAt, m.totalLoss, window.images / window.seconds);
    if (s.step % s.config.logEvery === 0 || s.step === stopAt || s.summary.firstLoss === null) {
      await logWindow(s, window.entry(batch.epoch, s.step, m.lr));
      window = new StepWindow();
    }
    await periodic(s, stopAt);
  }
}

/** One Trainer step on `batch` (freed here); null after a non-finite loss (noted in the log). */
async function trainOn(s: RunState, batch: TrainBatch, lr: number): Promise<StepMetrics | null> {
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
  await s.events.scalars(entry.step, {
    loss: entry.totalLoss,
    "loss/margin_softmax": entry.inferenceLoss,
    "loss/weight_decay": entry.weightDecayLoss,
    learning_rate: entry.lr,
    "train/accuracy": entry.accuracy,
    "train/images_per_sec": entry.imagesPerSec,
  });
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
  if (s.val && evalDue) await evaluateValTargets(s);
  if (s.heldout && evalDue) {
    const r = await evaluateHeldout(s);
    await s.log.note(
      `step ${step}: held-out verification ${(100 * r.accuracyMean).toFixed(2)}% +- ${
        (100 * r.accuracyStd).toFixed(2)
      } on ${r.nPairs} pairs`,
    );
  }
}
