/**
 * arcstream's WGSL conv filter gradients (`model/backend/webgpu_kernels.ts`; BN and Sum: in
 * webgpu_bn_sum_test.ts) against the cpu backend, at small
 * versions of the shapes r50 / r18 / MobileFaceNet train with (stride 1 and 2, 1x1 and 3x3, same
 * and valid padding, odd sizes, channel counts that do not fill a 64-wide tile, and K long enough
 * to be split across workgroups). Without a GPU, Deno's WebGPU runs on Mesa's CPU "llvmpipe"
 * Vulkan driver (mesa-vulkan-drivers, installed by .ci/run). Without any adapter the tests are
 * ignored with the reason printed, except on CI (CI=true), where they must run and so fail.
 */
import * as tf from "@tensorflow/tfjs";
import { assert, assertStrictEquals } from "@std/assert";
import { initBackend } from "../model/backend/backend.ts";
import { filterGradSplits } from "../model/backend/webgpu_conv_grads.ts";
import { splitRows } from "../model/backend/webgpu_program.ts";
import { ignore, maxError, runOn } from "./webgpu_test_util.ts";

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
