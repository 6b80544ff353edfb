/**
 * Test helper (not a test file), run as a subprocess by `webgpu_parity_test.ts`: a few training
 * steps of a tiny IR-ResNet + ArcFace on one forced backend, printing JSON
 * `{backend, detail, init, losses, weights}` on stdout. With `--probe` it only prints
 * `{adapter, reason}` (the WebGPU adapter Deno finds, or why there is none).
 *
 * Usage: deno run -A tests/webgpu_parity_step.ts (--probe | --backend NAME [--steps N])
 */
import * as tf from "@tensorflow/tfjs";
import { type BackendName, initBackend, probeWebGPU } from "../model/backend/backend.ts";
import { Trainer } from "../model/train/trainer.ts";
import { parseFlags, runTask, UsageError } from "../tasks/cli.ts";

const HELP = `Usage: deno run -A tests/webgpu_parity_step.ts (--probe | --backend NAME [options])

  --probe         print {adapter, reason} (the WebGPU adapter Deno finds) and exit
  --backend NAME  train on this backend (wasm, cpu, webgpu, ...), print JSON
                  {backend, detail, init, losses, weights}
  --steps N       training steps (default 3)
  --net NAME      r18 (width 1/16, default) or mbf (MobileFaceNet: depthwise convs)
  --weights-after N  report the weights after step N (default: the last)
  --micro-batch N    gradient accumulation over slices of N images (default 0: whole batch)
  --lr X          learning rate (default 0.1)`;

const FLAGS = {
  probe: { type: "boolean" },
  backend: { type: "string" },
  steps: { type: "int", min: 1, default: 3 },
  net: { type: "string", choices: ["r18", "mbf"], default: "r18" },
  "weights-after": { type: "int", min: 1 },
  "micro-batch": { type: "int", min: 0, default: 0 },
  lr: { type: "number", above: 0, default: 0.1 },
} as const;

async function main(): Promise<void> {
  const { flags: values } = parseFlags(Deno.args, FLAGS, { help: HELP });
  if (values.probe) {
    const p = await probeWebGPU();
    console.log(JSON.stringify({ adapter: p.adapter?.description ?? null, reason: p.reason }));
    return;
  }
  if (!values.backend) throw new UsageError("give --probe or --backend NAME");

  const info = await initBackend({
    backend: values.backend as BackendName,
    wasmThreads: 1,
    warn: (m) => console.error(m),
  });
  // Width 1/16 r18 on 16x16 inputs: every layer kind of the real network (stride-2 convs, 1x1
  // shortcuts, BN in training mode, PReLU, FC, ArcFace margin), milliseconds per step.
  const trainer = new Trainer({
    // MobileFaceNet (full width) at 16x16: its depthwise and grouped convs and the GDC (1x1 here).
    network: values.net === "mbf"
      ? { arch: "mbf", inputSize: 16, embeddingSize: 16, seed: 3 }
      : { depth: 18, width: 1 / 16, inputSize: 16, embeddingSize: 16, dropout: 0, seed: 3 },
    numClasses: 5,
    microBatch: values["micro-batch"],
    margin: { type: "arcface", s: 16, m2: 0.2 },
  });
  const sums = async () => {
    const out: Record<string, number> = {};
    for (const [k, t] of trainer.state()) {
      out[k] = [...await t.data()].reduce((s: number, v) => s + Number(v), 0);
    }
    return out;
  };
  const init = await sums();
  // [8, 16, 16, 3] in [-1, 1], fixed and backend-independent.
  const x = tf.tensor4d(
    Float32Array.from({ length: 8 * 16 * 16 * 3 }, (_, i) => Math.sin(i * 0.37)),
    [8, 16, 16, 3],
  );
  const y = tf.tensor1d([0, 1, 2, 3, 4, 0, 1, 2], "int32");
  const losses: number[] = [];
  const weights: Record<string, number[]> = {};
  const after = Math.min(values["weights-after"] ?? values.steps, values.steps);
  for (let step = 0; step < values.steps; step++) {
    losses.push((await trainer.trainStep(x, y, values.lr, step)).totalLoss);
    if (step + 1 !== after) continue;
    for (const [k, t] of trainer.state()) weights[k] = [...(await t.data())];
  }
  tf.dispose([x, y]);
  trainer.dispose();
  console.log(JSON.stringify({ backend: info.name, detail: info.detail, init, losses, weights }));
}

await runTask("webgpu_parity_step", main);
