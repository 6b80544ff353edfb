/**
 * The training data chain, stage classes piped in the order of the design's diagram:
 *
 *   records ─> ShuffleStream ─> BatchStream ─> DecodeBatchStream ─> TensorBatchStream ─> trainer
 *   (list)     (epochs back     (B consecutive  (workers: decode,     ([B, S, S, 3] float32
 *               to back, seeded) = wraparound)   networkInput, flip)   in [-1, 1], labels)
 *
 * ```ts
 * const { records } = await readImageFolder("fixtures/lfw_faces/train");
 * const reader = trainBatches(records, { batchSize: 32, seed: 7, flip: true, steps: 100 })
 *   .getReader();
 * for (let r = await reader.read(); !r.done; r = await reader.read()) {
 *   const b = r.value; // b.images [32, 112, 112, 3], b.labels [32] int32, b.cursor: resume point
 *   try { await trainer.trainStep(b.images, b.labels, lr, b.step); } finally { tf.dispose([b.images, b.labels]); }
 * }
 * ```
 * A list (array) is reshuffled every epoch from (seed, epoch) and resumes exactly from a cursor;
 * a stream (a shell pipe) is batched in the order it arrives (shuffle upstream), as it cannot be
 * rewound. Cancel the reader to stop early: the cancel reaches every stage and ends the workers.
 */
import type { AnyRecord, ListRecord, RecordList } from "../records.ts";
import { ARCFACE_SIZE } from "../align/similarity.ts";
import { ShuffleStream } from "../shuffle/shuffle_stream.ts";
import { BatchStream } from "./batch_stream.ts";
import { type DecodeBatchOptions, DecodeBatchStream } from "./decode_batch_stream.ts";
import { TensorBatchStream, type TrainBatch } from "./tensor_batch_stream.ts";
import { checkCursor, type RecordBatch, type WrapCursor } from "./wrap_batch_stream.ts";

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

/** 0, 1, ..., n - 1. */
function* positions(n: number): Generator<number> {
  for (let i = 0; i < n; i++) yield i;
}

/** Position -> record of `list` (a table makes it now: only the records in flight exist). */
function recordsAt(list: RecordList): TransformStream<number, ListRecord> {
  return new TransformStream({
    transform(i, c) {
      c.enqueue(list.at(i)!);
    },
  });
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
 * The record batches (composition only, before decoding) that `trainBatches` makes from a list:
 * reshuffled per epoch from (seed, epoch), wraparound batches of B from `cursor`. What
 * `deno task train-order` exports, so that a peer framework trains on the same sequence.
 */
export function listBatches(
  records: RecordList,
  options: Pick<TrainBatchesOptions, "batchSize" | "seed" | "cursor" | "steps">,
): ReadableStream<RecordBatch<ListRecord>> {
  const { batchSize, steps } = options;
  if (records.length === 0) throw new RangeError("Cannot batch an empty list (got 0 records)");
  if (Array.isArray(records)) checkRecords(records);
  const cursor = checkCursor(options.cursor ?? { epoch: 0, start: 0, step: 0 }, records.length);
  // The shuffler permutes positions: the same order as permuting the records themselves, and
  // a table's records are made only as their batch is built (MS1M: 5.8 M positions, not objects).
  return ReadableStream.from(positions(records.length))
    .pipeThrough(
      new ShuffleStream<number>({
        seed: options.seed ?? 0,
        epoch: cursor.epoch,
        start: cursor.start,
        epochs: Infinity,
      }),
    )
    .pipeThrough(recordsAt(records))
    .pipeThrough(new BatchStream({ batchSize, epochSize: records.length, cursor, steps }));
}

/**
 * Batches of network inputs from a record list (an array or a `RecordList` such as
 * `RecordIOTable`, reshuffled per epoch) or a record stream.
 */
export function trainBatches(
  records: RecordList | ReadableStream<AnyRecord>,
  options: TrainBatchesOptions,
): ReadableStream<TrainBatch> {
  const { batchSize, steps } = options;
  const decode = new DecodeBatchStream({ ...options, size: options.imageSize ?? ARCFACE_SIZE });
  const batches = records instanceof ReadableStream
    ? records.pipeThrough(
      new BatchStream<AnyRecord>({
        batchSize,
        cursor: { epoch: 0, start: 0, step: options.cursor?.step ?? 0 },
        steps,
      }),
    )
    : listBatches(records, options);
  return batches.pipeThrough(decode).pipeThrough(new TensorBatchStream());
}
