/**
 * What arcstream's WGSL kernels need from tfjs-backend-webgpu 4.22: the shape of a program object
 * that `WebGPUBackend.runWebGPUProgram` compiles and dispatches, and a split-sum program.
 *
 * `runWebGPUProgram(program, inputs, dtype, uniforms)` prepends to `program.getUserCode()` a
 * header (webgpu_program.js `makeShader`) that declares: the output `result: array<f32>`, one
 * `array<f32>` per `variableNames` entry, a `uniforms` struct (each input's `<name>Shape`, the
 * `outShape`, `size` when `program.size`, then `program.uniforms` in order), and the private
 * `localId`, `globalId`, `workgroupId`, `localIndex` builtins. `main()` is called from `_start`;
 * with a flat dispatch layout it is `main(index: i32)` (`getMainHeaderString("index")`). The
 * pipeline is cached by `shaderKey` plus the inputs' ranks and dtypes, so any constant baked into
 * the code must be in `shaderKey`.
 */
import type * as tf from "@tensorflow/tfjs-core";

/** The fields of tfjs-backend-webgpu's WebGPUProgram that arcstream's programs set. */
export interface WgslProgram {
  variableNames: string[];
  outputShape: number[];
  shaderKey: string;
  /** Which output axes the dispatch's x / y / z cover (tfjs uses it to decide flat dispatch). */
  dispatchLayout: { x: number[]; y?: number[]; z?: number[] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number];
  /** Extra uniform fields, WGSL struct syntax (`a : i32, b : i32,`), filled in this order. */
  uniforms?: string;
  /** Adds a `size : i32` uniform holding the output's element count. */
  size?: boolean;
  getUserCode(): string;
}

/** The parts of WebGPUBackend that the kernels call. */
export interface WebGPUBackendLike extends tf.KernelBackend {
  runWebGPUProgram(
    program: WgslProgram,
    inputs: tf.TensorInfo[],
    outputDtype: tf.DataType,
    uniforms?: { type: "int32" | "float32" | "uint32"; data: number[] }[],
  ): tf.TensorInfo;
  disposeData(dataId: unknown, force?: boolean): boolean;
}

/** Aim for this many invocations (channels x splits) at least in a split reduction. */
const TARGET_INVOCATIONS = 32768;
/** Fewest rows per split. */
const MIN_ROWS = 32;
const MAX_SPLITS = 256;

/**
 * Splits `rows` into chunks for a per-channel reduction over `channels` columns run by
 * channels x splits invocations: enough of them to fill a GPU, each summing at least 32 rows.
 */
export function splitRows(channels: number, rows: number): { splits: number; chunk: number } {
  const want = Math.ceil(TARGET_INVOCATIONS / channels);
  const splits = Math.max(1, Math.min(MAX_SPLITS, want, Math.floor(rows / MIN_ROWS)));
  const chunk = Math.ceil(rows / splits);
  return { splits: Math.ceil(rows / chunk), chunk };
}

/** i32 uniforms in declaration order. */
export const ints = (...values: number[]) =>
  values.map((v) => ({ type: "int32" as const, data: [v] }));

/**
 * Sums `parts` [S, size] over S into a tensor of `shape` (S partial results of a split-K GEMM):
 * one invocation per output element, reading S values `size` apart (consecutive invocations read
 * consecutive addresses).
 */
export function splitSum(
  backend: WebGPUBackendLike,
  parts: tf.TensorInfo,
  shape: number[],
): tf.TensorInfo {
  const [splits, size] = parts.shape;
  if (splits === 1) {
    // One part: the GEMM's own buffer is the result (a fresh tensor, so no extra reference).
    return { dataId: parts.dataId, shape, dtype: "float32" };
  }
  const program: WgslProgram = {
    variableNames: ["parts"],
    outputShape: shape,
    shaderKey: "arcstreamSplitSum",
    dispatchLayout: { x: shape.map((_, i) => i) },
    dispatch: [Math.ceil(size / 64), 1, 1],
    workgroupSize: [64, 1, 1],
    size: true,
    uniforms: "splits : i32,",
    getUserCode: () => `
      fn main(index : i32) {
        if (index < uniforms.size) {
          var s = 0.0;
          for (var i = 0; i < uniforms.splits; i = i + 1) {
            s = s + parts[i * uniforms.size + index];
          }
          result[index] = s;
        }
      }`,
  };
  const out = backend.runWebGPUProgram(program, [parts], "float32", ints(splits));
  backend.disposeData(parts.dataId);
  return out;
}
