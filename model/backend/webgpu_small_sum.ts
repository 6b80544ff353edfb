/**
 * `Sum` over a short run of axes on the webgpu backend: one invocation per output element.
 *
 * MobileFaceNet's grouped convs sum each group's k maps: `tf.sum([N, k, k], 1)` with k = 2..8 and
 * N in the millions. tfjs-backend-webgpu 4.22 transposes the summed axis innermost and then runs
 * one 64-wide workgroup per output element (shared-memory tree reduction) to add k numbers: 22% of
 * an mbf training step's GPU time on llvmpipe. Here the input is viewed as [outer, R, inner]
 * (the summed axes contiguous) and out[o, i] = sum over r < R of x[(o*R + r)*inner + i]; long
 * reductions (R > 64) keep tfjs's kernel, which splits them across a workgroup.
 */
import * as tf from "@tensorflow/tfjs-core";
import { ints, type WebGPUBackendLike, type WgslProgram } from "./webgpu_program.ts";

/** Longest summed run this kernel takes. */
const MAX_RUN = 64;
/** Fewest outputs it takes. */
const MIN_OUTPUTS = 64;

/** [outer, run, inner] when `axes` are one contiguous block of `shape`, else null. */
export function sumView(shape: number[], axes: number[]): [number, number, number] | null {
  const sorted = [...new Set(axes.map((a) => (a < 0 ? a + shape.length : a)))].sort((a, b) =>
    a - b
  );
  if (sorted.length === 0) return null;
  for (let i = 1; i < sorted.length; i++) if (sorted[i] !== sorted[i - 1] + 1) return null;
  const prod = (xs: number[]) => xs.reduce((a, b) => a * b, 1);
  const first = sorted[0], last = sorted[sorted.length - 1];
  return [
    prod(shape.slice(0, first)),
    prod(shape.slice(first, last + 1)),
    prod(shape.slice(last + 1)),
  ];
}

export function smallSum(
  args: { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs?: tf.NamedAttrMap },
  fallback?: tf.KernelFunc,
): tf.TensorInfo {
  const { x } = args.inputs as { x: tf.TensorInfo };
  const { axis, keepDims } = args.attrs as unknown as tf.SumAttrs;
  const axes = tf.util.parseAxisParam(axis, x.shape);
  const view = x.dtype === "float32" ? sumView(x.shape, axes) : null;
  // Few outputs (a loss summed to a scalar): tfjs's workgroup-per-output reduction is the right
  // shape, and in a training step this kernel gave a wrong scalar there that the unit cases did
  // not reproduce, so those stay with tfjs (tests/webgpu_parity_test.ts guards the step).
  if (!view || view[1] > MAX_RUN || view[1] < 2 || view[0] * view[2] < MIN_OUTPUTS) {
    if (!fallback) throw new Error("Sum: unsupported arguments");
    return fallback(args as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
  }
  const [outer, run, inner] = view;
  const kept = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const shape = keepDims ? kept : x.shape.filter((_, i) => !axes.includes(i));
  const size = outer * inner;
  const program: WgslProgram = {
    variableNames: ["x"],
    outputShape: [size],
    shaderKey: "arcstreamSmallSum",
    dispatchLayout: { x: [0] },
    dispatch: [Math.ceil(size / 64), 1, 1],
    workgroupSize: [64, 1, 1],
    size: true,
    uniforms: "run : i32, inner : i32,",
    getUserCode: () => `
      fn main(index : i32) {
        if (index < uniforms.size) {
          let o = index / uniforms.inner;
          let i = index - o * uniforms.inner;
          let base = o * uniforms.run * uniforms.inner + i;
          var s = 0.0;
          for (var r = 0; r < uniforms.run; r = r + 1) { s = s + x[base + r * uniforms.inner]; }
          result[index] = s;
        }
      }`,
  };
  const backend = args.backend as WebGPUBackendLike;
  const out = backend.runWebGPUProgram(program, [x], "float32", ints(run, inner));
  return { ...out, shape };
}
