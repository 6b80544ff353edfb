/**
 * `deno task bench kernels --backend webgpu`'s comparison: milliseconds per call of each kernel
 * arcstream registers for the webgpu backend against tfjs-backend-webgpu 4.22's own (for batch
 * norm: tf ops), at IR-ResNet-50 / MobileFaceNet training shapes (112x112 input), in the same
 * process, alternating the two.
 */
import type * as tfTypes from "@tensorflow/tfjs";
import { cpuUsage } from "node:process";
import { batchNormTrain } from "../model/nets/train_ops.ts";

type Tf = typeof tfTypes;

interface Shape {
  name: string;
  /** [H, W, Cin] of the input, [KH, KW, Cin, Cout] of the filter. */
  x: [number, number, number];
  filter: [number, number, number, number];
  stride: number;
}

/** The r50 convolutions whose filter gradients a training step computes (the stem and stages). */
export const R50_FILTER_SHAPES: Shape[] = [
  { name: "stem 3x3 3->64 s1 112", x: [112, 112, 3], filter: [3, 3, 3, 64], stride: 1 },
  { name: "stage1 3x3 64->64 s2 112->56", x: [112, 112, 64], filter: [3, 3, 64, 64], stride: 2 },
  { name: "stage1 3x3 64->64 s1 56", x: [56, 56, 64], filter: [3, 3, 64, 64], stride: 1 },
  { name: "stage2 3x3 128->128 s1 28", x: [28, 28, 128], filter: [3, 3, 128, 128], stride: 1 },
  {
    name: "stage3 shortcut 1x1 128->256 s2 28->14",
    x: [28, 28, 128],
    filter: [1, 1, 128, 256],
    stride: 2,
  },
  { name: "stage3 3x3 256->256 s1 14", x: [14, 14, 256], filter: [3, 3, 256, 256], stride: 1 },
  { name: "stage4 3x3 512->512 s1 7", x: [7, 7, 512], filter: [3, 3, 512, 512], stride: 1 },
];

/** One comparison: builds its inputs and returns the op to time (inputs freed by dispose). */
interface Case {
  kernel: string;
  shape: string;
  make: (tf: Tf, batch: number) => { run: () => tfTypes.Tensor[]; dispose: () => void };
}

function filterCase(s: Shape): Case {
  return {
    kernel: "Conv2DBackpropFilter",
    shape: s.name,
    make: (tf, batch) => {
      const [h, w, c] = s.x;
      const x = tf.randomNormal([batch, h, w, c], 0, 1, "float32", 1);
      const oh = Math.ceil(h / s.stride), ow = Math.ceil(w / s.stride);
      const dy = tf.randomNormal([batch, oh, ow, s.filter[3]], 0, 1, "float32", 2);
      const attrs = { strides: s.stride, pad: "same", dataFormat: "NHWC", filterShape: s.filter };
      const run =
        () => [tf.engine().runKernel("Conv2DBackpropFilter", { x, dy }, attrs) as tfTypes.Tensor];
      return { run, dispose: () => tf.dispose([x, dy]) };
    },
  };
}

/** MobileFaceNet's depthwise filter gradient (3x3, 128 channels at 56x56, stride 1 and 2). */
function depthwiseCase(stride: number): Case {
  return {
    kernel: "DepthwiseConv2dNativeBackpropFilter",
    shape: `mbf 3x3 x128 s${stride} 56`,
    make: (tf, batch) => {
      const x = tf.randomNormal([batch, 56, 56, 128], 0, 1, "float32", 3);
      const o = Math.ceil(56 / stride);
      const dy = tf.randomNormal([batch, o, o, 128], 0, 1, "float32", 4);
      const attrs = { strides: stride, pad: "same", dilations: 1, filterShape: [3, 3, 128, 1] };
      const run = () => [
        tf.engine().runKernel(
          "DepthwiseConv2dNativeBackpropFilter",
          { x, dy },
          attrs,
        ) as tfTypes.Tensor,
      ];
      return { run, dispose: () => tf.dispose([x, dy]) };
    },
  };
}

/** Training-mode BN + PReLU forward and backward (`batchNormTrain`) on [B, 56, 56, 64]. */
const batchNormCase: Case = {
  kernel: "batchNormTrain + PReLU fwd+bwd",
  shape: "[B, 56, 56, 64]",
  make: (tf, batch) => {
    const x = tf.randomNormal([batch, 56, 56, 64], 0, 1, "float32", 5);
    const dy = tf.randomNormal([batch, 56, 56, 64], 0, 1, "float32", 6);
    const vars = [tf.ones([64]), tf.zeros([64]), tf.zeros([64]), tf.ones([64])].map((t) => {
      const v = tf.variable(t);
      t.dispose();
      return v;
    });
    const alpha = tf.fill([64], 0.25);
    const run = () => {
      const [g, b, mm, mv] = vars;
      const f = (x: tfTypes.Tensor, g: tfTypes.Tensor, b: tfTypes.Tensor, a: tfTypes.Tensor) =>
        batchNormTrain(x, g as tfTypes.Variable, b as tfTypes.Variable, mm, mv, 2e-5, a)
          .mul(dy).sum();
      return tf.grads(f)([x, g, b, alpha]);
    };
    return { run, dispose: () => tf.dispose([x, dy, alpha, ...vars]) };
  },
};

/** MobileFaceNet's grouped-conv group sum: [B*28*28*64, 2, 2] summed over axis 1. */
const groupSumCase: Case = {
  kernel: "Sum (grouped conv)",
  shape: "[B*28*28*64, 2, 2] axis 1",
  make: (tf, batch) => {
    const x = tf.randomNormal([batch * 28 * 28 * 64, 2, 2], 0, 1, "float32", 7);
    return { run: () => [tf.sum(x, 1)], dispose: () => x.dispose() };
  },
};

export const WEBGPU_CASES: Case[] = [
  ...R50_FILTER_SHAPES.map(filterCase),
  depthwiseCase(1),
  depthwiseCase(2),
  batchNormCase,
  groupSumCase,
];

/**
 * Median wall and process-CPU milliseconds of `repeats` calls, each awaited to its results
 * (after one warm-up that compiles the shaders). On llvmpipe the adapter's threads are this
 * process's, so CPU time is the figure that survives a loaded machine.
 */
async function timeAsync(tf: Tf, run: () => tfTypes.Tensor[], repeats: number) {
  const once = async () => {
    const t = performance.now(), c = cpuUsage();
    const outs = tf.tidy(run);
    await Promise.all(outs.map((o) => o.data()));
    tf.dispose(outs);
    const used = cpuUsage(c);
    return { wall: performance.now() - t, cpu: (used.user + used.system) / 1000 };
  };
  await once();
  const runs = [];
  for (let i = 0; i < repeats; i++) runs.push(await once());
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[xs.length >> 1];
  return { wall: median(runs.map((r) => r.wall)), cpu: median(runs.map((r) => r.cpu)) };
}

/** Times arcstream's kernels and tfjs's own (or tf ops) at each case on webgpu, alternating. */
export async function compareWebGPUKernels(tf: Tf, batch: number, repeats: number) {
  const { setWebGPUKernelsEnabled } = await import("../model/backend/webgpu_kernels.ts");
  const rows = [];
  for (const c of WEBGPU_CASES) {
    const built = c.make(tf, batch);
    try {
      setWebGPUKernelsEnabled(false);
      const theirs = await timeAsync(tf, built.run, repeats);
      setWebGPUKernelsEnabled(true);
      const ours = await timeAsync(tf, built.run, repeats);
      rows.push({
        kernel: c.kernel,
        shape: `${c.shape}, batch ${batch}`,
        arcstream_ms: +ours.wall.toFixed(1),
        tfjs_ms: +theirs.wall.toFixed(1),
        arcstream_cpu_ms: +ours.cpu.toFixed(1),
        tfjs_cpu_ms: +theirs.cpu.toFixed(1),
        speedup_wall: +(theirs.wall / ours.wall).toFixed(2),
        speedup_cpu: +(theirs.cpu / ours.cpu).toFixed(2),
      });
    } finally {
      setWebGPUKernelsEnabled(true);
      built.dispose();
    }
  }
  return rows;
}
