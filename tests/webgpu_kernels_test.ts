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
import { depthwiseSplits } from "../model/backend/webgpu_depthwise_grads.ts";

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

Deno.test("depthwise split plan: chunks cover the pixels exactly once", () => {
  for (const [ch, px] of [[64, 401408], [512, 6272], [8, 1600], [70, 3], [1, 1]]) {
    const { splits, chunk } = depthwiseSplits(ch, px);
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
