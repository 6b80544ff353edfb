/**
 * DepthwiseConv2dNativeBackpropFilter for the webgpu backend (MobileFaceNet's depthwise layers).
 *
 * dW[kh, kw, c, m] = sum over pixels k = (b, oy, ox) of x[b, oy*sh - pt + kh, ox*sw - pl + kw, c] *
 * dy[b, oy, ox, c*M + m]. tfjs-backend-webgpu 4.22 runs one invocation per filter element, each
 * looping over every pixel of the batch: a 3x3x128x1 filter is 1,152 invocations, each summing
 * B*OH*OW products (401,408 at batch 128 on 56x56), which leaves a GPU mostly idle and reads dy 9
 * times. Here one invocation owns one output channel c*M + m and all KH*KW taps (dy read once per
 * pixel, the taps in registers), and the pixels are split into S chunks run by separate
 * invocations (consecutive invocations: consecutive channels, consecutive addresses); `splitSum`
 * adds the S partial filters.
 */
import * as tf from "@tensorflow/tfjs-core";
import {
  ints,
  splitRows,
  splitSum,
  type WebGPUBackendLike,
  type WgslProgram,
} from "./webgpu_program.ts";

/** Taps held in registers; larger filters (none in the nets) use tfjs's kernel. */
const MAX_TAPS = 49;

function depthwiseFilterProgram(
  kh: number,
  kw: number,
  channels: number,
  splits: number,
): WgslProgram {
  const taps = kh * kw;
  return {
    variableNames: ["x", "dy"],
    outputShape: [splits, taps * channels],
    shaderKey: `arcstreamDepthwiseBackpropFilter_${kh}x${kw}`,
    dispatchLayout: { x: [1], y: [0] },
    dispatch: [Math.ceil(channels / 64), splits, 1],
    workgroupSize: [64, 1, 1],
    uniforms: "channels : i32, mult : i32, cin : i32, pixels : i32, chunk : i32, inH : i32, " +
      "inW : i32, outH : i32, outW : i32, strideH : i32, strideW : i32, padTop : i32, " +
      "padLeft : i32,",
    getUserCode: () => `
      fn main() {
        let ch = i32(globalId.x);
        if (ch >= uniforms.channels) { return; }
        let c = ch / uniforms.mult;
        let split = i32(globalId.y);
        let kBegin = split * uniforms.chunk;
        let kEnd = min(kBegin + uniforms.chunk, uniforms.pixels);
        let plane = uniforms.outH * uniforms.outW;
        var acc : array<f32, ${taps}>;
        for (var t = 0; t < ${taps}; t = t + 1) { acc[t] = 0.0; }
        for (var k = kBegin; k < kEnd; k = k + 1) {
          let img = k / plane;
          let p = k - img * plane;
          let oy = p / uniforms.outW;
          let ox = p - oy * uniforms.outW;
          let g = dy[k * uniforms.channels + ch];
          let y0 = oy * uniforms.strideH - uniforms.padTop;
          let x0 = ox * uniforms.strideW - uniforms.padLeft;
          for (var i = 0; i < ${kh}; i = i + 1) {
            let iy = y0 + i;
            if (iy < 0 || iy >= uniforms.inH) { continue; }
            let row = (img * uniforms.inH + iy) * uniforms.inW;
            for (var j = 0; j < ${kw}; j = j + 1) {
              let ix = x0 + j;
              if (ix >= 0 && ix < uniforms.inW) {
                acc[i * ${kw} + j] = fma(x[(row + ix) * uniforms.cin + c], g, acc[i * ${kw} + j]);
              }
            }
          }
        }
        let base = split * ${taps} * uniforms.channels;
        for (var t = 0; t < ${taps}; t = t + 1) {
          result[base + t * uniforms.channels + ch] = acc[t];
        }
      }`,
  };
}

/** The kernel: NHWC float32, dilation 1, at most 49 taps; anything else goes to `fallback`. */
export function depthwiseBackpropFilterSplit(
  args: { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs?: tf.NamedAttrMap },
  fallback?: tf.KernelFunc,
): tf.TensorInfo {
  const { x, dy } = args.inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
  const a = args.attrs as unknown as tf.DepthwiseConv2dNativeBackpropFilterAttrs;
  const [kh, kw, cin, mult] = a.filterShape;
  const dilated = [a.dilations ?? 1].flat().some((d) => d !== 1);
  if (dilated || kh * kw > MAX_TAPS || x.dtype !== "float32" || dy.dtype !== "float32") {
    if (!fallback) throw new Error("DepthwiseConv2dNativeBackpropFilter: unsupported arguments");
    return fallback(args as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
  }
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    a.filterShape,
    a.strides,
    1,
    a.pad,
    a.dimRoundingMode,
    true,
  );
  const channels = cin * mult;
  const pixels = info.batchSize * info.outHeight * info.outWidth;
  const { splits, chunk } = splitRows(channels, pixels);
  const backend = args.backend as WebGPUBackendLike;
  const parts = backend.runWebGPUProgram(
    depthwiseFilterProgram(kh, kw, channels, splits),
    [x, dy],
    "float32",
    ints(
      channels,
      mult,
      cin,
      pixels,
      chunk,
      info.inHeight,
      info.inWidth,
      info.outHeight,
      info.outWidth,
      info.strideHeight,
      info.strideWidth,
      info.padInfo.top,
      info.padInfo.left,
    ),
  );
  return splitSum(backend, parts, [kh, kw, cin, mult]);
}
