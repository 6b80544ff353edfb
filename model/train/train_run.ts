/**
 * The training loop of `deno task train` (ArcFace, arXiv 1801.07698): data source -> Trainer
 * steps -> logs, checkpoints (atomic, last K), periodic held-out verification, TF.js export.
 *
 * Resume: a checkpoint holds every weight, the momentum slots, the step, the data cursor and the
 * seeds, so `resume: true` continues on exactly the batch sequence of an uninterrupted run.
 *
 * This file opens the run and builds its start; the step loop is train_steps.ts, the end
 * (final checkpoint, export, held-out score) train_finish.ts.
 */
import * as tf from "@tensorflow/tfjs";
import { trainBatches } from "../../pipeline/batch/train_batches.ts";
import type { TrainBatch } from "../../pipeline/batch/tensor_batch_stream.ts";
import type { WrapCursor } from "../../pipeline/batch/wrap_batch_stream.ts";
import { initBackboneFrom, initNetwork, readInitBackbone } from "../io/init_from.ts";
import { HeldoutPairs } from "./heldout_eval.ts";
import type { TrainConfig } from "./presets.ts";
import { type OpenRun, openRunFolder, recordRunConfig } from "./run_folder.ts";
import type { RunOptions, RunSummary } from "./run_options.ts";
import type { RunState } from "./run_state.ts";
import { makeSchedule } from "./schedule.ts";
import { loadTrainData, type TrainData } from "./train_data.ts";
import { withSteps } from "./train_flags.ts";
import { finishRun } from "./train_finish.ts";
import { TrainLog } from "./train_log.ts";
import { runSteps } from "./train_steps.ts";
import { Trainer } from "./trainer.ts";
import { networkName } from "../nets/network.ts";

export type { RunOptions, RunSummary } from "./run_options.ts";

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
    // list -> shuffle -> wraparound batch -> decode (workers) -> tensors (train_batches.ts).
    source = trainBatches(data.records, {
      batchSize: config.batchSize,
      seed: config.seed,
      // A stream is not replayable: a resumed run continues with what the new stdin delivers.
      cursor: data.size === null ? { epoch: s.cursor.epoch, start: 0, step: s.step } : s.cursor,
      imageSize: config.network.inputSize,
      flip: config.flip,
      dctScale: config.dctScale,
      steps: Math.max(0, stopAt - s.step),
      workers: options.workers ?? 2,
      onError: "skip",
      numClasses: data.numClasses,
    }).getReader();
    await runSteps(s, source, schedule, stopAt);
    return await finishRun(s);
  } finally {
    await source?.cancel().catch(() => {}); // reaches every stage: prefetch stops, decode workers end
    trainer.dispose();
  }
}

/** Turns `--epochs` into a step count (a list's size is known) and records the run's config. */
async function resolveSteps(
  config: TrainConfig,
  data: TrainData,
  run: OpenRun,
  options: RunOptions,
  log: TrainLog,
): Promise<void> {
  if (config.epochs !== undefined) {
    if (data.size === null) {
      throw new TypeError("--epochs needs a list; with --data - give --steps");
    }
    withSteps(config, Math.max(1, Math.ceil(config.epochs * data.size / config.batchSize)));
    delete config.epochs; // resolved: a resumed run reads the step count from run.json
  }
  await recordRunConfig(run, config, options.out, (line) => log.note(line));
}

/** The Trainer; fine-tuning takes the source's architecture and writes its backbone weights. */
async function buildTrainer(
  config: TrainConfig,
  numClasses: number,
  options: RunOptions,
  log: TrainLog,
): Promise<Trainer> {
  const init = config.initFrom && !options.resume ? await readInitBackbone(config.initFrom) : null;
  if (init) config.network = initNetwork(config.network, init);
  const trainer = new Trainer({
    network: config.network,
    numClasses,
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
  return trainer;
}

/** The run's starting state: restored from the run's checkpoint, or a new run announced. */
async function startState(
  options: RunOptions,
  run: OpenRun,
  config: TrainConfig,
  log: TrainLog,
  trainer: Trainer,
  data: TrainData,
): Promise<RunState> {
  const s: RunState = {
    options,
    config,
    log,
    trainer,
    heldout: null,
    title: `${config.preset}: ${networkName(config.network)} x${config.network.width}, ` +
      `input ${config.network.inputSize}, batch ${config.batchSize}`,
    summary: {
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
    },
    step: 0,
    cursor: { epoch: 0, start: 0, step: 0 },
    epoch: 0,
    lastCheckpoint: null,
    skipped: [],
    images: 0,
    seconds: 0,
  };
  const ck = run.checkpoint;
  if (ck) {
    try {
      trainer.restore(ck.tensors);
    } finally {
      ck.tensors.forEach((t) => t.dispose());
    }
    s.step = s.summary.step = ck.meta.step;
    s.cursor = ck.meta.cursor as WrapCursor;
    s.epoch = s.cursor.epoch;
    s.lastCheckpoint = s.summary.checkpoint = ck.path;
    await log.note(
      `resumed from ${ck.path} at step ${s.step} (epoch ${ck.meta.epoch})` +
        (run.cutEntries
          ? `; log.jsonl cut back by ${run.cutEntries} lines past step ${s.step}`
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
  return s;
}
