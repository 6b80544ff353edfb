/**
 * arcstream's WGSL kernels (`model/backend/webgpu_kernels.ts`) against the cpu backend, at small
 * versions of the shapes r50 / r18 / MobileFaceNet train with (stride 1 and 2, 1x1 and 3x3, same
 * and valid padding, odd sizes, channel counts that do not fill a 64-wide tile, and K long enough
 * to be split across workgroups). Without a GPU, Deno's WebGPU runs on Mesa's CPU "llvmpipe"
 * Vulkan driver (mesa-vulkan-drivers, installed by .ci/run). Without any adapter the tests are
 * ignored with the reason printed, except on CI (CI=true), where they must run and so fail.
 */
import * as tf from "@tensorflow/tfjs";
import { assert, assertStrictEquals } from "@std/assert";
import { initBackend, probeWebGPU } from "../model/backend/backend.ts";
import { filterGradSplits } from "../model/backend/webgpu_conv_grads.ts";
import { splitRows } from "../model/backend/webgpu_program.ts";
import { batchNormTrainFused } from "../model/backend/wasm_batch_norm_train.ts";
import { batchNormTrain } from "../model/train/train_forward.ts";

const probe = await probeWebGPU();
const onCI = Boolean(Deno.env.get("CI"));
if (!probe.adapter) {
  console.log(
    `webgpu_kernels_test: ${probe.reason}${
      onCI ? " (CI: failing)" : "; ignored (apt-get install mesa-vulkan-drivers gives one)"
    }`,
  );
}
const ignore = !probe.adapter && !onCI;

/** Deterministic values in [-1, 1] (no RNG: the same on every backend). */
function values(n: number, seed: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.731 + seed * 1.37));
}

/** Runs `kernel` on `backend` from fresh inputs and returns its output values and shape. */
async function runOn(
  backend: "cpu" | "webgpu",
  kernel: string,
  inputs: Record<string, { shape: number[]; seed: number }>,
  attrs: Record<string, unknown>,
): Promise<{ data: Float32Array; shape: number[] }> {
  await tf.setBackend(backend);
  const named: Record<string, tf.Tensor> = {};
  for (const [k, v] of Object.entries(inputs)) {
    named[k] = tf.tensor(values(v.shape.reduce((a, b) => a * b, 1), v.seed), v.shape);
  }
  const before = tf.memory().numTensors;
  const out = tf.engine().runKernel(kernel, named, attrs as tf.NamedAttrMap) as tf.Tensor;
  try {
    return { data: (await out.data()) as Float32Array, shape: out.shape };
  } finally {
    out.dispose();
    tf.dispose(Object.values(named));
    assertStrictEquals(tf.memory().numTensors, before - Object.keys(named).length);
  }
}

/** Largest |a - b| / max(1, |b|) (relative for large sums, absolute near zero). */
function maxError(a: Float32Array, b: Float32Array): number {
  assertStrictEquals(a.length, b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    worst = Math.max(worst, Math.abs(a[i] - b[i]) / Math.max(1, Math.abs(b[i])));
  }
  return worst;
}

/** max |a - b| / max |b| (as tests/wasm_kernels_test.ts): relative to the output's scale. */
function relError(a: Float32Array, b: Float32Array): number {
  assertStrictEquals(a.length, b.length);
  let diff = 0, scale = 0;
  for (let i = 0; i < a.length; i++) {
    assert(Number.isFinite(a[i]), `non-finite value at ${i}`);
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return diff / (scale || 1);
}

interface FilterCase {
  what: string;
  x: number[];
  filter: number[];
  stride: number;
  pad: "same" | "valid";
}

// [B, H, W, Cin] and [KH, KW, Cin, Cout], small versions of the training nets' convolutions.
const FILTER_CASES: FilterCase[] = [
  {
    what: "3x3 s1 same, odd 9x9 (IR block body)",
    x: [2, 9, 9, 8],
    filter: [3, 3, 8, 12],
    stride: 1,
    pad: "same",
  },
  {
    what: "3x3 s2 same, odd 9x9 (IR block downsampling)",
    x: [2, 9, 9, 8],
    filter: [3, 3, 8, 12],
    stride: 2,
    pad: "same",
  },
  {
    what: "3x3 s2 same, 9x6 (top and left padding differ)",
    x: [2, 9, 6, 8],
    filter: [3, 3, 8, 12],
    stride: 2,
    pad: "same",
  },
  {
    what: "1x1 s2 valid, 10x10 (r50 shortcut)",
    x: [2, 10, 10, 16],
    filter: [1, 1, 16, 24],
    stride: 2,
    pad: "valid",
  },
  {
    what: "3x3 s1 valid, Cin 3 (stem)",
    x: [1, 7, 7, 3],
    filter: [3, 3, 3, 8],
    stride: 1,
    pad: "valid",
  },
  {
    what: "1x1 s1 same, 70 -> 66 channels (several 64-wide tiles)",
    x: [3, 5, 5, 70],
    filter: [1, 1, 70, 66],
    stride: 1,
    pad: "same",
  },
  {
    what: "3x3 s1 same, 4 x 28x28 (K split across workgroups)",
    x: [4, 28, 28, 8],
    filter: [3, 3, 8, 8],
    stride: 1,
    pad: "same",
  },
  {
    what: "3x3 s2 valid, 4 x 15x15 (K split, last chunk short)",
    x: [4, 15, 15, 5],
    filter: [3, 3, 5, 7],
    stride: 2,
    pad: "valid",
  },
];

Deno.test("split-K plan: chunks are whole 16-deep slices that cover K exactly once", () => {
  for (const [m, n, k] of [[72, 8, 3136], [576, 64, 401408], [4608, 512, 6272], [8, 12, 162]]) {
    const { splits, chunk } = filterGradSplits(m, n, k);
    assertStrictEquals(chunk % 16, 0);
    assert(splits >= 1 && splits <= 64);
    assert(chunk * splits >= k && chunk * (splits - 1) < k, `${m}x${n}x${k}: ${splits} x ${chunk}`);
  }
  // A 3x3x64x64 filter gradient at batch 128, 56x56: one 64-column tile pair of rows, so K splits.
  assert(filterGradSplits(576, 64, 128 * 56 * 56).splits > 16);
});

Deno.test({
  name: "webgpu Conv2DBackpropFilter (tiled GEMM) matches the cpu backend to 1e-4",
  ignore,
  fn: async () => {
    const info = await initBackend({ backend: "webgpu", warn: () => {} });
    assert(/arcstream kernels/.test(info.detail), info.detail);
    for (const c of FILTER_CASES) {
      const dyShape = tf.backend_util.computeConv2DInfo(
        c.x as [number, number, number, number],
        c.filter as [number, number, number, number],
        c.stride,
        1,
        c.pad,
      ).outShape;
      const inputs = { x: { shape: c.x, seed: 1 }, dy: { shape: dyShape, seed: 2 } };
      const attrs = { strides: c.stride, pad: c.pad, dataFormat: "NHWC", filterShape: c.filter };
      const want = await runOn("cpu", "Conv2DBackpropFilter", inputs, attrs);
      const got = await runOn("webgpu", "Conv2DBackpropFilter", inputs, attrs);
      assertStrictEquals(got.shape.join(), c.filter.join(), c.what);
      const err = maxError(got.data, want.data);
      assert(err <= 1e-4, `${c.what}: max error ${err}`);
    }
  },
});

// [B, H, W, C] and [KH, KW, C, M]: MobileFaceNet's depthwise layers (3x3 s1/s2 same, the 7x7
// valid global depthwise conv, the grouped conv's multiplier 2) at small sizes.
const DEPTHWISE_CASES: FilterCase[] = [
  { what: "3x3 s1 same, odd 9x9", x: [2, 9, 9, 12], filter: [3, 3, 12, 1], stride: 1, pad: "same" },
  { what: "3x3 s2 same, odd 9x9", x: [2, 9, 9, 12], filter: [3, 3, 12, 1], stride: 2, pad: "same" },
  {
    what: "3x3 s2 same, 9x6 (top and left padding differ)",
    x: [2, 9, 6, 12],
    filter: [3, 3, 12, 1],
    stride: 2,
    pad: "same",
  },
  {
    what: "3x3 s1 same, multiplier 2",
    x: [2, 8, 8, 6],
    filter: [3, 3, 6, 2],
    stride: 1,
    pad: "same",
  },
  {
    what: "7x7 s1 valid on 7x7 (GDC)",
    x: [3, 7, 7, 70],
    filter: [7, 7, 70, 1],
    stride: 1,
    pad: "valid",
  },
  {
    what: "3x3 s1 same, 4 x 20x20 (pixels split)",
    x: [4, 20, 20, 8],
    filter: [3, 3, 8, 1],
    stride: 1,
    pad: "same",
  },
];

Deno.test("row split plan (depthwise gradient, batch-norm sums): chunks cover the rows exactly once", () => {
  for (const [ch, px] of [[64, 401408], [512, 6272], [8, 1600], [70, 3], [1, 1]]) {
    const { splits, chunk } = splitRows(ch, px);
    assert(splits >= 1 && chunk * splits >= px && chunk * (splits - 1) < px, `${ch} x ${px}`);
  }
});

Deno.test({
  name: "webgpu DepthwiseConv2dNativeBackpropFilter (split over pixels) matches cpu to 1e-4",
  ignore,
  fn: async () => {
    await initBackend({ backend: "webgpu", warn: () => {} });
    for (const c of DEPTHWISE_CASES) {
      const dyShape = tf.backend_util.computeConv2DInfo(
        c.x as [number, number, number, number],
        c.filter as [number, number, number, number],
        c.stride,
        1,
        c.pad,
        undefined,
        true,
      ).outShape;
      const inputs = { x: { shape: c.x, seed: 3 }, dy: { shape: dyShape, seed: 4 } };
      const attrs = { strides: c.stride, pad: c.pad, dilations: 1, filterShape: c.filter };
      const kernel = "DepthwiseConv2dNativeBackpropFilter";
      const want = await runOn("cpu", kernel, inputs, attrs);
      const got = await runOn("webgpu", kernel, inputs, attrs);
      assertStrictEquals(got.shape.join(), c.filter.join(), c.what);
      const err = maxError(got.data, want.data);
      assert(err <= 1e-4, `${c.what}: max error ${err}`);
    }
  },
});

/**
 * batchNormTrain's output, its gradients (x, gamma, beta, alpha) and the moving statistics on one
 * backend, from fixed inputs (x with mean 10 and spread 3: the two-pass variance must not cancel).
 */
async function batchNormOn(
  backend: "cpu" | "webgpu",
  shape: number[],
  eps: number,
  alphaShape: number[] | null,
): Promise<{ fused: boolean; outs: Float32Array[] }> {
  await tf.setBackend(backend);
  const c = shape[shape.length - 1];
  const n = shape.reduce((a, b) => a * b, 1);
  const before = tf.memory().numTensors;
  const x = tf.tidy(() => tf.tensor(values(n, 5), shape).mul(3).add(10));
  const dy = tf.tensor(values(n, 6), shape);
  // tidy: a variable keeps its own copy; the initial tensor goes.
  const vec = (seed: number, f = (v: number) => v) =>
    tf.tidy(() => tf.variable(tf.tensor1d(values(c, seed).map(f))));
  const gamma = vec(7), beta = vec(8);
  const alpha = alphaShape ? tf.tensor(values(c, 9).map((v) => 0.3 * v), alphaShape) : undefined;
  const movingMean = vec(10), movingVar = vec(11, Math.abs);
  const fused = batchNormTrainFused(x, gamma, beta, alpha);
  const f = (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor, a?: tf.Tensor) =>
    batchNormTrain(x, g as tf.Variable, b as tf.Variable, movingMean, movingVar, eps, a);
  const outs = tf.tidy(() => {
    const y = f(x, gamma, beta, alpha);
    const grads = alpha
      ? tf.grads((x, g, b, a) => f(x, g, b, a).mul(dy).sum())([x, gamma, beta, alpha])
      : tf.grads((x, g, b) => f(x, g, b).mul(dy).sum())([x, gamma, beta]);
    return [y, ...grads, movingMean.clone(), movingVar.clone()];
  });
  const data = await Promise.all(outs.map((t) => t.data() as Promise<Float32Array>));
  tf.dispose([...outs, x, dy, gamma, beta, movingMean, movingVar, ...(alpha ? [alpha] : [])]);
  assertStrictEquals(tf.memory().numTensors, before, `${backend}: tensors leaked`);
  return { fused, outs: data };
}

Deno.test({
  name: "webgpu fused training-mode batch norm (+ PReLU) matches cpu's tf ops to 2e-4",
  ignore,
  fn: async () => {
    await initBackend({ backend: "webgpu", warn: () => {} });
    // [shape, epsilon, alpha shape or null]: odd sizes, channels past one 64-wide group, enough
    // rows for several row chunks.
    const cases: [number[], number, number[] | null][] = [
      [[2, 5, 7, 12], 1e-5, null],
      [[2, 3, 3, 130], 1e-3, null],
      [[2, 5, 7, 12], 1e-5, [1, 1, 12]],
      [[4, 3, 5, 9], 2e-5, [9]],
      [[4, 20, 20, 16], 2e-5, [1, 1, 16]],
    ];
    for (const [shape, eps, alphaShape] of cases) {
      const label = `${JSON.stringify(shape)} alpha ${alphaShape}`;
      const want = await batchNormOn("cpu", shape, eps, alphaShape);
      const got = await batchNormOn("webgpu", shape, eps, alphaShape);
      assert(got.fused && !want.fused, `${label}: webgpu fused, cpu tf ops`);
      got.outs.forEach((v, i) => {
        const err = relError(v, want.outs[i]);
        assert(err <= 2e-4, `${label} output ${i}: relative error ${err.toExponential(2)}`);
      });
    }
  },
});

Deno.test({
  name: "webgpu Sum (short runs of axes: the grouped conv's group sums) matches cpu to 1e-5",
  ignore,
  fn: async () => {
    await initBackend({ backend: "webgpu", warn: () => {} });
    // [shape, axis, keepDims]: the grouped conv's [N, k, k] over 1, a run of two axes, the last
    // axis, and two cases tfjs's own kernel keeps (axes not contiguous, a run longer than 64).
    const cases: [number[], number | number[], boolean][] = [
      [[300, 2, 2], 1, false],
      [[7, 4, 5, 3], [1, 2], false],
      [[90, 6], -1, true],
      [[5, 3, 4], [0, 2], false],
      [[3, 100], 1, false],
    ];
    for (const [shape, axis, keepDims] of cases) {
      const inputs = { x: { shape, seed: 12 } };
      const attrs = { axis, keepDims };
      const want = await runOn("cpu", "Sum", inputs, attrs);
      const got = await runOn("webgpu", "Sum", inputs, attrs);
      const label = `Sum ${JSON.stringify(shape)} axis ${axis}`;
      assertStrictEquals(got.shape.join(), want.shape.join(), label);
      const err = maxError(got.data, want.data);
      assert(err <= 1e-5, `${label}: max error ${err}`);
    }
  },
});
