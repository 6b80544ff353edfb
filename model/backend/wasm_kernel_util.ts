/**
 * Helpers for writing wasm-backend kernels out of other wasm kernels.
 *
 * A kernel runs inside `engine.runKernel`, so it must not call `tf.*` ops (they would be taped and
 * tracked as tensors). Instead it calls the registered kernel functions of the wasm backend
 * directly on `TensorInfo`s and frees its intermediates with `backend.disposeData`, the way the
 * backends' own composite kernels do.
 */
import * as tf from "@tensorflow/tfjs-core";

/** The part of the wasm backend (`BackendWasm`) a composite kernel needs. */
export interface WasmBackendLike {
  disposeData(dataId: tf.DataId, force?: boolean): boolean;
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
}

/** A tensor-level operation in a composite kernel: the kernel function of `name` on wasm. */
export function runWasm(
  name: string,
  backend: WasmBackendLike,
  inputs: Record<string, tf.TensorInfo>,
  attrs: Record<string, unknown> = {},
): tf.TensorInfo {
  const kernel = tf.getKernel(name, "wasm");
  if (kernel === undefined) {
    throw new Error(`The wasm backend has no "${name}" kernel, which arcstream's kernels need`);
  }
  const out = kernel.kernelFunc({
    inputs: inputs as tf.NamedTensorInfoMap,
    backend: backend as unknown as tf.KernelBackend,
    attrs: attrs as tf.NamedAttrMap,
  });
  return Array.isArray(out) ? out[0] : out;
}

/** Frees intermediates made by {@link runWasm} (a reshape shares data; refcounts handle it). */
export function free(backend: WasmBackendLike, ...infos: (tf.TensorInfo | null | undefined)[]) {
  for (const info of infos) if (info) backend.disposeData(info.dataId);
}

export function reshape(backend: WasmBackendLike, x: tf.TensorInfo, shape: number[]) {
  return runWasm("Reshape", backend, { x }, { shape });
}

export function transpose(backend: WasmBackendLike, x: tf.TensorInfo, perm: number[]) {
  return runWasm("Transpose", backend, { x }, { perm });
}

/** Slices `x` (begin/size per axis; size -1 = to the end). */
export function slice(backend: WasmBackendLike, x: tf.TensorInfo, begin: number[], size: number[]) {
  return runWasm("Slice", backend, { x }, { begin, size });
}

/** NHWC conv2d with explicit padding [top, bottom, left, right], run by XNNPACK. */
export function conv2dExplicit(
  backend: WasmBackendLike,
  x: tf.TensorInfo,
  filter: tf.TensorInfo,
  pad: [number, number, number, number],
  strides: [number, number],
  dilations: [number, number],
): tf.TensorInfo {
  const [top, bottom, left, right] = pad;
  return runWasm("Conv2D", backend, { x, filter }, {
    strides,
    dilations,
    pad: [[0, 0], [top, bottom], [left, right], [0, 0]],
    dataFormat: "NHWC",
    dimRoundingMode: undefined,
  });
}

/**
 * Crops `x` [N, H, W, C] where a required padding is negative, so that the caller can hand the
 * remaining non-negative padding to the conv (which pads implicitly, without a copy).
 * Returns the (possibly same) tensor, whether it is new, and the non-negative pads.
 */
export function cropForPads(
  backend: WasmBackendLike,
  x: tf.TensorInfo,
  pad: [number, number, number, number],
): { x: tf.TensorInfo; owned: boolean; pad: [number, number, number, number] } {
  const [top, bottom, left, right] = pad;
  if (top >= 0 && bottom >= 0 && left >= 0 && right >= 0) return { x, owned: false, pad };
  const [n, h, w, c] = x.shape;
  const t0 = Math.max(0, -top), b0 = Math.max(0, -bottom);
  const l0 = Math.max(0, -left), r0 = Math.max(0, -right);
  const cropped = slice(backend, x, [0, t0, l0, 0], [n, h - t0 - b0, w - l0 - r0, c]);
  return {
    x: cropped,
    owned: true,
    pad: [Math.max(0, top), Math.max(0, bottom), Math.max(0, left), Math.max(0, right)],
  };
}

/** The whole wasm heap as float32, and the float index where `info`'s data starts. */
export function heapF32(backend: WasmBackendLike, info: tf.TensorInfo): [Float32Array, number] {
  const view = backend.typedArrayFromHeap(info);
  // Not `>> 2`: past 2 GiB, offsets no longer fit a signed 32-bit integer.
  return [new Float32Array(view.buffer), view.byteOffset / 4];
}
