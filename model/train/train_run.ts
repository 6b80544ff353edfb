/**
 * The training loop of `deno task train` (ArcFace, arXiv 1801.07698): data source -> Trainer
 * steps -> logs, checkpoints (atomic, last K), periodic held-out verification, TF.js export.
 *
 * Resume: a checkpoint holds every weight, the momentum slots, the step, the data cursor and the
 * seeds, so `resume: true` continues on exactly the batch sequence of an uninterrupted run.
 */
import * as tf from "@tensorflow/tfjs";
import { join } from "node:path";
import { trainBatches } from "../../pipeline/batch/train_batches.ts";
import type { TrainBatch } from "../../pipeline/batch/tensor_batch_stream.ts";
import type { SkippedRecord } from "../../pipeline/batch/decode_batch_stream.ts";
import type { WrapCursor } from "../../pipeline/batch/wrap_batch_stream.ts";
import { saveCheckpoint } from "./checkpoint.ts";
import { initBackboneFrom, initNetwork, readInitBackbone } from "../io/init_from.ts";
import { networkName } from "../nets/network.ts";
import { HeldoutPairs } from "./heldout_eval.ts";
import { ARCSTREAM_METADATA_KEY, fileSaveHandler } from "../io/model_io.ts";
import type { TrainConfig } from "./presets.ts";
import { type OpenRun, openRunFolder, recordRunConfig } from "./run_folder.ts";
import { makeSchedule } from "./schedule.ts";
import { loadTrainData } from "./train_data.ts";
import { withSteps } from "./train_flags.ts";
import { type LogEntry, TrainLog } from "./train_log.ts";
import { writeTrainPlot } from "./train_plot.ts";
import { NonFiniteLossError, type StepMetrics, Trainer } from "./trainer.ts";

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
  /** The NaN/Inf message when stoppedBy is "non-finite loss". */
  error?: string;
}

/**
 * Runs (or resumes) training; never throws for a NaN loss or an interrupt: see `stoppedBy`.
 * Holds the run folder's lock throughout; throws a `RunFolderError` when the folder is not
 * available (in use, not empty without `overwrite`, conflicting config on resume).
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
  const log = new TrainLog(options.out, { print: options.print, progress: options.progress });
  const ckptDir = join(options.out, "checkpoints");
  const data = await loadTrainData(config.data, config.dataRoot, config.numClasses, options.stdin);
  if (config.epochs !== undefined) {
    if (data.size === null) {
      throw new TypeError("--epochs needs a list; with --data - give --steps");
    }
    withSteps(config, Math.max(1, Math.ceil(config.epochs * data.size / config.batchSize)));
    delete config.epochs; // resolved: a resumed run reads the step count from run.json
  }
  await recordRunConfig(run, config, options.out, (line) => log.note(line));
  let step = 0;
  let cursor: WrapCursor = { epoch: 0, start: 0, step: 0 };
  // Fine-tuning: the source's architecture, its weights written once the trainer is built.
  const init = config.initFrom && !options.resume ? await readInitBackbone(config.initFrom) : null;
  if (init) config.network = initNetwork(config.network, init);
  const trainer = new Trainer({
    network: config.network,
    numClasses: data.numClasses,
    margin: config.margin,
    weightDecay: config.weightDecay,
    momentum: config.momentum,
    microBatch: config.microBatch,
    decayOn: config.decayOn,
  });
  if (init) {
    await initBackboneFrom(init, trainer.model);
    await log.note(`initialized the backbone from ${init.path} (fresh margin head)`);
  }
  let lastCheckpoint: string | null = null;
  let source: ReadableStreamDefaultReader<TrainBatch> | null = null;
  const skipped: SkippedRecord[] = [];
  try {
    if (run.checkpoint) {
      const ck = run.checkpoint;
      const path = ck.path;
      try {
        trainer.restore(ck.tensors);
      } finally {
        ck.tensors.forEach((t) => t.dispose());
      }
      step = ck.meta.step;
      cursor = ck.meta.cursor as WrapCursor;
      lastCheckpoint = path;
      await log.note(
        `resumed from ${path} at step ${step} (epoch ${ck.meta.epoch})` +
          (run.cutEntries
            ? `; log.jsonl cut back by ${run.cutEntries} lines past step ${step}`
            : ""),
      );
    } else {
      await log.note(
        `training ${config.preset}: ${networkName(config.network)} width ${config.network.width} ` +
          `input ${config.network.inputSize}, ${data.size ?? "a stream of"} images of ` +
          `${data.numClasses} ` +
          `identities from ${config.data}, batch ${config.batchSize}, ${config.steps} steps, ` +
          `backend ${tf.getBackend()}`,
      );
    }
    const schedule = makeSchedule(config.schedule);
    const stopAt = Math.min(options.stopAt ?? config.steps, config.steps);
    const heldout = config.evalPairs
      ? await HeldoutPairs.load(config.evalPairs, config.evalData)
      : null;
    // list -> shuffle -> wraparound batch -> decode (workers) -> tensors (train_batches.ts).
    source = trainBatches(data.records, {
      batchSize: config.batchSize,
      seed: config.seed,
      // A stream is not replayable: a resumed run continues with what the new stdin delivers.
      cursor: data.size === null ? { epoch: cursor.epoch, start: 0, step } : cursor,
      imageSize: config.network.inputSize,
      flip: config.flip,
      steps: Math.max(0, stopAt - step),
      workers: options.workers ?? 2,
      onError: "skip",
      numClasses: data.numClasses,
    }).getReader();
    const saveAt = async (epoch: number) => {
      lastCheckpoint = await saveCheckpoint(
        ckptDir,
        {
          step,
          epoch,
          cursor,
          seeds: { data: config.seed, network: config.network.seed },
          config,
        },
        trainer.state(),
        config.keep,
      );
      await log.note(`checkpoint ${lastCheckpoint}`);
    };
    const summary: RunSummary = {
      stoppedBy: "done",
      step,
      firstLoss: null,
      lastLoss: null,
      firstAccuracy: null,
      lastAccuracy: null,
      imagesPerSec: 0,
      checkpoint: lastCheckpoint,
      exportDir: null,
      plot: null,
      heldout: null,
    };
    const title = `${config.preset}: r${config.network.depth} x${config.network.width}, ` +
      `input ${config.network.inputSize}, batch ${config.batchSize}`;
    const evaluate = async () => {
      const r = await heldout!.evaluate(trainer.model);
      await log.heldout({
        time: new Date().toISOString(),
        step,
        accuracy: r.accuracyMean,
        std: r.accuracyStd,
        auc: r.auc,
        pairs: r.nPairs,
      });
      summary.plot = await writeTrainPlot(options.out, title);
      return r;
    };
    let images = 0;
    let seconds = 0;
    let window = { images: 0, seconds: 0, loss: 0, inference: 0, decay: 0, acc: 0, n: 0 };
    let epoch = cursor.epoch;
    while (step < stopAt) {
      if (options.signal?.aborted) {
        summary.stoppedBy = "interrupted";
        break;
      }
      const t0 = performance.now();
      const next = await source.read();
      if (next.done) break; // `steps` batches, or the end of a stream
      const batch = next.value;
      skipped.push(...batch.skipped);
      let m;
      try {
        m = await trainer.trainStep(batch.images, batch.labels, schedule(step), step);
      } catch (e) {
        if (!(e instanceof NonFiniteLossError)) throw e;
        summary.stoppedBy = "non-finite loss";
        summary.error = e.message;
        await log.note(
          `STOPPED: ${e.message}; the last good checkpoint (${lastCheckpoint ?? "none"}) is intact`,
        );
        break;
      } finally {
        tf.dispose([batch.images, batch.labels]);
      }
      const dt = (performance.now() - t0) / 1000;
      step++;
      options.onStep?.({ step, keys: batch.keys, metrics: m });
      cursor = batch.cursor;
      epoch = batch.cursor.epoch;
      images += batch.keys.length;
      seconds += dt;
      window = {
        images: window.images + batch.keys.length,
        seconds: window.seconds + dt,
        loss: window.loss + m.totalLoss,
        inference: window.inference + m.inferenceLoss,
        decay: window.decay + m.weightDecayLoss,
        acc: window.acc + m.accuracy,
        n: window.n + 1,
      };
      log.progress(step, stopAt, m.totalLoss, window.images / window.seconds);
      if (step % config.logEvery === 0 || step === stopAt || summary.firstLoss === null) {
        // Window means, as the seed averaged its display values.
        const entry: LogEntry = {
          time: new Date().toISOString(),
          epoch: batch.epoch,
          step,
          totalLoss: window.loss / window.n,
          inferenceLoss: window.inference / window.n,
          weightDecayLoss: window.decay / window.n,
          accuracy: window.acc / window.n,
          lr: m.lr,
          imagesPerSec: window.images / window.seconds,
          numTensors: tf.memory().numTensors,
          rssBytes: Deno.memoryUsage().rss,
        };
        await log.entry(entry);
        summary.lastLoss = entry.totalLoss;
        summary.lastAccuracy = entry.accuracy;
        summary.firstLoss ??= entry.totalLoss;
        summary.firstAccuracy ??= entry.accuracy;
        window = { images: 0, seconds: 0, loss: 0, inference: 0, decay: 0, acc: 0, n: 0 };
      }
      if (step % config.checkpointEvery === 0 && step < stopAt) {
        await saveAt(epoch);
        summary.plot = await writeTrainPlot(options.out, title);
      }
      if (heldout && config.evalEvery > 0 && step % config.evalEvery === 0 && step < stopAt) {
        const r = await evaluate();
        await log.note(
          `step ${step}: held-out verification ${(100 * r.accuracyMean).toFixed(2)}% +- ${
            (100 * r.accuracyStd).toFixed(2)
          } on ${r.nPairs} pairs`,
        );
      }
    }
    summary.step = step;
    if (skipped.length > 0) {
      await log.note(`skipped ${skipped.length} unreadable images, first: ${skipped[0].reason}`);
    }
    summary.imagesPerSec = seconds > 0 ? images / seconds : 0;
    if (summary.stoppedBy !== "non-finite loss") {
      await saveAt(epoch);
      summary.exportDir = await exportBackbone(trainer, config, options.out, step);
      await log.note(`exported ${join(summary.exportDir, "model.json")}`);
      if (heldout && summary.stoppedBy === "done") {
        const r = await evaluate();
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
    summary.checkpoint = lastCheckpoint;
    summary.plot = await writeTrainPlot(options.out, title);
    await log.note(`curves ${summary.plot}`);
    return summary;
  } finally {
    await source?.cancel().catch(() => {}); // reaches every stage: prefetch stops, decode workers end
    trainer.dispose();
  }
}

/** Saves the backbone (inference graph) as `out/export/model.json` + `weights.bin`. */
export async function exportBackbone(
  trainer: Trainer,
  config: TrainConfig,
  out: string,
  step: number,
): Promise<string> {
  const dir = join(out, "export");
  trainer.model.setUserDefinedMetadata({
    [ARCSTREAM_METADATA_KEY]: {
      normalize: "arcface",
      inputSize: config.network.inputSize,
      embeddingSize: config.network.embeddingSize,
      network: networkName(config.network),
      width: config.network.width,
      preset: config.preset,
      step,
    },
  });
  await trainer.model.save(fileSaveHandler(dir));
  return dir;
}
