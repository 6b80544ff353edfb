/**
 * arcstream's training kernels for the TF.js wasm backend, registered by `initBackend`.
 *
 * tfjs-backend-wasm 4.22 lacks `Conv2DBackpropFilter` (training fails), runs
 * `Conv2DBackpropInput` as a scalar loop, has no depthwise-conv gradients
 * (`wasm_depthwise_grads.ts`), and is slow on the memory-bound parts of a batch-norm /
 * PReLU network's backward pass. The replacements are built on its XNNPACK `Conv2D`
 * (`wasm_conv_grads.ts`) or are single JavaScript passes over the wasm heap
 * (`wasm_fused_kernels.ts`, used by the gradients in `wasm_gradients.ts`; training-mode batch
 * norm in `wasm_batch_norm_train.ts`).
 * `tests/wasm_kernels_test.ts` checks every one against the cpu backend.
 */
import * as tf from "@tensorflow/tfjs-core";
import { conv2dBackpropFilterConfig, conv2dBackpropInputConfig } from "./wasm_conv_grads.ts";
import { batchNormTrainConfigs } from "./wasm_batch_norm_train.ts";
import { sliceHeap } from "./wasm_slice.ts";
import {
  depthwiseBackpropFilterConfig,
  depthwiseBackpropInputConfig,
} from "./wasm_depthwise_grads.ts";
import {
  batchNormForward,
  batchNormGrad,
  matMulTransposedA,
  preluGrad,
  reduceOuter,
  shareData,
  tileBlocks,
  withFallback,
} from "./wasm_fused_kernels.ts";
import {
  BATCH_NORM_GRAD,
  PRELU_GRAD,
  registerWasmGradients,
  setWasmGradientsEnabled,
} from "./wasm_gradients.ts";

/** The wasm backend's own kernels, kept as fallbacks for shapes the fast paths do not take. */
const originals = new Map<string, tf.KernelConfig | undefined>();

function original(name: string): tf.KernelConfig | undefined {
  if (!originals.has(name)) originals.set(name, tf.getKernel(name, "wasm"));
  return originals.get(name);
}

/** The kernel configs arcstream registers for the wasm backend. */
export function wasmKernelConfigs(): tf.KernelConfig[] {
  const plain = (name: string, f: (a: never) => unknown): tf.KernelConfig => ({
    kernelName: name,
    backendName: "wasm",
    kernelFunc: f as unknown as tf.KernelFunc,
  });
  original(tf.Conv2DBackpropInput); // kept for setWasmKernelsEnabled(false)
  return [
    conv2dBackpropFilterConfig,
    conv2dBackpropInputConfig,
    depthwiseBackpropFilterConfig,
    depthwiseBackpropInputConfig,
    withFallback(tf.Tile, tileBlocks, original(tf.Tile)),
    withFallback(tf.Sum, (a) => reduceOuter(a, false), original(tf.Sum)),
    withFallback(tf.Mean, (a) => reduceOuter(a, true), original(tf.Mean)),
    withFallback(
      tf.BatchMatMul,
      (a) => matMulTransposedA(a, original(tf.BatchMatMul)),
      original(tf.BatchMatMul),
    ),
    withFallback(tf.Slice, sliceHeap, original(tf.Slice)),
    withFallback(tf.Identity, shareData, original(tf.Identity)),
    withFallback(tf.Cast, shareData, original(tf.Cast)),
    withFallback(tf.FusedBatchNorm, batchNormForward, original(tf.FusedBatchNorm)),
    plain(BATCH_NORM_GRAD, batchNormGrad),
    plain(PRELU_GRAD, preluGrad),
    ...batchNormTrainConfigs,
  ];
}

/**
 * Registers arcstream's wasm kernels (replacing the wasm backend's own where it has one) and the
 * gradients that use them. Idempotent. Returns the kernel names.
 */
export function registerWasmKernels(): string[] {
  const configs = wasmKernelConfigs();
  for (const config of configs) {
    if (tf.getKernel(config.kernelName, "wasm") !== undefined) {
      tf.unregisterKernel(config.kernelName, "wasm");
    }
    tf.registerKernel(config);
  }
  registerWasmGradients();
  return configs.map((k) => k.kernelName);
}

/**
 * Puts the wasm backend's own kernels back (`false`; Conv2DBackpropFilter then does not exist) or
 * arcstream's again (`true`). For benchmarks comparing the two; the wasm backend must be started.
 */
export function setWasmKernelsEnabled(on: boolean): void {
  if (on) {
    registerWasmKernels();
    setWasmGradientsEnabled(true);
    return;
  }
  const backend = tf.findBackend("wasm");
  for (const config of wasmKernelConfigs()) {
    if (tf.getKernel(config.kernelName, "wasm") !== undefined) {
      tf.unregisterKernel(config.kernelName, "wasm");
    }
    const own = originals.get(config.kernelName);
    if (own) {
      tf.registerKernel(own);
      if (backend && own.setupFunc) own.setupFunc(backend);
    }
  }
  setWasmGradientsEnabled(false);
}
