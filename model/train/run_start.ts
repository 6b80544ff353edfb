/**
 * How a training run starts (train_loop.ts calls these in order): `epochs` resolved to steps and
 * the config recorded in run.json, the Trainer built (a fine-tune's backbone written into it), and
 * the loop's state restored from the run's checkpoint or the new run announced in the log.
 */
import * as tf from "@tensorflow/tfjs";
import type { WrapCursor } from "../../pipeline/batch/wrap_batch_stream.ts";
import { initBackboneFrom, initNetwork, readInitBackbone } from "../io/init_from.ts";
import { networkName, networkWidth } from "../nets/network.ts";
import { type TrainConfig, withSteps } from "./presets.ts";
import { type OpenRun, recordRunConfig } from "./run_folder.ts";
import { emptySummary, type RunOptions, type RunState } from "./run_types.ts";
import type { TrainData } from "./train_data.ts";
import type { TrainLog } from "./train_log.ts";
import { Trainer } from "./trainer.ts";
import { ValTargetRun } from "./val_targets.ts";

/** Turns `epochs` into a step count (a list's size is known) and records the run's config. */
export async function resolveSteps(
  config: TrainConfig,
  data: TrainData,
  run: OpenRun,
  options: RunOptions,
  log: TrainLog,
): Promise<void> {
  if (config.epochs !== undefined) {
    if (data.size === null) {
      throw new TypeError("epochs need a list to count; a record stream needs steps");
    }
    withSteps(config, Math.max(1, Math.ceil(config.epochs * data.size / config.batchSize)));
    delete config.epochs; // resolved: a resumed run reads the step count from run.json
  }
  await recordRunConfig(run, config, options.out, (line) => log.note(line));
}

/** The Trainer; fine-tuning takes the source's architecture and writes its backbone weights. */
export async function buildTrainer(
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
    headWeightDecay: config.headWeightDecay,
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
export async function startState(
  options: RunOptions,
  run: OpenRun,
  config: TrainConfig,
  log: TrainLog,
  trainer: Trainer,
  data: TrainData,
): Promise<RunState> {
  const net = `${networkName(config.network)} x${networkWidth(config.network)}`;
  const s: RunState = {
    options,
    config,
    log,
    trainer,
    heldout: null,
    val: options.valTargets?.length
      ? await ValTargetRun.resume(options.valTargets, options.out)
      : null,
    title: `${config.preset}: ${net}, input ${config.network.inputSize}, batch ${config.batchSize}`,
    summary: emptySummary(),
    step: 0,
    cursor: { epoch: 0, start: 0, step: 0 },
    epoch: 0,
    lastCheckpoint: null,
    skipped: [],
    images: 0,
    seconds: 0,
  };
  const ck = run.checkpoint;
  if (!ck) {
    await log.note(
      `training ${config.preset}: ${networkName(config.network)} width ${
        networkWidth(config.network)
      } ` +
        `input ${config.network.inputSize}, ${data.size ?? "a stream of"} images of ` +
        `${data.numClasses} identities from ${config.data}, batch ${config.batchSize}, ` +
        `${config.steps} steps, backend ${tf.getBackend()}`,
    );
    return s;
  }
  try {
    trainer.restore(ck.tensors);
  } finally {
    ck.tensors.forEach((t) => t.dispose());
  }
  s.step = s.summary.step = ck.meta.step;
  s.cursor = ck.meta.cursor as WrapCursor;
  s.epoch = s.cursor.epoch;
  s.lastCheckpoint = s.summary.checkpoint = ck.path;
  const cut = run.cutEntries
    ? `; log.jsonl cut back by ${run.cutEntries} lines past step ${s.step}`
    : "";
  await log.note(`resumed from ${ck.path} at step ${s.step} (epoch ${ck.meta.epoch})${cut}`);
  return s;
}
