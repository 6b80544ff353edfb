/**
 * `Slice` for the TF.js wasm backend as row copies on the wasm heap. tfjs-backend-wasm 4.22 first
 * reads the whole input into a fresh JavaScript array (`readSync`), so taking one image of a
 * [8, 56, 56, 128] tensor cost ~45 ms; the trainer slices every micro-batch out of the batch, and
 * the strided conv gradients crop dy with it (`cropForPads`). Here each contiguous run of the kept
 * region is one heap copy. 4-byte dtypes (float32, int32); others go to the wasm kernel.
 */
import * as tf from "@tensorflow/tfjs-core";
import type { WasmBackendLike } from "./wasm_kernel_util.ts";

type SliceArgs = {
  inputs: Record<string, tf.TensorInfo | null | undefined>;
  backend: WasmBackendLike;
  attrs: Record<string, unknown>;
};

/** Below this many values a loop beats `copyWithin` (a fixed cost per call). */
const SHORT_RUN = 32;

/** x[begin : begin + size] (tf.slice's attrs), or null for the wasm kernel. */
export function sliceHeap(args: SliceArgs): tf.TensorInfo | null {
  const x = args.inputs.x!;
  const { backend } = args;
  if ((x.dtype !== "float32" && x.dtype !== "int32") || x.shape.length === 0) return null;
  const [begin, size] = tf.slice_util.parseSliceParams(
    x as unknown as tf.Tensor,
    args.attrs.begin as number[],
    args.attrs.size as number[],
  );
  const out = backend.makeOutput(size, x.dtype);
  const rank = x.shape.length;
  if (size.some((d) => d === 0)) return out;
  // Views after the allocation (it can move the heap). Int32 copies move the same 4-byte words.
  const src = backend.typedArrayFromHeap(x), dst = backend.typedArrayFromHeap(out);
  const heap = new Int32Array(src.buffer);
  const s0 = src.byteOffset / 4, d0 = dst.byteOffset / 4;
  const strides = x.shape.map((_, a) => x.shape.slice(a + 1).reduce((p, d) => p * d, 1));
  // Axes after k are whole: each index of axes [0, k) starts one contiguous run of the output.
  let k = rank - 1;
  while (k > 0 && begin[k] === 0 && size[k] === x.shape[k]) k--;
  const len = size[k] * strides[k];
  const idx = new Array<number>(k).fill(0);
  for (let o = d0;; o += len) {
    let s = s0 + begin[k] * strides[k];
    for (let a = 0; a < k; a++) s += (begin[a] + idx[a]) * strides[a];
    if (len > SHORT_RUN) heap.copyWithin(o, s, s + len);
    else for (let j = 0; j < len; j++) heap[o + j] = heap[s + j];
    let a = k - 1; // odometer over axes [0, k)
    while (a >= 0 && ++idx[a] === size[a]) idx[a--] = 0;
    if (a < 0) break;
  }
  return out;
}
