/**
 * Optimizer-side kernels for the wasm backend: passes over every weight of the network once per
 * step (r50: 43.6M floats), where tf ops make one full pass and one allocation per op.
 *
 * - momentum update `v' = momentum * v + g; w' = w - lr * v'` in one pass (tf ops: 4 passes).
 *   Every product and sum is rounded to float32 as the op-by-op path rounds it, so the result is
 *   bit-identical to `add(mul(v, momentum), g)` and `sub(w, mul(v', lr))` on the wasm backend.
 * - sum of squares (weight-decay loss, gradient norm) in one read-only pass, accumulated in
 *   float64 (tf ops: square, then sum: a full-size temporary).
 */
import * as tf from "@tensorflow/tfjs-core";
import type { WasmBackendLike } from "./wasm_kernel_util.ts";

export const MOMENTUM_UPDATE = "ArcstreamMomentumUpdate";
export const SUM_SQUARES = "ArcstreamSumSquares";

type KernelArgs = {
  inputs: Record<string, tf.TensorInfo>;
  backend: WasmBackendLike;
  attrs: Record<string, unknown>;
};

const f32 = (b: WasmBackendLike, t: tf.TensorInfo) => b.typedArrayFromHeap(t) as Float32Array;
const fr = Math.fround;

/** Inputs w, v, g (same shape, float32); attrs lr, momentum. Outputs [w', v']. */
export function momentumUpdate(args: KernelArgs): tf.TensorInfo[] {
  const { w, v, g } = args.inputs;
  const { backend } = args;
  const lr = fr(args.attrs.lr as number), mu = fr(args.attrs.momentum as number);
  const wOut = backend.makeOutput(w.shape, "float32");
  const vOut = backend.makeOutput(w.shape, "float32");
  const ws = f32(backend, w), vs = f32(backend, v), gs = f32(backend, g);
  const wo = f32(backend, wOut), vo = f32(backend, vOut);
  for (let i = 0, n = ws.length; i < n; i++) {
    const next = fr(fr(vs[i] * mu) + gs[i]);
    vo[i] = next;
    wo[i] = ws[i] - fr(next * lr);
  }
  return [wOut, vOut];
}

/** Input x (float32). Output: a scalar, sum(x^2). */
export function sumSquares(args: KernelArgs): tf.TensorInfo {
  const { x } = args.inputs;
  const { backend } = args;
  const out = backend.makeOutput([], "float32");
  const xs = f32(backend, x);
  let acc = 0;
  for (let i = 0, n = xs.length; i < n; i++) acc += xs[i] * xs[i];
  f32(backend, out)[0] = acc;
  return out;
}

/** True when the wasm kernels are active and registered. */
export function wasmOptimizerKernels(): boolean {
  return tf.getBackend() === "wasm" && tf.getKernel(MOMENTUM_UPDATE, "wasm") !== undefined &&
    tf.getKernel(SUM_SQUARES, "wasm") !== undefined;
}

export const optimizerKernelConfigs: tf.KernelConfig[] = [
  { kernelName: MOMENTUM_UPDATE, backendName: "wasm", kernelFunc: momentumUpdate as never },
  { kernelName: SUM_SQUARES, backendName: "wasm", kernelFunc: sumSquares as never },
];
