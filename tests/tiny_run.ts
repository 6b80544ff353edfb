/** Shared by the training-run tests: the tiny preset, short, checkpointing every 2 steps. */
import { presetConfig, type TrainConfig } from "../model/train/presets.ts";

/** The tiny preset on the bundled faces, `steps` steps (poly schedule over them), checkpoints every 2. */
export function tinyRun(steps = 6): TrainConfig {
  const c = presetConfig("tiny");
  c.steps = steps;
  c.schedule = { kind: "poly", base: 0.05, warmupSteps: 1, totalSteps: steps };
  c.checkpointEvery = 2;
  return c;
}

/** `runTraining` options that print nothing and decode in this thread. */
export const QUIET = { print: () => {}, progress: false, workers: 0 };
