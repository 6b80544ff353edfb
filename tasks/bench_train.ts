/**
 * `deno task bench train [--network r50] [--batch-size 4] [--steps 3]`: images/s of full training
 * steps (forward, ArcFace loss, backward, momentum SGD) of an IR-ResNet on random 112x112 input,
 * and of the small default preset, on the chosen backend. Prints one JSON object.
 */
import { parseFlags, parseNumberFlag } from "./cli.ts";

const HELP = `Usage: deno task bench train [options]

Times whole training steps (forward + ArcFace loss + backward + momentum SGD) and prints JSON.

  --network rN       network of the big measurement (default r50)
  --batch-size N     its batch (default 4: what fits the 4 GB wasm heap for r50)
  --micro-batch N    gradient accumulation micro-batch (default 0: whole batch)
  --classes N        identities of the ArcFace head (default 1000)
  --steps N          timed steps after one warm-up step (default 3)
  --small-steps N    timed steps of the small preset (default 3; 0 skips it)
  --r18              also time r18 at batch 8 (PyTorch reference: 6.4 img/s)
  --backend NAME     auto, tensorflow, webgpu, wasm, cpu (default auto)
  --threads N        wasm threads (default: ARCSTREAM_WASM_THREADS, else auto: one per core
                     when the 1-minute load average is below cores - 1, else 1)
  -h, --help         this text

PyTorch 1.13 on the 2-core development machine (2 threads): r50 batch 4: 3.4 img/s; r18 batch 8:
6.4 img/s. "ratio" is our img/s divided by those. "coresBusy" is process CPU time / wall time
over the timed steps (about 2 when both threads of a 2-thread wasm backend run); "loadAverage"
is the machine's 1-minute load before and after: on a shared machine, other jobs take cores.`;

/** PyTorch 1.13, 2 threads, same r50/r18 + ArcFace step on the 2-core machine (issue figures). */
const PYTORCH = { r50: 3.4, r18: 6.4 };

interface Measure {
  network: string;
  width: number;
  inputSize: number;
  batch: number;
  microBatch: number;
  classes: number;
  steps: number;
  secondsPerStep: number;
  imagesPerSec: number;
  warmupSeconds: number;
  /** Process CPU seconds (user + system, all threads) per timed step. */
  cpuSecondsPerStep: number;
  /** cpuSecondsPerStep / secondsPerStep: how many cores the step kept busy on average. */
  coresBusy: number;
}

export async function main(args: string[]): Promise<void> {
  const { flags: v } = parseFlags(args, {
    network: { type: "string", default: "r50" },
    "batch-size": { type: "int", min: 1, default: 4 },
    "micro-batch": { type: "int", min: 0, default: 0 },
    classes: { type: "int", min: 2, default: 1000 },
    steps: { type: "int", min: 1, default: 3 },
    "small-steps": { type: "int", min: 0, default: 3 },
    r18: { type: "boolean" },
    backend: { type: "string", default: "auto" },
    threads: { type: "int", min: 1 },
  }, { help: HELP });
  const depth = parseNumberFlag("network", v.network.replace(/^r/i, ""), { type: "int", min: 18 });
  const { "batch-size": batch, "micro-batch": micro, classes, steps } = v;
  const smallSteps = v["small-steps"];
  const { initBackend, parseBackendName } = await import("../model/backend/backend.ts");
  const info = await initBackend({
    backend: parseBackendName(v.backend),
    wasmThreads: v.threads,
  });
  const load = () => +Deno.loadavg()[0].toFixed(2);
  const out: Record<string, unknown> = {
    backend: info.name,
    detail: info.detail,
    loadAverage: [load()],
  };
  const big = await measure({ depth, width: 1, inputSize: 112, batch, micro, classes, steps });
  out[`r${depth}`] = big;
  const ref = PYTORCH[`r${depth}` as keyof typeof PYTORCH];
  if (ref) {
    out[`pytorch_r${depth}_images_per_sec`] = ref;
    out[`ratio_r${depth}`] = +(big.imagesPerSec / ref).toFixed(3);
  }
  if (v.r18 && depth !== 18) {
    const r18 = await measure({
      depth: 18,
      width: 1,
      inputSize: 112,
      batch: 8,
      micro: 0,
      classes,
      steps,
    });
    out.r18 = r18;
    out.pytorch_r18_images_per_sec = PYTORCH.r18;
    out.ratio_r18 = +(r18.imagesPerSec / PYTORCH.r18).toFixed(3);
  }
  if (smallSteps > 0) {
    const { presetConfig, DEFAULT_PRESET } = await import("../model/train/presets.ts");
    const c = presetConfig(DEFAULT_PRESET);
    out.small = {
      preset: DEFAULT_PRESET,
      ...(await measure({
        depth: c.network.depth,
        width: c.network.width,
        inputSize: c.network.inputSize,
        embeddingSize: c.network.embeddingSize,
        batch: c.batchSize,
        micro: 0,
        classes: 25,
        steps: smallSteps,
      })),
    };
  }
  (out.loadAverage as number[]).push(load());
  console.log(JSON.stringify(out, null, 2));
}

async function measure(o: {
  depth: number;
  width: number;
  inputSize: number;
  embeddingSize?: number;
  batch: number;
  micro: number;
  classes: number;
  steps: number;
}): Promise<Measure> {
  const tf = await import("@tensorflow/tfjs");
  const { cpuUsage } = await import("node:process");
  const { Trainer } = await import("../model/train/trainer.ts");
  const trainer = new Trainer({
    network: {
      depth: o.depth,
      width: o.width,
      inputSize: o.inputSize,
      embeddingSize: o.embeddingSize ?? 512,
      dropout: 0.4,
    },
    numClasses: o.classes,
    microBatch: o.micro,
  });
  // [B, S, S, 3] in [-1, 1] and random labels: the step's cost does not depend on the pixels.
  const x = tf.randomUniform([o.batch, o.inputSize, o.inputSize, 3], -1, 1, "float32", 1);
  const y = tf.randomUniform([o.batch], 0, o.classes, "int32", 2);
  try {
    let t0 = performance.now();
    await trainer.trainStep(x as never, y as never, 0.01, 0);
    const warmupSeconds = (performance.now() - t0) / 1000;
    t0 = performance.now();
    const cpu0 = cpuUsage();
    for (let i = 0; i < o.steps; i++) await trainer.trainStep(x as never, y as never, 0.01, i + 1);
    const seconds = (performance.now() - t0) / 1000;
    // Microseconds, summed over all threads (the wasm backend's pthreads included).
    const cpu = cpuUsage(cpu0);
    const cpuSeconds = (cpu.user + cpu.system) / 1e6;
    return {
      network: `r${o.depth}`,
      width: o.width,
      inputSize: o.inputSize,
      batch: o.batch,
      microBatch: o.micro,
      classes: o.classes,
      steps: o.steps,
      secondsPerStep: +(seconds / o.steps).toFixed(3),
      imagesPerSec: +((o.batch * o.steps) / seconds).toFixed(3),
      warmupSeconds: +warmupSeconds.toFixed(2),
      cpuSecondsPerStep: +(cpuSeconds / o.steps).toFixed(3),
      coresBusy: +(cpuSeconds / seconds).toFixed(2),
    };
  } finally {
    tf.dispose([x, y]);
    trainer.dispose();
  }
}
