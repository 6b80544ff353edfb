/**
 * Turns `deno task train` flags into a `TrainConfig`: the preset first, then each flag overrides
 * one field. Every number is validated with an error naming the flag.
 */
import type { MarginType } from "../loss/arcface.ts";
import { networkConfig } from "../nets/network.ts";
import { DEFAULT_PRESET, presetConfig, type TrainConfig } from "./presets.ts";

/** Flag values as parsed by `node:util` parseArgs (strings, booleans). */
export type TrainFlags = Record<string, string | boolean | undefined>;

function num(flags: TrainFlags, name: string, check: (x: number) => boolean, what: string) {
  const raw = flags[name];
  if (raw === undefined) return undefined;
  const x = Number(raw);
  if (typeof raw !== "string" || raw.trim() === "" || !Number.isFinite(x) || !check(x)) {
    throw new RangeError(`--${name} must be ${what}, got "${raw}"`);
  }
  return x;
}

const int = (x: number) => Number.isInteger(x);
const posInt = (x: number) => Number.isInteger(x) && x >= 1;

/** The preset named by `--preset` (default lfw-small) with the flags applied. */
export function configFromFlags(flags: TrainFlags): TrainConfig {
  const c = presetConfig(typeof flags.preset === "string" ? flags.preset : DEFAULT_PRESET);
  if (typeof flags.data === "string") c.data = flags.data;
  if (typeof flags["data-root"] === "string") c.dataRoot = flags["data-root"];
  if (flags.network === "mbf" || flags.network === "mbf-large") {
    // MobileFaceNet: no width multiplier, no dropout (the preset's IR-ResNet values do not apply).
    c.network = { ...c.network, arch: flags.network, width: 1, dropout: 0 };
  } else if (typeof flags.network === "string") {
    const d = Number(flags.network.replace(/^r(esnet)?/i, ""));
    if (![18, 34, 50, 100].includes(d)) {
      throw new RangeError(
        `--network must be r18, r34, r50, r100, mbf or mbf-large, got "${flags.network}"`,
      );
    }
    c.network.depth = d;
    delete c.network.arch;
  }
  c.network.width = num(flags, "width", (x) => x > 0 && x <= 4, "in (0, 4]") ?? c.network.width;
  c.network.inputSize =
    num(flags, "input-size", (x) => posInt(x) && x % 16 === 0, "a multiple of 16") ??
      c.network.inputSize;
  c.network.dropout = num(flags, "dropout", (x) => x >= 0 && x < 1, "in [0, 1)") ??
    c.network.dropout;
  networkConfig(c.network); // e.g. --width or --dropout with mbf: a RangeError naming it
  c.batchSize = num(flags, "batch-size", posInt, "an integer >= 1") ?? c.batchSize;
  c.microBatch = num(flags, "micro-batch", (x) => int(x) && x >= 0, "an integer >= 0") ??
    c.microBatch;
  if (c.microBatch > 0 && c.batchSize % c.microBatch !== 0) {
    throw new RangeError(
      `--batch-size ${c.batchSize} must be a multiple of --micro-batch ${c.microBatch}`,
    );
  }
  const steps = num(flags, "steps", posInt, "an integer >= 1");
  const epochs = num(flags, "epochs", (x) => x > 0, "> 0");
  if (steps !== undefined && epochs !== undefined) {
    throw new RangeError("Give --steps or --epochs, not both");
  }
  if (steps !== undefined) withSteps(c, steps);
  if (epochs !== undefined) c.epochs = epochs;
  const lr = num(flags, "lr", (x) => x > 0, "> 0");
  if (lr !== undefined) {
    if (c.schedule.kind === "piecewise") {
      const base = c.schedule.values[0];
      c.schedule.values = c.schedule.values.map((v) => (v === base ? lr : lr * (v / base)));
    } else c.schedule.base = lr;
  }
  if (typeof flags["lr-steps"] === "string") {
    const b = flags["lr-steps"].split(",").map(Number);
    if (b.some((x) => !posInt(x))) {
      throw new RangeError(
        `--lr-steps must be comma-separated step numbers, got "${flags["lr-steps"]}"`,
      );
    }
    const base = c.schedule.kind === "piecewise" ? c.schedule.values[0] : c.schedule.base;
    c.schedule = {
      kind: "piecewise",
      boundaries: b,
      values: [base, ...b.map((_, i) => base / 10 ** (i + 1))],
    };
  }
  const warmup = num(flags, "warmup", (x) => int(x) && x >= 0, "an integer >= 0");
  if (warmup !== undefined) {
    if (warmup >= c.steps) {
      throw new RangeError(`--warmup ${warmup} must be below the ${c.steps} steps`);
    }
    const base = c.schedule.kind === "piecewise" ? c.schedule.values[0] : c.schedule.base;
    c.schedule = { kind: "poly", base, warmupSteps: warmup, totalSteps: c.steps };
  }
  if (typeof flags.margin === "string") {
    if (!["arcface", "cosface", "combined"].includes(flags.margin)) {
      throw new RangeError(`--margin must be arcface, cosface or combined, got "${flags.margin}"`);
    }
    c.margin = { type: flags.margin as MarginType, s: c.margin.s };
  }
  c.margin.s = num(flags, "s", (x) => x > 0, "> 0") ?? c.margin.s;
  const m = num(flags, "m", (x) => x >= 0, ">= 0");
  if (m !== undefined) {
    if ((c.margin.type ?? "arcface") === "cosface") c.margin.m3 = m;
    else c.margin.m2 = m;
  }
  c.margin.m1 = num(flags, "m1", (x) => x >= 1, ">= 1") ?? c.margin.m1;
  c.margin.m2 = num(flags, "m2", (x) => x >= 0, ">= 0") ?? c.margin.m2;
  c.margin.m3 = num(flags, "m3", (x) => x >= 0, ">= 0") ?? c.margin.m3;
  c.weightDecay = num(flags, "wd", (x) => x >= 0, ">= 0") ?? c.weightDecay;
  c.momentum = num(flags, "momentum", (x) => x >= 0 && x < 1, "in [0, 1)") ?? c.momentum;
  c.seed = num(flags, "seed", (x) => int(x) && x >= 0, "an integer >= 0") ?? c.seed;
  c.checkpointEvery = num(flags, "checkpoint-every", posInt, "an integer >= 1") ??
    c.checkpointEvery;
  c.keep = num(flags, "keep", posInt, "an integer >= 1") ?? c.keep;
  c.logEvery = num(flags, "log-every", posInt, "an integer >= 1") ?? c.logEvery;
  if (typeof flags["eval-pairs"] === "string") c.evalPairs = flags["eval-pairs"];
  c.evalEvery = num(flags, "eval-every", (x) => int(x) && x >= 0, "an integer >= 0") ?? c.evalEvery;
  return c;
}

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
