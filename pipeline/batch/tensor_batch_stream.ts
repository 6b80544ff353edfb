/**
 * The last stage before the trainer: an `ImageBatch` (typed arrays) becomes a `TrainBatch`
 * (tensors). Its readable side has a high-water mark of 0, so a batch's tensors are created only
 * when the reader asks for it: nothing is left to leak when the reader stops early. The reader owns
 * the tensors and disposes them.
 */
import * as tf from "@tensorflow/tfjs";
import type { Batch } from "../records.ts";
import type { ImageBatch, SkippedRecord } from "./decode_batch_stream.ts";
import type { WrapCursor } from "./wrap_batch_stream.ts";

/** A `Batch` plus where to resume after it. */
export interface TrainBatch extends Batch {
  /** Resume point after this batch (save it with the weights). */
  cursor: WrapCursor;
  /** Epoch of each sample (a batch that wraps holds two epochs). */
  sampleEpochs: number[];
  /** Records of this batch dropped as unreadable (`onError: "skip"`). */
  skipped: SkippedRecord[];
}

/** Backends whose tensor creation copies the given array (tfjs-backend-wasm's `write`/`move`). */
const COPYING_BACKENDS = new Set(["wasm"]);

/**
 * `ImageBatch` -> `TrainBatch` (tensors the reader owns and disposes).
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { DecodeBatchStream, readImageFolder, TensorBatchStream, wrapBatches } from "../mod.ts";
 *
 * const { records } = await readImageFolder("fixtures/pipeline/images");
 * const reader = ReadableStream.from(wrapBatches(records, { batchSize: 4, seed: 7, steps: 1 }))
 *   .pipeThrough(new DecodeBatchStream({ size: 112 }))
 *   .pipeThrough(new TensorBatchStream())
 *   .getReader();
 * const { value: b } = await reader.read(); // b.images [B, S, S, 3], b.labels [B] int32
 * tf.dispose([b!.images, b!.labels]);
 * await reader.cancel();
 * ```
 */
export class TensorBatchStream extends TransformStream<ImageBatch, TrainBatch> {
  constructor() {
    super(
      {
        transform(b, c) {
          const n = b.keys.length;
          const images = tf.tensor4d(b.data, [n, b.size, b.size, 3], "float32"); // [b, S, S, 3]
          // The wasm backend has copied the data into its heap: the buffer can serve the next
          // batch. Other backends keep the array itself (cpu) or upload it later (webgpu).
          if (COPYING_BACKENDS.has(tf.getBackend())) b.release?.();
          c.enqueue({
            images,
            labels: tf.tensor1d(b.labels, "int32"), // [b]
            epoch: b.epoch,
            step: b.step,
            keys: b.keys,
            cursor: { ...b.cursor },
            sampleEpochs: b.sampleEpochs,
            skipped: b.skipped,
          });
        },
      },
      undefined,
      { highWaterMark: 0 },
    );
  }
}
