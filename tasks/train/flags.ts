/**
 * Turns `deno task train` flags into a `TrainConfig`: the preset first, then each flag overrides
 * one field. `TRAIN_FLAGS` gives every number its rule, so `parseFlags()` rejects a bad value
 * with a message naming the flag before anything loads; `configFromFlags()` checks the rules
 * that involve two flags.
 */
import type { MarginType } from "../../model/loss/arcface.ts";
import {
  type DecaySet,
  DEFAULT_PRESET,
  presetConfig,
  type TrainConfig,
  withSteps,
} from "../../model/train/presets.ts";
import {
  asNetworkConfig,
  isMbf,
  type NetworkConfig,
  networkConfig,
  type NetworkOptions,
} from "../../model/nets/network.ts";
import { NET_STYLES } from "../../model/nets/iresnet.ts";
import { type Parsed, UsageError } from "../cli.ts";

/** The flags of `deno task train` (see its HELP). */
export const TRAIN_FLAGS = {
  preset: { type: "string" }, // default: DEFAULT_PRESET (left unset so --resume can tell)
  data: { type: "string" },
  "data-root": { type: "string" },
  "num-classes": { type: "int", min: 2 },
  network: { type: "string" },
  width: { type: "number", above: 0, max: 4 },
  "input-size": { type: "int", min: 16, multipleOf: 16 },
  "embedding-size": { type: "int", min: 2 },
  dropout: { type: "number", min: 0, below: 1 },
  "net-style": { type: "string", choices: ["arcstream", "arcface_torch"] },
  "net-seed": { type: "int", min: 0 },
  "batch-size": { type: "int", min: 1 },
  "micro-batch": { type: "int", min: 0 },
  lr: { type: "number", above: 0 },
  "lr-steps": { type: "string" },
  warmup: { type: "int", min: 0 },
  steps: { type: "int", min: 1 },
  epochs: { type: "number", above: 0 },
  margin: { type: "string", choices: ["arcface", "cosface", "combined"] },
  s: { type: "number", above: 0 },
  m: { type: "number", min: 0 },
  m1: { type: "number", min: 1 },
  m2: { type: "number", min: 0 },
  m3: { type: "number", min: 0 },
  "margin-warmup": { type: "int", min: 0 },
  wd: { type: "number", min: 0 },
  "head-wd": { type: "number", min: 0 },
  "crop-scale": { type: "number", above: 0, max: 1 },
  jitter: { type: "number", min: 0, below: 1 },
  momentum: { type: "number", min: 0, below: 1 },
  seed: { type: "int", min: 0 },
  out: { type: "string" },
  resume: { type: "boolean" },
  overwrite: { type: "boolean" },
  "dry-run": { type: "boolean" },
  "checkpoint-every": { type: "int", min: 1 },
  keep: { type: "int", min: 1 },
  "log-every": { type: "int", min: 1 },
  "eval-pairs": { type: "string" },
  "eval-every": { type: "int", min: 0 },
  "eval-data": { type: "string" },
  "val-targets": { type: "string" },
  "init-from": { type: "string" },
  "wd-on": { type: "string", choices: ["no-bias", "all", "seed"] },
  "dct-scale": { type: "string", choices: ["auto", "off"] }, // default "auto" (left unset for --resume)
  backend: { type: "string", choices: ["auto", "tensorflow", "webgpu", "wasm", "cpu"] },
  workers: { type: "int", min: 0 },
  threads: { type: "int", min: 1, max: 8 },
} as const;

/** Parsed `deno task train` flags; every field may be left out. */
export type TrainFlags = Partial<Parsed<typeof TRAIN_FLAGS>["flags"]>;

/** The preset named by `--preset` (default lfw-small) with the flags applied. */
export function configFromFlags(f: TrainFlags): TrainConfig {
  let c: TrainConfig;
  try {
    c = presetConfig(f.preset ?? DEFAULT_PRESET);
  } catch (e) {
    throw new UsageError(`--preset: ${(e as Error).message}`);
  }
  applyFlags(c, f);
  c.dctScale ??= "auto"; // recorded in run.json: the decode a resume must repeat
  return c;
}

/** Applies every flag but `--preset` to `c` in place (also what a `--resume` re-checks); returns `c`. */
export function applyFlags(c: TrainConfig, f: TrainFlags): TrainConfig {
  if (f.data !== undefined) c.data = f.data;
  if (f["data-root"] !== undefined) c.dataRoot = f["data-root"];
  c.numClasses = f["num-classes"] ?? c.numClasses;
  if (c.data === "-" && c.numClasses === undefined) {
    throw new UsageError("--data - (records on stdin) needs --num-classes N");
  }
  if (c.data === "-" && f.epochs !== undefined) {
    throw new UsageError("--epochs needs a list to count; with --data - give --steps");
  }
  const n = c.network;
  let net: NetworkOptions = { ...n };
  if (f.network === "mbf" || f.network === "mbf-large") {
    // MobileFaceNet: no width multiplier, no dropout (the preset's IR-ResNet values do not apply).
    const { inputSize, embeddingSize, seed } = n;
    net = { kind: "mobilefacenet", arch: f.network, inputSize, embeddingSize, seed };
  } else if (f.network !== undefined) {
    const d = Number(f.network.replace(/^r(esnet)?/i, ""));
    if (![18, 34, 50, 100].includes(d)) {
      throw new UsageError(
        `--network must be r18, r34, r50, r100, mbf or mbf-large, got "${f.network}"`,
      );
    }
    net = n.kind === "iresnet"
      ? { ...n, depth: d }
      : { kind: "iresnet", depth: d, width: 1, dropout: 0, ...pick(n) };
  }
  if (f.width !== undefined) net.width = f.width;
  if (f["input-size"] !== undefined) net.inputSize = f["input-size"];
  if (f["embedding-size"] !== undefined) net.embeddingSize = f["embedding-size"];
  if (f.dropout !== undefined) net.dropout = f.dropout;
  if (f["net-style"] !== undefined) {
    applyNetStyle(net, f["net-style"] as keyof typeof NET_STYLES);
  }
  if (f["net-seed"] !== undefined) net.seed = f["net-seed"];
  try {
    networkConfig(net); // e.g. --width or --dropout with mbf
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  c.network = asNetworkConfig(net);
  c.batchSize = f["batch-size"] ?? c.batchSize;
  c.microBatch = f["micro-batch"] ?? c.microBatch;
  if (c.microBatch > 0 && c.batchSize % c.microBatch !== 0) {
    throw new UsageError(
      `--batch-size ${c.batchSize} must be a multiple of --micro-batch ${c.microBatch}`,
    );
  }
  if (f.steps !== undefined && f.epochs !== undefined) {
    throw new UsageError("Give --steps or --epochs, not both");
  }
  if (f.steps !== undefined) withSteps(c, f.steps);
  if (f.epochs !== undefined) c.epochs = f.epochs;
  applySchedule(c, f);
  applyMargin(c, f);
  c.weightDecay = f.wd ?? c.weightDecay;
  if (f["head-wd"] !== undefined) c.headWeightDecay = f["head-wd"];
  c.momentum = f.momentum ?? c.momentum;
  c.seed = f.seed ?? c.seed;
  applyAugment(c, f);
  c.checkpointEvery = f["checkpoint-every"] ?? c.checkpointEvery;
  c.keep = f.keep ?? c.keep;
  c.logEvery = f["log-every"] ?? c.logEvery;
  if (f["eval-pairs"] !== undefined) c.evalPairs = f["eval-pairs"];
  if (f["eval-data"] !== undefined) c.evalData = f["eval-data"];
  c.evalEvery = f["eval-every"] ?? c.evalEvery;
  if (f["val-targets"] !== undefined) {
    // "" clears them (as --eval-pairs ""); names are resolved when the run starts.
    const t = f["val-targets"].split(",").map((x) => x.trim()).filter((x) => x !== "");
    if (t.length) c.valTargets = t;
    else delete c.valTargets;
  }
  if (f["init-from"] !== undefined) c.initFrom = f["init-from"];
  if (f["wd-on"] === "seed") {
    console.error("note: --wd-on seed is now called --wd-on no-bias (the same weights decay)");
    c.decayOn = "no-bias";
  } else if (f["wd-on"] !== undefined) c.decayOn = f["wd-on"] as DecaySet;
  if (f["dct-scale"] !== undefined) c.dctScale = f["dct-scale"] as "auto" | "off";
  return c;
}

/**
 * `--net-style`: IR-ResNet's details as arcstream builds them by default (BN epsilon 2e-5, TF
 * "same" stride-2 padding, a trained output-BN scale, Kaiming init) or as arcface_torch's
 * `iresnet.py` (1e-5, symmetric padding, the output-BN scale fixed at 1, normal(0, 0.1) convs and
 * torch's nn.Linear init): docs/parity.md shows what they change over a whole run.
 */
function applyNetStyle(net: NetworkOptions, style: keyof typeof NET_STYLES): void {
  if (isMbf(net)) {
    throw new UsageError(`--net-style applies to IR-ResNet networks, not ${net.arch}`);
  }
  Object.assign(net, NET_STYLES[style]);
}

/** The fields both network kinds have. */
function pick(n: NetworkConfig): Pick<NetworkConfig, "inputSize" | "embeddingSize" | "seed"> {
  return { inputSize: n.inputSize, embeddingSize: n.embeddingSize, seed: n.seed };
}

/** --lr scales the preset's schedule; --lr-steps makes it piecewise; --warmup makes it poly. */
function applySchedule(c: TrainConfig, f: TrainFlags): void {
  const lr = f.lr;
  if (lr !== undefined) {
    if (c.schedule.kind === "piecewise") {
      const base = c.schedule.values[0];
      c.schedule.values = c.schedule.values.map((v) => (v === base ? lr : lr * (v / base)));
    } else c.schedule.base = lr;
  }
  const base = () => c.schedule.kind === "piecewise" ? c.schedule.values[0] : c.schedule.base;
  if (f["lr-steps"] !== undefined) {
    const b = f["lr-steps"].split(",").map(Number);
    if (b.some((x) => !Number.isInteger(x) || x < 1)) {
      throw new UsageError(
        `--lr-steps must be comma-separated step numbers, got "${f["lr-steps"]}"`,
      );
    }
    const b0 = base();
    c.schedule = {
      kind: "piecewise",
      boundaries: b,
      values: [b0, ...b.map((_, i) => b0 / 10 ** (i + 1))],
    };
  }
  if (f.warmup !== undefined) {
    if (f.warmup >= c.steps) {
      throw new UsageError(`--warmup ${f.warmup} must be below the ${c.steps} steps`);
    }
    c.schedule = { kind: "poly", base: base(), warmupSteps: f.warmup, totalSteps: c.steps };
  }
}

/** --margin picks the loss; --m sets its margin (m3 for CosFace, m2 otherwise); --m1/2/3 each. */
function applyMargin(c: TrainConfig, f: TrainFlags): void {
  if (f.margin !== undefined) c.margin = { type: f.margin as MarginType, s: c.margin.s };
  c.margin.s = f.s ?? c.margin.s;
  if (f.m !== undefined) {
    if ((c.margin.type ?? "arcface") === "cosface") c.margin.m3 = f.m;
    else c.margin.m2 = f.m;
  }
  c.margin.m1 = f.m1 ?? c.margin.m1;
  c.margin.m2 = f.m2 ?? c.margin.m2;
  c.margin.m3 = f.m3 ?? c.margin.m3;
  const warm = f["margin-warmup"];
  if (warm !== undefined) {
    if (warm >= c.steps) {
      throw new UsageError(`--margin-warmup ${warm} must be below the ${c.steps} steps`);
    }
    c.margin.warmupSteps = warm;
  }
}

/** `--crop-scale`, `--jitter`: the run's augmentation (1 and 0 turn one off). */
function applyAugment(c: TrainConfig, f: TrainFlags): void {
  if (f["crop-scale"] === undefined && f.jitter === undefined) return;
  const a = { ...c.augment };
  if (f["crop-scale"] !== undefined) a.cropScale = f["crop-scale"];
  if (f.jitter !== undefined) a.jitter = f.jitter;
  if (a.cropScale === 1) delete a.cropScale;
  if (a.jitter === 0) delete a.jitter;
  if (Object.keys(a).length) c.augment = a;
  else delete c.augment;
}
