/**
 * Stage 5 on a stream: groups the records that arrive into batches of B consecutive records, in
 * the order they arrive. Fed by `ShuffleStream({ epochs })` (epochs back to back), that is the
 * wraparound rule of the original TF code: a batch that crosses the end of an epoch takes the rest
 * of it and the start of the next epoch's order (`WrapBatcher` computes the same batches from a
 * whole list; tests/train_batches_test.ts checks that they agree).
 *
 * Epochs and the resume cursor: with `epochSize: N` (the list length, known in process) the batcher
 * counts records, so `cursor = {epoch, start, step}` is exact; without it (a shell pipe) it uses the
 * `epoch` field of the records when they carry one (`shuffle --epochs` adds it), else the cursor's.
 */
import type { ListRecord } from "../records.ts";
import type { RecordBatch, WrapCursor } from "./wrap_batch_stream.ts";

export interface BatchStreamOptions {
  /** Records per batch (>= 1). Required. */
  batchSize: number;
  /**
   * Records per epoch, when known: epochs and cursors are counted.
   * @default unknown
   */
  epochSize?: number;
  /**
   * Where the first batch starts (its epoch, position in the epoch, step).
   * @default all 0
   */
  cursor?: WrapCursor;
  /**
   * Stop after this many batches (the stream then ends; upstream is cancelled).
   * @default none
   */
  steps?: number;
  /**
   * Emit a last batch shorter than B when the input ends mid-batch.
   * @default false (dropped)
   */
  keepLast?: boolean;
}

/**
 * B consecutive records per batch, with the resume cursor after each.
 * @example
 * ```ts
 * const batches = ReadableStream.from(records)
 *   .pipeThrough(new ShuffleStream({ seed: 7, epochs: Infinity }))
 *   .pipeThrough(new BatchStream({ batchSize: 128, epochSize: records.length, steps: 1000 }));
 * for await (const b of batches) console.log(b.step, b.records.length, b.cursor);
 * ```
 */
export class BatchStream<T extends ListRecord = ListRecord>
  extends TransformStream<T, RecordBatch<T>> {
  constructor(options: BatchStreamOptions) {
    const { batchSize: b, epochSize: n, steps, keepLast } = options;
    if (!Number.isInteger(b) || b < 1) {
      throw new RangeError(`batchSize must be a positive integer, got ${b}`);
    }
    if (n !== undefined && (!Number.isInteger(n) || n < 1)) {
      throw new RangeError(`epochSize must be a positive integer, got ${n}`);
    }
    if (steps !== undefined && (!Number.isInteger(steps) || steps < 0)) {
      throw new RangeError(`steps must be a non-negative integer, got ${steps}`);
    }
    const c0 = options.cursor ?? { epoch: 0, start: 0, step: 0 };
    if (n !== undefined && c0.start >= n) {
      throw new RangeError(`cursor start ${c0.start} is not below the ${n} records of an epoch`);
    }
    let epoch = c0.epoch;
    let start = c0.start;
    let step = c0.step;
    const stopStep = steps === undefined ? Infinity : step + steps;
    let records: T[] = [];
    let sampleEpochs: number[] = [];
    const emit = (c: TransformStreamDefaultController<RecordBatch<T>>) => {
      c.enqueue({
        step,
        epoch: sampleEpochs[0],
        records,
        sampleEpochs,
        cursor: { epoch, start, step: step + 1 },
      });
      step++;
      records = [];
      sampleEpochs = [];
      if (step >= stopStep) c.terminate();
    };
    super({
      start(c) {
        if (step >= stopStep) c.terminate();
      },
      transform(r, c) {
        const tagged = (r as { epoch?: unknown }).epoch;
        if (n === undefined && Number.isSafeInteger(tagged) && tagged !== epoch) {
          epoch = tagged as number; // a tagged stream moved on to its next epoch
          start = 0;
        }
        records.push(r);
        sampleEpochs.push(epoch);
        start++;
        if (start === n) {
          epoch++;
          start = 0;
        }
        if (records.length === b) emit(c);
      },
      flush(c) {
        if (records.length > 0 && keepLast) emit(c);
      },
    });
  }
}
