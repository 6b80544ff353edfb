/**
 * Training presets: the small default run on the bundled LFW fixtures, and the ArcFace recipes
 * (arXiv 1801.07698, section 3.2: batch 512, lr 0.1 divided by 10 at 100K and 160K iterations,
 * 180K total, momentum 0.9, weight decay 5e-4, s = 64, m = 0.5) for r18/r34/r50/r100.
 */
import type { MarginOptions } from "../loss/arcface.ts";
import { asNetworkConfig, type NetworkConfig } from "../nets/network.ts";
import type { ScheduleConfig } from "./schedule.ts";
import type { AugmentOptions } from "../../pipeline/decode/augment.ts";

/** Which weights decay; "seed" is the deprecated name of "no-bias". */
export type DecaySet = "no-bias" | "all" | "seed";

/** Everything a training run needs besides the output folder (stored in checkpoints). */
export interface TrainConfig {
  /** Name of the preset the config started from. */
  preset: string;
  /** The backbone; `arch` absent = IR-ResNet. */
  network: NetworkConfig;
  margin: MarginOptions;
  /** Data: an image-folder tree, a clean list (`--data list.lst` + `root`), or a `.rec` file. */
  data: string;
  /** Root of relative paths in a clean list. Default: the list's folder. */
  dataRoot?: string;
  /** Number of identities; required when `data` is "-" (stdin). Default: 1 + the largest label. */
  numClasses?: number;
  batchSize: number;
  /** Micro-batch for gradient accumulation (0: whole batch). */
  microBatch: number;
  /** Total optimizer steps (resolved from epochs when those are given). */
  steps: number;
  /** Epochs instead of steps (resolved against the data size when set). */
  epochs?: number;
  schedule: ScheduleConfig;
  momentum: number;
  weightDecay: number;
  /**
   * Weight decay of the class-weight matrix alone (insightface's `fc7_wd_mult` times `wd`), which
   * bounds the class centres' norms and so keeps their effective learning rate up. Default:
   * `weightDecay`.
   */
  headWeightDecay?: number;
  /** Seed of the data order and flips (the network seed is `network.seed`). */
  seed: number;
  /** Random horizontal flip of training images. */
  flip: boolean;
  /**
   * Random crop and tone of training images (pipeline/decode/augment.ts), drawn from `seed`.
   * Default (and runs older than the field): none.
   */
  augment?: AugmentOptions;
  logEvery: number;
  checkpointEvery: number;
  keep: number;
  /** LFW-format pairs.txt of held-out images (their folder beside it), or "" for none. */
  evalPairs: string;
  /** Folder of the held-out images (`<dir>/<Name>/<Name>_NNNN.jpg`). Default: evalPairs' folder. */
  evalData?: string;
  /** Evaluate every N steps (0: only at the end). */
  evalEvery: number;
  /**
   * insightface `.bin` validation sets scored at each evaluation: names (`lfw` = `lfw.bin` beside
   * `data`) or paths. Default: none.
   */
  valTargets?: string[];
  /** Backbone weights to start from (.pth, .arcs or model.json; see model/io/init_from.ts). */
  initFrom?: string;
  /**
   * Weight-decay set: "no-bias" (kernels, gammas, alphas, class weights: all but biases and BN
   * betas) or "all"; "seed" is the old name of "no-bias" (kept so older runs resume).
   * Default: no-bias.
   */
  decayOn?: DecaySet;
  /**
   * JPEG decode of training and held-out images: "auto" decodes at the DCT scale covering the
   * input side (OpenCV's IMREAD_REDUCED_COLOR_k + INTER_AREA), "off" whole (imread + INTER_AREA).
   * Default (and runs older than the field): "auto".
   */
  dctScale?: "auto" | "off";
}

/** The small net of the default run: a width-1/4 r18 at 64 px, embedding 128 (lfw-fold: 512). */
function smallR18(): NetworkConfig {
  return {
    kind: "iresnet",
    depth: 18,
    width: 0.25,
    inputSize: 64,
    embeddingSize: 128,
    dropout: 0,
    seed: 1,
  };
}

/** The ArcFace paper's schedule for batch `b` (linear LR scaling from its batch of 512). */
function paperRecipe(depth: number, batch: number): Omit<TrainConfig, "preset" | "data"> {
  const k = 512 / batch;
  return {
    network: {
      kind: "iresnet",
      depth,
      width: 1,
      inputSize: 112,
      embeddingSize: 512,
      dropout: 0.4,
      seed: 1,
    },
    margin: { type: "arcface", s: 64, m2: 0.5 },
    batchSize: batch,
    microBatch: 0,
    steps: 180000 * k,
    schedule: {
      kind: "piecewise",
      boundaries: [100000 * k, 160000 * k],
      values: [0.1 / k, 0.01 / k, 0.001 / k],
    },
    momentum: 0.9,
    weightDecay: 5e-4,
    seed: 0,
    flip: true,
    logEvery: 100,
    checkpointEvery: 2000,
    keep: 3,
    evalPairs: "",
    evalEvery: 0,
  };
}

/**
 * arcface_torch's `configs/ms1mv3_mbf.py` (MS1MV3, 40 epochs, 8 GPUs x batch 128 at lr 0.1, poly
 * decay without warmup, weight decay 1e-4, ArcFace s = 64, m = 0.5, embedding 512) on one device:
 * batch 128 with the LR scaled linearly (0.1 * 128 / 1024).
 */
function mbfRecipe(arch: "mbf" | "mbf-large"): Omit<TrainConfig, "preset" | "data"> {
  const steps = Math.round((40 * 5179510) / 128);
  return {
    network: { kind: "mobilefacenet", arch, inputSize: 112, embeddingSize: 512, seed: 1 },
    margin: { type: "arcface", s: 64, m2: 0.5 },
    batchSize: 128,
    microBatch: 0,
    steps,
    schedule: { kind: "poly", base: 0.1 * 128 / 1024, warmupSteps: 0, totalSteps: steps },
    momentum: 0.9,
    weightDecay: 1e-4,
    seed: 0,
    flip: true,
    logEvery: 100,
    checkpointEvery: 2000,
    keep: 3,
    evalPairs: "",
    evalEvery: 0,
  };
}

/** Default data of the fixture presets, relative to the project root. */
export const FIXTURE_TRAIN = "fixtures/lfw_faces/train";
export const FIXTURE_PAIRS = "fixtures/lfw_faces/heldout/pairs.txt";

export const PRESETS: Record<string, () => TrainConfig> = {
  /**
   * The default run: a width-1/4 r18 on 64x64 faces (its time and score on 2 CPU cores: see
   * docs/benchmarks.md). From scratch on 375 images the paper's s = 64, m = 0.5 barely learns in a
   * short run (measured over 50 steps: training accuracy 0.00 -> 0.02, against 0.48 with the values
   * here), so this preset uses the common small-data choice s = 32, m = 0.2 (a softer ArcFace), no
   * dropout, and warmup + polynomial decay.
   */
  "lfw-small": () => ({
    preset: "lfw-small",
    network: smallR18(),
    margin: { type: "arcface", s: 32, m2: 0.2 },
    data: FIXTURE_TRAIN,
    batchSize: 32,
    microBatch: 0,
    steps: 100,
    schedule: { kind: "poly", base: 0.1, warmupSteps: 10, totalSteps: 100 },
    momentum: 0.9,
    weightDecay: 5e-4,
    seed: 0,
    flip: true,
    logEvery: 10,
    checkpointEvery: 50,
    keep: 2,
    evalPairs: FIXTURE_PAIRS,
    evalEvery: 0,
  }),
  /**
   * The unseen-identity LFW protocol (`deno task lfw-fold` writes its list and pairs): train on
   * every aligned LFW image of the people outside fold k, score fold k's 600 pairs. Sized for under
   * 40 minutes on 2 CPU cores (8 epochs; folds 1-3 over two network seeds: 83.17%, see
   * docs/training.md): a width-1/4 r18 at 64 px (MobileFaceNet at 112 is ~10x the work per image on
   * wasm) with the paper's 512-wide embedding (128 scored 82.17%, with a lower AUC), arcstream's
   * network details (arcface_torch's, `--net-style arcface_torch`, scored 81.8% on the same folds),
   * ArcFace s=32 m=0.3 (the paper's 64/0.5 barely moves from scratch on 12 K images of mostly
   * one-image identities), batch 64, warmup + poly decay, random flips.
   * The data and pairs have no default: pass `--data`, `--data-root`, `--eval-pairs`, `--eval-data`.
   */
  "lfw-fold": () => ({
    preset: "lfw-fold",
    network: { ...smallR18(), embeddingSize: 512 },
    margin: { type: "arcface", s: 32, m2: 0.3 },
    data: "",
    batchSize: 64,
    microBatch: 0,
    steps: 1500,
    schedule: { kind: "poly", base: 0.1, warmupSteps: 50, totalSteps: 1500 },
    momentum: 0.9,
    weightDecay: 5e-4,
    seed: 0,
    flip: true,
    logEvery: 10,
    checkpointEvery: 100,
    keep: 2,
    evalPairs: "",
    evalEvery: 250,
  }),
  /** For tests: width 1/16 r18 on 32x32 inputs, 4 steps. */
  "tiny": () => ({
    preset: "tiny",
    network: {
      kind: "iresnet",
      depth: 18,
      width: 0.0625,
      inputSize: 32,
      embeddingSize: 32,
      dropout: 0,
      seed: 1,
    },
    margin: { type: "arcface", s: 32, m2: 0.2 },
    data: FIXTURE_TRAIN,
    batchSize: 8,
    microBatch: 0,
    steps: 4,
    schedule: { kind: "poly", base: 0.05, warmupSteps: 1, totalSteps: 4 },
    momentum: 0.9,
    weightDecay: 5e-4,
    seed: 0,
    flip: true,
    logEvery: 1,
    checkpointEvery: 2,
    keep: 2,
    evalPairs: "",
    evalEvery: 0,
  }),
  "r18": () => ({ preset: "r18", data: FIXTURE_TRAIN, ...paperRecipe(18, 128) }),
  "r34": () => ({ preset: "r34", data: FIXTURE_TRAIN, ...paperRecipe(34, 128) }),
  "r50": () => ({ preset: "r50", data: FIXTURE_TRAIN, ...paperRecipe(50, 128) }),
  "r100": () => ({ preset: "r100", data: FIXTURE_TRAIN, ...paperRecipe(100, 128) }),
  "mbf": () => ({ preset: "mbf", data: FIXTURE_TRAIN, ...mbfRecipe("mbf") }),
  "mbf-large": () => ({ preset: "mbf-large", data: FIXTURE_TRAIN, ...mbfRecipe("mbf-large") }),
  /** The real job: r50 on MS1M (insightface's faces_emore/train.rec), batch 128, a GPU backend. */
  "r50-ms1m": () => ({
    preset: "r50-ms1m",
    data: "data/faces_emore/train.rec",
    ...paperRecipe(50, 128),
  }),
};

export const DEFAULT_PRESET = "lfw-small";

/**
 * A fresh copy of a preset's config; throws a RangeError naming the presets when unknown.
 * @example
 * ```ts
 * import { presetConfig, PRESETS } from "../mod.ts";
 *
 * console.log(Object.keys(PRESETS));
 * console.log(presetConfig("lfw-small").network);
 * ```
 */
export function presetConfig(name: string): TrainConfig {
  const make = PRESETS[name];
  if (!make) {
    throw new RangeError(`Unknown preset "${name}": expected ${Object.keys(PRESETS).join(", ")}`);
  }
  return make();
}

/**
 * Sets the run length and stretches the preset's LR schedule to it (in place; returns `c`).
 * @example
 * ```ts
 * import { presetConfig, withSteps } from "../mod.ts";
 *
 * const short = withSteps(presetConfig("lfw-small"), 50); // the LR schedule laid out over 50 steps
 * console.log(short.steps, short.schedule);
 * ```
 */
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

/**
 * A config read back from run.json or a checkpoint, in today's shape: a network stored before the
 * tagged union (`arch` / `depth: 0`) becomes `{ kind, ... }`, and one stored before `dctScale`
 * decodes "auto" (what it did), so older runs resume.
 */
export function storedConfig(stored: unknown): TrainConfig {
  const c = structuredClone(stored) as TrainConfig;
  if (c?.network) c.network = asNetworkConfig(c.network);
  return c && typeof c === "object" ? withDctScale(c) : c;
}

/** A config as it runs: one without `dctScale` (older runs, programmatic configs) decodes "auto". */
export function withDctScale(c: TrainConfig): TrainConfig {
  return { ...c, dctScale: c.dctScale ?? "auto" };
}
