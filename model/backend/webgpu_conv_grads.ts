/**
 * Conv2DBackpropFilter for the webgpu backend as a tiled GEMM with workgroup-shared tiles.
 *
 * dW[kh, kw, ci, co] = sum over k = (b, oy, ox) of x[b, oy*sh - pt + kh, ox*sw - pl + kw, ci] *
 * dy[b, oy, ox, co]: a GEMM with M = KH*KW*Cin rows (the filter's first three axes, so the
 * [M, N] result is the filter's own NHWC layout), N = Cout columns and K = B*OH*OW, where the A
 * operand is read from x on the fly (implicit im2col; out-of-image taps read 0) and B is dy as it
 * lies, [K, N]. tfjs-backend-webgpu 4.22's own kernel is one invocation per filter element, each
 * summing all K products serially: for a 3x3x64x64 filter at batch 128 on 56x56 maps that is
 * 36,864 invocations of ~400,000 steps each.
 *
 * Each workgroup (16x16 invocations) computes a 64x64 tile of dW, each invocation 4x4 outputs
 * (rows ty + 16i, columns tx + 16j: consecutive invocations touch consecutive shared-memory words
 * and output addresses), over 16-deep K slices staged in two 16x64 shared tiles. Small filters
 * have few tiles, so K is split into S chunks run by separate workgroups (split-K) and the S
 * partial results are summed by `splitSum`; that also keeps each float32 running sum to at most
 * `kChunk` products.
 */
import * as tf from "@tensorflow/tfjs-core";
import { ints, splitSum, type WebGPUBackendLike, type WgslProgram } from "./webgpu_program.ts";

const TILE = 64;
const DEPTH = 16;
/** Aim for this many workgroups at least (a large GPU has ~100 compute units, 4+ groups each). */
const TARGET_GROUPS = 512;
/** Fewest K products per split: below it the tile loads are not amortized. */
const MIN_CHUNK = 256;
const MAX_SPLITS = 64;

/** How many K chunks to run in parallel for an [M, N] result over K (a multiple of DEPTH each). */
export function filterGradSplits(
  m: number,
  n: number,
  k: number,
): { splits: number; chunk: number } {
  const tiles = Math.ceil(m / TILE) * Math.ceil(n / TILE);
  const byWork = Math.max(1, Math.floor(k / MIN_CHUNK));
  const splits = Math.max(1, Math.min(MAX_SPLITS, byWork, Math.ceil(TARGET_GROUPS / tiles)));
  const chunk = Math.ceil(Math.ceil(k / splits) / DEPTH) * DEPTH;
  return { splits: Math.ceil(k / chunk), chunk };
}

function filterGradProgram(m: number, n: number, splits: number): WgslProgram {
  return {
    variableNames: ["x", "dy"],
    outputShape: [splits, m * n],
    shaderKey: "arcstreamConv2DBackpropFilterGemm",
    dispatchLayout: { x: [1], y: [0], z: [] },
    dispatch: [Math.ceil(n / TILE), Math.ceil(m / TILE), splits],
    workgroupSize: [16, 16, 1],
    uniforms: "M : i32, N : i32, K : i32, kChunk : i32, slices : i32, kw : i32, cin : i32, " +
      "inH : i32, inW : i32, outH : i32, outW : i32, strideH : i32, strideW : i32, " +
      "padTop : i32, padLeft : i32,",
    getUserCode: () => `
      var<workgroup> tileA : array<array<f32, ${TILE}>, ${DEPTH}>;
      var<workgroup> tileB : array<array<f32, ${TILE}>, ${DEPTH}>;

      fn main() {
        let tx = i32(localId.x);
        let ty = i32(localId.y);
        let n0 = i32(workgroupId.x) * ${TILE};
        let m0 = i32(workgroupId.y) * ${TILE};
        let kBegin = i32(workgroupId.z) * uniforms.kChunk;
        let kEnd = min(kBegin + uniforms.kChunk, uniforms.K);
        // This invocation loads column mm of the A tile and column mm of the B tile, at depths
        // kk0, kk0 + 4, kk0 + 8, kk0 + 12 (64 consecutive invocations: 64 consecutive columns).
        let flat = ty * 16 + tx;
        let mm = flat % ${TILE};
        let kk0 = flat / ${TILE};
        let m = m0 + mm;
        let mOk = m < uniforms.M;
        let kh = m / (uniforms.kw * uniforms.cin);
        let kwc = m - kh * uniforms.kw * uniforms.cin;
        let kwi = kwc / uniforms.cin;
        let ci = kwc - kwi * uniforms.cin;
        let n = n0 + mm;
        let nOk = n < uniforms.N;
        let pixels = uniforms.outH * uniforms.outW;

        var acc : array<array<f32, 4>, 4>;
        for (var i = 0; i < 4; i = i + 1) {
          for (var j = 0; j < 4; j = j + 1) { acc[i][j] = 0.0; }
        }
        // Trip count from uniforms only: the barriers stay in uniform control flow.
        for (var s = 0; s < uniforms.slices; s = s + 1) {
          let k0 = kBegin + s * ${DEPTH};
          for (var r = 0; r < 4; r = r + 1) {
            let kk = kk0 + 4 * r;
            let k = k0 + kk;
            var a = 0.0;
            var b = 0.0;
            if (k < kEnd) {
              let img = k / pixels;
              let p = k - img * pixels;
              let oy = p / uniforms.outW;
              let ox = p - oy * uniforms.outW;
              let iy = oy * uniforms.strideH - uniforms.padTop + kh;
              let ix = ox * uniforms.strideW - uniforms.padLeft + kwi;
              if (mOk && iy >= 0 && iy < uniforms.inH && ix >= 0 && ix < uniforms.inW) {
                a = x[((img * uniforms.inH + iy) * uniforms.inW + ix) * uniforms.cin + ci];
              }
              if (nOk) { b = dy[k * uniforms.N + n]; }
            }
            tileA[kk][mm] = a;
            tileB[kk][mm] = b;
          }
          workgroupBarrier();
          for (var kk = 0; kk < ${DEPTH}; kk = kk + 1) {
            let a4 = vec4<f32>(tileA[kk][ty], tileA[kk][ty + 16], tileA[kk][ty + 32],
                               tileA[kk][ty + 48]);
            let b4 = vec4<f32>(tileB[kk][tx], tileB[kk][tx + 16], tileB[kk][tx + 32],
                               tileB[kk][tx + 48]);
            for (var i = 0; i < 4; i = i + 1) {
              acc[i][0] = fma(a4[i], b4.x, acc[i][0]);
              acc[i][1] = fma(a4[i], b4.y, acc[i][1]);
              acc[i][2] = fma(a4[i], b4.z, acc[i][2]);
              acc[i][3] = fma(a4[i], b4.w, acc[i][3]);
            }
          }
          workgroupBarrier();
        }
        let base = i32(workgroupId.z) * uniforms.M * uniforms.N;
        for (var i = 0; i < 4; i = i + 1) {
          let row = m0 + ty + 16 * i;
          if (row < uniforms.M) {
            for (var j = 0; j < 4; j = j + 1) {
              let col = n0 + tx + 16 * j;
              if (col < uniforms.N) { result[base + row * uniforms.N + col] = acc[i][j]; }
            }
          }
        }
      }`,
  };
}

/** The kernel: NHWC, dilation 1, float32; anything else goes to tfjs's own (`fallback`). */
export function conv2dBackpropFilterGemm(
  args: {
    inputs: tf.NamedTensorInfoMap;
    backend: tf.KernelBackend;
    attrs?: tf.NamedAttrMap;
  },
  fallback?: tf.KernelFunc,
): tf.TensorInfo {
  const { x, dy } = args.inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
  const a = args.attrs as unknown as tf.Conv2DBackpropFilterAttrs;
  const nchw = a.dataFormat === "NCHW";
  if (nchw || x.dtype !== "float32" || dy.dtype !== "float32") {
    if (!fallback) throw new Error("Conv2DBackpropFilter: only NHWC float32 is supported");
    return fallback(args as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
  }
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    a.filterShape,
    a.strides,
    1,
    a.pad,
    a.dimRoundingMode,
    false,
    "channelsLast",
  );
  const [kh, kw, cin, cout] = a.filterShape;
  const m = kh * kw * cin, n = cout;
  const k = info.batchSize * info.outHeight * info.outWidth;
  const { splits, chunk } = filterGradSplits(m, n, k);
  const backend = args.backend as WebGPUBackendLike;
  const parts = backend.runWebGPUProgram(
    filterGradProgram(m, n, splits),
    [x, dy],
    "float32",
    ints(
      m,
      n,
      k,
      chunk,
      chunk / DEPTH,
      kw,
      cin,
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
  return splitSum(backend, parts, [kh, kw, cin, cout]);
}
