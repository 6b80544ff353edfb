/**
 * The cases of `deno task bench train` and the arcstream side of each: whole training steps
 * (forward in training mode, ArcFace loss, backward, momentum SGD) on random 112x112 input.
 * The PyTorch side runs the same case through `bench/train_peer.py`
 * (`train_peer.ts`).
 */
import type { NetworkOptions } from "../model/nets/network.ts";

/** One measured configuration: the same on both sides. */
export interface BenchCase {
  /** Key in the JSON and `--network` of the peer script: r18, r34, r50, r100 or mbf. */
  name: string;
  /** The Trainer's `network` options (`arch` absent: IR-ResNet; "mbf": MobileFaceNet). */
  network: NetworkOptions;
  /** Images per step. */
  batch: number;
  /**
   * arcstream's gradient-accumulation slice when the whole batch does not fit the 4 GiB wasm heap
   * (same work per image; BN statistics per slice). 0 = the whole batch. `--micro-batch` overrides.
   */
  microBatch?: number;
}

/**
 * Default cases: r50 at batch 4 (what fits the 4 GB wasm heap with room), r18 and MobileFaceNet
 * at batch 32 (arcstream in slices of 16 or 8: the whole batch at once overflows the 4 GiB wasm
 * heap).
 */
export const BENCH_CASES: readonly BenchCase[] = [
  { name: "r50", network: { depth: 50 }, batch: 4 },
  { name: "r18", network: { depth: 18 }, batch: 32, microBatch: 16 },
  { name: "mbf", network: { arch: "mbf" }, batch: 32, microBatch: 8 },
];

/** What the arcstream side of a case measured. */
export interface Measure {
  network: string;
  batch: number;
  /** Gradient-accumulation slice (0: the whole batch at once). */
  microBatch: number;
  classes: number;
  inputSize: number;
  steps: number;
  warmupSteps: number;
  parameters: number;
  secondsPerStep: number;
  imagesPerSec: number;
  warmupSeconds: number;
  /** Process CPU seconds (user + system, all threads) per timed step. */
  cpuSecondsPerStep: number;
  /** cpuSecondsPerStep / secondsPerStep: how many cores the step kept busy on average. */
  coresBusy: number;
  lastLoss: number;
}

export interface MeasureOptions {
  classes: number;
  inputSize: number;
  warmup: number;
  steps: number;
  microBatch: number;
  dropout: number;
  embeddingSize?: number;
}

async function makeTrainer(c: BenchCase, o: MeasureOptions) {
  const { Trainer } = await import("../model/train/trainer.ts");
  // MobileFaceNet has no dropout layer (arcface_torch's); IR-ResNet gets the "E" block's.
  const mbf = c.network.arch !== undefined && c.network.arch !== "iresnet";
  return new Trainer({
    network: {
      ...c.network,
      inputSize: o.inputSize,
      embeddingSize: o.embeddingSize ?? 512,
      dropout: mbf ? 0 : o.dropout,
    },
    numClasses: o.classes,
    microBatch: o.microBatch,
  });
}

/** Times `o.steps` training steps of case `c` after `o.warmup` untimed ones. */
export async function measureArcstream(c: BenchCase, o: MeasureOptions): Promise<Measure> {
  const tf = await import("@tensorflow/tfjs");
  const { cpuUsage } = await import("node:process");
  const trainer = await makeTrainer(c, o);
  // [B, S, S, 3] in [-1, 1] and random labels: the step's cost does not depend on the pixels.
  const x = tf.randomUniform([c.batch, o.inputSize, o.inputSize, 3], -1, 1, "float32", 1);
  const y = tf.randomUniform([c.batch], 0, o.classes, "int32", 2);
  try {
    const parameters = trainer.model.countParams();
    const step = (i: number) => trainer.trainStep(x as never, y as never, 0.01, i);
    let t0 = performance.now();
    for (let i = 0; i < o.warmup; i++) await step(i);
    const warmupSeconds = (performance.now() - t0) / 1000;
    t0 = performance.now();
    const cpu0 = cpuUsage();
    let lastLoss = NaN;
    for (let i = 0; i < o.steps; i++) lastLoss = (await step(o.warmup + i)).totalLoss;
    const seconds = (performance.now() - t0) / 1000;
    // Microseconds, summed over all threads (the wasm backend's pthreads included).
    const cpu = cpuUsage(cpu0);
    const cpuSeconds = (cpu.user + cpu.system) / 1e6;
    return {
      network: c.name,
      batch: c.batch,
      microBatch: o.microBatch,
      classes: o.classes,
      inputSize: o.inputSize,
      steps: o.steps,
      warmupSteps: o.warmup,
      parameters,
      secondsPerStep: +(seconds / o.steps).toFixed(3),
      imagesPerSec: +((c.batch * o.steps) / seconds).toFixed(3),
      warmupSeconds: +warmupSeconds.toFixed(2),
      cpuSecondsPerStep: +(cpuSeconds / o.steps).toFixed(3),
      coresBusy: +(cpuSeconds / seconds).toFixed(2),
      lastLoss: +lastLoss.toFixed(4),
    };
  } finally {
    tf.dispose([x, y]);
    trainer.dispose();
  }
}
