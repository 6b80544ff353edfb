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
/** Invocations per side of a workgroup; each computes PER x PER outputs of the tile. */
const SIDE = 8;
const PER = TILE / SIDE;
/** The SIDE^2 invocations load a DEPTH x TILE tile in LOADS rounds, ROWS_APART rows each. */
const ROWS_APART = (SIDE * SIDE) / TILE;
const LOADS = DEPTH / ROWS_APART;
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

/** WGSL: `name` = vec4 of tile[kk][base + SIDE * (4 * half + 0..3)]. */
function tileVec(tile: string, base: string, half: number): string {
  const at = (q: number) => `${tile}[kk][${base} + ${SIDE * (4 * half + q)}]`;
  return `vec4<f32>(${[0, 1, 2, 3].map(at).join(", ")})`;
}

function filterGradProgram(m: number, n: number, splits: number): WgslProgram {
  const rows = Array.from({ length: PER }, (_, i) => i);
  const halves = Array.from({ length: PER / 4 }, (_, h) => h);
  const acc = (i: number, h: number) => `acc${i}_${h}`;
  return {
    variableNames: ["x", "dy"],
    outputShape: [splits, m * n],
    shaderKey: `arcstreamConv2DBackpropFilterGemm_${SIDE}`,
    dispatchLayout: { x: [1], y: [0], z: [] },
    dispatch: [Math.ceil(n / TILE), Math.ceil(m / TILE), splits],
    workgroupSize: [SIDE, SIDE, 1],
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
        // kk0, kk0 + ${ROWS_APART}, ... (${TILE} consecutive invocations: consecutive columns).
        let flat = ty * ${SIDE} + tx;
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

        // Output row ty + ${SIDE}i, columns tx + ${SIDE}(4h + 0..3) in acc{i}_{h}: named vectors,
        // not an indexed array, which a CPU adapter (llvmpipe) would keep in memory.
        ${
      rows.flatMap((i) => halves.map((h) => `var ${acc(i, h)} = vec4<f32>(0.0);`)).join(
        "\n        ",
      )
    }
        // Trip count from uniforms only: the barriers stay in uniform control flow.
        for (var s = 0; s < uniforms.slices; s = s + 1) {
          let k0 = kBegin + s * ${DEPTH};
          for (var r = 0; r < ${LOADS}; r = r + 1) {
            let kk = kk0 + ${ROWS_APART} * r;
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
            ${halves.map((h) => `let a${h} = ${tileVec("tileA", "ty", h)};`).join("\n            ")}
            ${halves.map((h) => `let b${h} = ${tileVec("tileB", "tx", h)};`).join("\n            ")}
            ${
      rows.flatMap((i) =>
        halves.map((h) =>
          `${acc(i, h)} = fma(vec4<f32>(a${i >> 2}[${i & 3}]), b${h}, ${acc(i, h)});`
        )
      ).join("\n            ")
    }
          }
          workgroupBarrier();
        }
        let base = i32(workgroupId.z) * uniforms.M * uniforms.N;
        ${
      rows.map((i) => `
        if (m0 + ty + ${SIDE * i} < uniforms.M) {
          let at = base + (m0 + ty + ${SIDE * i}) * uniforms.N + n0 + tx;
          ${
        halves.flatMap((h) =>
          [0, 1, 2, 3].map((q) =>
            `if (n0 + tx + ${SIDE * (4 * h + q)} < uniforms.N) { result[at + ${
              SIDE * (4 * h + q)
            }] = ${acc(i, h)}[${q}]; }`
          )
        ).join("\n          ")
      }
        }`).join("")
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
