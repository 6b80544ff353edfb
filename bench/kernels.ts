/**
 * `deno task bench kernels [--batch 4] [--repeats 3] [--net small|r18|r50|mbf] [--no-cpu]`
 * Milliseconds per call of each kernel arcstream registers for the wasm backend, against the wasm
 * backend's own kernel (where it has one) and the cpu backend (on a smaller shape when the cpu is
 * too slow; the JSON says which), then one training step of a conv net with a per-kernel profile.
 */
import { parseFlags } from "../tasks/cli.ts";
import type * as tfTypes from "@tensorflow/tfjs";

const HELP = `Usage: deno task bench kernels [options]   (prints one JSON object)
  --batch N       batch of the kernel shapes and of the net step (default 4)
  --repeats N     timed calls per kernel, median reported (default 3)
  --net NAME      net for the step: small (3 conv3x3+BN+PReLU blocks at 112x112),
                  r18 or r50 (model/nets/iresnet.ts + an ArcFace head), or mbf
                  (MobileFaceNet's training forward + an ArcFace head) (default small)
  --step-only     only the net's training step and its per-kernel profile
  --steps N       timed training steps of the net (default 2)
  --no-cpu        skip the cpu backend
  --no-stock      skip the wasm backend's own kernels`;

type Tf = typeof tfTypes;
interface Case {
  name: string;
  /** Builds inputs for a batch/spatial scale and returns the op to time (inputs stay alive). */
  make: (
    tf: Tf,
    batch: number,
    side: number,
  ) => { run: () => tfTypes.Tensor | tfTypes.Tensor[]; dispose: () => void };
  side: number;
  /** Spatial side for the cpu backend (its conv gradients take minutes at full size). */
  cpuSide: number;
  stock: boolean;
}

const r = (tf: Tf, s: number[], seed: number) => tf.randomNormal(s, 0, 1, "float32", seed);

function convGrad(kind: "filter" | "input", c: number, stride: number, side: number): Case {
  return {
    name: `Conv2DBackprop${kind === "filter" ? "Filter" : "Input"} 3x3 ${c}->${c} s${stride}`,
    side,
    cpuSide: Math.max(8, side / 4),
    stock: kind === "input",
    make: (tf, b, n) => {
      const x = r(tf, [b, n, n, c], 1), f = r(tf, [3, 3, c, c], 2);
      const dy = r(tf, [b, n / stride, n / stride, c], 3);
      const attrs = { strides: stride, pad: "same", dataFormat: "NHWC" };
      const run = () =>
        (kind === "filter"
          ? tf.engine().runKernel("Conv2DBackpropFilter", { x, dy }, {
            ...attrs,
            filterShape: f.shape,
          })
          : tf.engine().runKernel("Conv2DBackpropInput", { dy, filter: f }, {
            ...attrs,
            inputShape: x.shape,
          })) as tfTypes.Tensor;
      return { run, dispose: () => tf.dispose([x, f, dy]) };
    },
  };
}

const CASES: Case[] = [
  convGrad("filter", 64, 1, 56),
  convGrad("filter", 64, 2, 112),
  convGrad("filter", 256, 1, 14),
  convGrad("input", 64, 1, 56),
  convGrad("input", 64, 2, 112),
  convGrad("input", 256, 1, 14),
  {
    name: "batch norm fwd+bwd (moments + batchNorm grads) C=64",
    side: 112,
    cpuSide: 56,
    stock: true,
    make: (tf, b, n) => {
      const x = r(tf, [b, n, n, 64], 4), g = tf.ones([64]), be = tf.zeros([64]);
      const dy = r(tf, [b, n, n, 64], 5);
      const f = tf.grads((x: tfTypes.Tensor, g: tfTypes.Tensor, be: tfTypes.Tensor) => {
        const { mean, variance } = tf.moments(x, [0, 1, 2]);
        return tf.batchNorm(x, mean, variance, be, g, 2e-5).mul(dy).sum();
      });
      return { run: () => f([x, g, be]), dispose: () => tf.dispose([x, g, be, dy]) };
    },
  },
  {
    name: "PReLU fwd+bwd C=64",
    side: 112,
    cpuSide: 56,
    stock: true,
    make: (tf, b, n) => {
      const x = r(tf, [b, n, n, 64], 6),
        a = tf.fill([1, 1, 64], 0.25),
        dy = r(tf, [b, n, n, 64], 7);
      const f = tf.grads((x: tfTypes.Tensor, a: tfTypes.Tensor) => tf.prelu(x, a).mul(dy).sum());
      return { run: () => f([x, a]), dispose: () => tf.dispose([x, a, dy]) };
    },
  },
  {
    name: "Tile [1,1,1,64] to the full map",
    side: 112,
    cpuSide: 112,
    stock: true,
    make: (tf, b, n) => {
      const v = r(tf, [1, 1, 1, 64], 8);
      return { run: () => tf.tile(v, [b, n, n, 1]), dispose: () => v.dispose() };
    },
  },
  {
    name: "Sum over [0,1,2] C=64",
    side: 112,
    cpuSide: 112,
    stock: true,
    make: (tf, b, n) => {
      const x = r(tf, [b, n, n, 64], 9);
      return { run: () => tf.sum(x, [0, 1, 2]), dispose: () => x.dispose() };
    },
  },
  {
    name: "MatMul transposeA [B,25088]^T x [B,512] (FC weight grad)",
    side: 1,
    cpuSide: 1,
    stock: true,
    make: (tf, b) => {
      const x = r(tf, [b, 25088], 10), dy = r(tf, [b, 512], 11);
      return { run: () => tf.matMul(x, dy, true, false), dispose: () => tf.dispose([x, dy]) };
    },
  },
];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
}

function time(tf: Tf, run: () => tfTypes.Tensor | tfTypes.Tensor[], repeats: number): number {
  const once = () => {
    const t = performance.now();
    const out = tf.tidy(run);
    const outs = Array.isArray(out) ? out : [out];
    for (const o of outs) o.dataSync(); // wait for the result (and include reading one back)
    tf.dispose(outs);
    return performance.now() - t;
  };
  once(); // warm-up: operator creation, heap growth
  return median(Array.from({ length: repeats }, once));
}

export async function main(args: string[]): Promise<void> {
  const { flags: values } = parseFlags(args, {
    batch: { type: "int", min: 1, default: 4 },
    repeats: { type: "int", min: 1, default: 3 },
    net: { type: "string", choices: ["small", "r18", "r50", "mbf"], default: "small" },
    "step-only": { type: "boolean" },
    steps: { type: "int", min: 1, default: 2 },
    "no-cpu": { type: "boolean" },
    "no-stock": { type: "boolean" },
  }, { help: HELP });
  const { batch, repeats, steps } = values;
  const tf = await import("@tensorflow/tfjs");
  const { initBackend } = await import("../model/backend/backend.ts");
  const { setWasmKernelsEnabled } = await import("../model/backend/wasm_kernels.ts");
  const { netStep } = await import("./kernels_step.ts");
  type StepNet = import("./kernels_step.ts").StepNet;
  const info = await initBackend({ backend: "wasm" });

  const kernels = [];
  for (const c of values["step-only"] ? [] : CASES) {
    const row: Record<string, unknown> = {
      name: c.name,
      shape: `batch ${batch}, ${c.side}x${c.side}`,
    };
    const built = c.make(tf, batch, c.side);
    row.wasm_ms = +time(tf, built.run, repeats).toFixed(2);
    if (c.stock && !values["no-stock"]) {
      setWasmKernelsEnabled(false);
      row.wasm_stock_ms = +time(tf, built.run, repeats).toFixed(2);
      setWasmKernelsEnabled(true);
    }
    built.dispose();
    if (!values["no-cpu"]) {
      await tf.setBackend("cpu");
      const small = c.make(tf, 1, c.cpuSide);
      row.cpu_ms = +time(tf, small.run, 1).toFixed(2);
      row.cpu_shape = `batch 1, ${c.cpuSide}x${c.cpuSide}`;
      // Scaled by the work ratio (batch x pixels) to the wasm shape, for a like-for-like figure.
      row.cpu_ms_scaled = +((row.cpu_ms as number) * batch * (c.side / c.cpuSide) ** 2).toFixed(0);
      small.dispose();
      await tf.setBackend("wasm");
    }
    kernels.push(row);
  }
  const step = await netStep(tf, values.net as StepNet, batch, steps);
  console.log(JSON.stringify(
    { bench: "kernels", backend: info.name, detail: info.detail, batch, repeats, kernels, step },
    null,
    2,
  ));
}
