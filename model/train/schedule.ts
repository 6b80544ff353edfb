/**
 * Learning-rate schedules for ArcFace training (arXiv 1801.07698, section 3.2: the LR is divided
 * at fixed iterations). A schedule maps the 0-based global step to the LR of that step.
 */

/** A pure function from global step to learning rate. */
export type Schedule = (step: number) => number;

/** Serializable description of a schedule (stored in checkpoints). */
export type ScheduleConfig =
  | { kind: "piecewise"; boundaries: number[]; values: number[] }
  | { kind: "poly"; base: number; warmupSteps: number; totalSteps: number; power?: number };

/**
 * The original TensorFlow ArcFace code's piecewise constant: `values[i]` while
 * `step < boundaries[i]`, `values[last]` after (like `tf.train.piecewise_constant`; `values.length` must be `boundaries.length + 1`).
 */
export function piecewiseConstant(boundaries: number[], values: number[]): Schedule {
  if (values.length !== boundaries.length + 1) {
    throw new RangeError(
      `A piecewise schedule needs one more value than boundaries, got ${values.length} values and ${boundaries.length} boundaries`,
    );
  }
  for (let i = 0; i < boundaries.length; i++) {
    if (!Number.isFinite(boundaries[i]) || (i > 0 && boundaries[i] <= boundaries[i - 1])) {
      throw new RangeError(
        `LR boundaries must be increasing numbers, got [${boundaries.join(",")}]`,
      );
    }
  }
  for (const v of values) {
    if (!(v >= 0) || !Number.isFinite(v)) throw new RangeError(`LR values must be >= 0, got ${v}`);
  }
  return (step) => {
    let i = 0;
    while (i < boundaries.length && step >= boundaries[i]) i++;
    return values[i];
  };
}

/**
 * arcface_torch's PolyScheduler: linear warmup from 0 to `base` over `warmupSteps`, then
 * `base * (1 - (step - warmup) / (total - warmup)) ^ power` (power 2) down to 0 at `totalSteps`.
 */
export function warmupPolynomial(
  base: number,
  warmupSteps: number,
  totalSteps: number,
  power = 2,
): Schedule {
  if (!(base >= 0) || !Number.isFinite(base)) {
    throw new RangeError(`Base LR must be >= 0, got ${base}`);
  }
  if (!Number.isInteger(warmupSteps) || warmupSteps < 0) {
    throw new RangeError(`Warmup steps must be an integer >= 0, got ${warmupSteps}`);
  }
  if (!Number.isInteger(totalSteps) || totalSteps <= warmupSteps) {
    throw new RangeError(
      `Total steps (${totalSteps}) must be an integer greater than warmup steps (${warmupSteps})`,
    );
  }
  return (step) => {
    if (step < warmupSteps) return base * step / warmupSteps;
    const progress = Math.min(1, (step - warmupSteps) / (totalSteps - warmupSteps));
    return base * Math.pow(1 - progress, power);
  };
}

/** Builds a schedule from its serializable description. */
export function makeSchedule(config: ScheduleConfig): Schedule {
  if (config.kind === "piecewise") return piecewiseConstant(config.boundaries, config.values);
  if (config.kind === "poly") {
    return warmupPolynomial(config.base, config.warmupSteps, config.totalSteps, config.power ?? 2);
  }
  throw new RangeError(`Unknown LR schedule kind "${(config as { kind: string }).kind}"`);
}
