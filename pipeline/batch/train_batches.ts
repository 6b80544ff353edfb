/**
 * The training data chain, stage classes piped in the order of the design's diagram:
 *
 *   records ─> wrapBatches ─────> DecodeBatchStream ─> TensorBatchStream ─> trainer
 *   (list)     (stage 5: seeded   (workers: decode,     ([B, S, S, 3] float32
 *               wraparound)        networkInput, flip)   in [-1, 1], labels)
 *
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { readImageFolder, trainBatches } from "../mod.ts";
 *
 * const { records } = await readImageFolder("fixtures/lfw_faces/train");
 * const reader = trainBatches(records, { batchSize: 32, seed: 7, flip: true, steps: 100 })
 *   .getReader();
 * for (let r = await reader.read(); !r.done; r = await reader.read()) {
 *   const b = r.value; // b.images [32, 112, 112, 3], b.labels [32] int32, b.cursor: resume point
 *   try {
 *     console.log(b.step, b.keys.length); // a Trainer's trainStep(b.images, b.labels, lr, b.step)
 *   } finally {
 *     tf.dispose([b.images, b.labels]);
 *   }
 * }
 * ```
 * A list (array) is reshuffled every epoch from (seed, epoch) and resumes exactly from a cursor
 * (`wrapBatches`, what `deno task batch` prints); a stream (a shell pipe) is batched in the order
 * it arrives (`WrapBatchStream({ arrival: true })`: shuffle upstream), as it cannot be rewound. Cancel the reader to stop early: the cancel reaches every stage and ends the workers.
 */
import type { AnyRecord, ListRecord, RecordList } from "../records.ts";
import { ARCFACE_SIZE } from "../align/similarity.ts";
import { type DecodeBatchOptions, DecodeBatchStream } from "./decode_batch_stream.ts";
import { TensorBatchStream, type TrainBatch } from "./tensor_batch_stream.ts";
import {
  checkCursor,
  type RecordBatch,
  wrapBatches,
  WrapBatchStream,
  type WrapCursor,
} from "./wrap_batch_stream.ts";

export interface TrainBatchesOptions extends Omit<DecodeBatchOptions, "size"> {
  /** Samples per batch. Required. */
  batchSize: number;
  /**
   * Network input side S.
   * @default 112
   */
  imageSize?: number;
  /**
   * Resume point, as saved from `batch.cursor` (lists; for a stream only `step` counts).
   * @default `{ epoch: 0, start: 0, step: 0 }`
   */
  cursor?: WrapCursor;
  /**
   * Stop after this many batches.
   * @default unbounded (a stream: until it ends)
   */
  steps?: number;
}

/** Up-front check of an array's records (a table's come from its file, checked when read). */
function checkRecords(records: ListRecord[]): void {
  records.forEach((r, i) => {
    if (!Number.isInteger(r.label) || r.label < 0) {
      throw new RangeError(`Record ${i} ("${r.key}") has no valid training label: ${r.label}`);
    }
    if (r.path === undefined && r.bytes === undefined) {
      throw new TypeError(`Record ${i} ("${r.key}") has neither path nor bytes`);
    }
  });
}

/**
 * The batches of records `trainBatches` trains on from a list: the records checked, then each
 * epoch reshuffled from (seed, epoch), wrapping around, from `cursor`. `deno task train-order`
 * exports this same order, so it cannot drift from training.
 */
export function listBatches<T extends ListRecord>(
  records: RecordList<T>,
  options: Pick<TrainBatchesOptions, "batchSize" | "seed" | "cursor" | "steps">,
): Generator<RecordBatch<T>> {
  if (records.length === 0) throw new RangeError("Cannot batch an empty list (got 0 records)");
  if (Array.isArray(records)) checkRecords(records);
  const cursor = checkCursor(options.cursor ?? { epoch: 0, start: 0, step: 0 }, records.length);
  const { batchSize, steps } = options;
  return wrapBatches(records, {
    batchSize,
    seed: options.seed ?? 0,
    cursor,
    steps,
    epochs: Infinity,
  });
}

/**
 * Batches of network inputs from a record list (an array or a `RecordList` such as
 * `RecordIOTable`, reshuffled per epoch) or a record stream.
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { readImageFolder, trainBatches } from "../mod.ts";
 *
 * const { records } = await readImageFolder("fixtures/pipeline/images");
 * const batches = trainBatches(records, { batchSize: 4, imageSize: 64, seed: 7, steps: 2 });
 * for await (const b of batches) { // b.images [4, 64, 64, 3] float32, b.labels [4] int32
 *   console.log(b.step, b.keys);
 *   tf.dispose([b.images, b.labels]);
 * }
 * ```
 */
export function trainBatches(
  records: RecordList | ReadableStream<AnyRecord>,
  options: TrainBatchesOptions,
): ReadableStream<TrainBatch> {
  const { batchSize, steps } = options;
  const decode = new DecodeBatchStream({ ...options, size: options.imageSize ?? ARCFACE_SIZE });
  let batches: ReadableStream<RecordBatch<AnyRecord>>;
  if (!(records instanceof ReadableStream)) {
    batches = ReadableStream.from(listBatches(records, options));
  } else {
    const step = options.cursor?.step ?? 0;
    batches = records.pipeThrough(
      new WrapBatchStream<AnyRecord>({
        batchSize,
        arrival: true,
        cursor: { epoch: 0, start: 0, step },
        steps,
      }),
    );
  }
  return batches.pipeThrough(decode).pipeThrough(new TensorBatchStream());
}
