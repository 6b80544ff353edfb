/**
 * Run length: `withSteps()` sets a config's step count and stretches its LR schedule to it. (The
 * `deno task train` flags themselves are read in tasks/train_flags.ts.)
 */
import type { TrainConfig } from "./presets.ts";

/** Sets the run length and stretches the preset's LR schedule to it (in place; returns `c`). */
export function withSteps(c: TrainConfig, steps: number): TrainConfig {
  const k = steps / c.steps;
  if (c.schedule.kind === "piecewise") {
    c.schedule.boundaries = c.schedule.boundaries.map((b) => Math.max(1, Math.round(b * k)));
  } else {
    c.schedule.totalSteps = steps;
    c.schedule.warmupSteps = Math.min(c.schedule.warmupSteps, steps - 1);
  }
  c.steps = steps;
  return c;
}
