/**
 * arcstream's WGSL kernels for the TF.js webgpu backend, registered by `initBackend` when it
 * starts webgpu (like `wasm_kernels.ts` for wasm). tfjs-backend-webgpu 4.22's
 * `Conv2DBackpropFilter` is one invocation per filter element looping over batch x output pixels;
 * arcstream's is a tiled split-K GEMM (`webgpu_conv_grads.ts`); the depthwise filter gradient
 * likewise, split over pixels (`webgpu_depthwise_grads.ts`); training-mode batch norm (+ PReLU)
 * is fused into a few passes each way (`webgpu_batch_norm_train.ts`); a Sum over a short run of
 * axes (MobileFaceNet's grouped convs) is one pass (`webgpu_small_sum.ts`). `tests/webgpu_kernels_test.ts`
 * checks each against the cpu backend (on llvmpipe without a GPU).
 */
import * as tf from "@tensorflow/tfjs-core";
import { conv2dBackpropFilterGemm } from "./webgpu_conv_grads.ts";
import { depthwiseBackpropFilterSplit } from "./webgpu_depthwise_grads.ts";
import { smallSum } from "./webgpu_small_sum.ts";
import { batchNormTrainGradWebGPU, batchNormTrainWebGPU } from "./webgpu_batch_norm_train.ts";
import { BATCH_NORM_TRAIN, BATCH_NORM_TRAIN_GRAD } from "./wasm_batch_norm_train.ts";

/** tfjs-backend-webgpu's own kernels, kept as fallbacks and for `setWebGPUKernelsEnabled`. */
const originals = new Map<string, tf.KernelConfig | undefined>();

function original(name: string): tf.KernelConfig | undefined {
  if (!originals.has(name)) originals.set(name, tf.getKernel(name, "webgpu"));
  return originals.get(name);
}

type Kernel = (
  args: { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs?: tf.NamedAttrMap },
  fallback?: tf.KernelFunc,
) => tf.TensorInfo | tf.TensorInfo[];

/** `kernel` for webgpu, given tfjs's own as the fallback for arguments it does not take. */
function withOwnFallback(name: string, kernel: Kernel): tf.KernelConfig {
  const own = original(name)?.kernelFunc;
  return {
    kernelName: name,
    backendName: "webgpu",
    kernelFunc:
      ((args: Parameters<tf.KernelFunc>[0]) =>
        kernel(args as Parameters<Kernel>[0], own)) as tf.KernelFunc,
  };
}

/** The kernel configs arcstream registers for the webgpu backend. */
export function webgpuKernelConfigs(): tf.KernelConfig[] {
  return [
    withOwnFallback(tf.Conv2DBackpropFilter, conv2dBackpropFilterGemm),
    withOwnFallback(tf.DepthwiseConv2dNativeBackpropFilter, depthwiseBackpropFilterSplit),
    withOwnFallback(tf.Sum, smallSum),
    // arcstream's own kernel names (no tfjs kernel: disabled, `batchNormTrain` uses tf ops).
    withOwnFallback(BATCH_NORM_TRAIN, batchNormTrainWebGPU),
    withOwnFallback(BATCH_NORM_TRAIN_GRAD, batchNormTrainGradWebGPU),
  ];
}

/**
 * Registers arcstream's webgpu kernels in place of tfjs-backend-webgpu's (`on`, the default) or
 * puts tfjs's own back (`false`, for benchmarks and counter-checks). The webgpu backend package
 * must be imported first. Returns the kernel names.
 */
export function setWebGPUKernelsEnabled(on = true): string[] {
  const configs = webgpuKernelConfigs();
  for (const config of configs) {
    if (tf.getKernel(config.kernelName, "webgpu") !== undefined) {
      tf.unregisterKernel(config.kernelName, "webgpu");
    }
    const replacement = on ? config : original(config.kernelName);
    if (replacement) tf.registerKernel(replacement);
  }
  return configs.map((k) => k.kernelName);
}
