/**
 * `deno task bench kernels --backend webgpu`'s comparison: milliseconds per call of each kernel
 * arcstream registers for the webgpu backend against tfjs-backend-webgpu 4.22's own, at IR-ResNet-50
 * training shapes (112x112 input), in the same process, alternating the two.
 */
import type * as tfTypes from "@tensorflow/tfjs";

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

/** Median wall milliseconds of `repeats` calls, each awaited to its result (after one warm-up). */
async function timeAsync(tf: Tf, run: () => tfTypes.Tensor, repeats: number): Promise<number> {
  const once = async () => {
    const t = performance.now();
    const out = run();
    await out.data();
    out.dispose();
    return performance.now() - t;
  };
  await once(); // shader compilation
  const ms: number[] = [];
  for (let i = 0; i < repeats; i++) ms.push(await once());
  ms.sort((a, b) => a - b);
  void tf;
  return ms[ms.length >> 1];
}

/** Times arcstream's and tfjs's Conv2DBackpropFilter at each shape (batch `batch`) on webgpu. */
export async function compareWebGPUKernels(tf: Tf, batch: number, repeats: number) {
  const { setWebGPUKernelsEnabled } = await import("../model/backend/webgpu_kernels.ts");
  const rows = [];
  for (const s of R50_FILTER_SHAPES) {
    const [h, w, c] = s.x;
    const x = tf.randomNormal([batch, h, w, c], 0, 1, "float32", 1);
    const oh = Math.ceil(h / s.stride), ow = Math.ceil(w / s.stride);
    const dy = tf.randomNormal([batch, oh, ow, s.filter[3]], 0, 1, "float32", 2);
    const run = () =>
      tf.engine().runKernel("Conv2DBackpropFilter", { x, dy }, {
        strides: s.stride,
        pad: "same",
        dataFormat: "NHWC",
        filterShape: s.filter,
      }) as tfTypes.Tensor;
    try {
      setWebGPUKernelsEnabled(false);
      const tfjsMs = await timeAsync(tf, run, repeats);
      setWebGPUKernelsEnabled(true);
      const ownMs = await timeAsync(tf, run, repeats);
      rows.push({
        kernel: "Conv2DBackpropFilter",
        shape: `${s.name}, batch ${batch}`,
        arcstream_ms: +ownMs.toFixed(1),
        tfjs_ms: +tfjsMs.toFixed(1),
        speedup: +(tfjsMs / ownMs).toFixed(2),
      });
    } finally {
      setWebGPUKernelsEnabled(true);
      tf.dispose([x, dy]);
    }
  }
  return rows;
}
