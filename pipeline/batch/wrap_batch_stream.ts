/**
 * The wraparound batcher of the original TF ArcFace code, made exact across epochs and resumes.
 *
 * Rule (N = list length, B = batch size, cursor `start`): `end = (start + B) % N`; if
 * `start < end` the batch is `order[start:end]`, else `order[start:] + order'[:end]`; then
 * `start = end`. Semantics chosen here (docs/pipeline.md, "In code", wrapBatches):
 * - `order` is the shuffled order of the cursor's epoch; when a batch wraps, `order'[:end]` comes
 *   from the NEXT epoch's order (seed + epoch + 1), so every epoch is exactly one permutation of the
 *   list. The epoch counter increments each time the cursor passes the end of the list (also when
 *   the batch ends exactly at N, i.e. `end == 0`).
 * - A batch carries the epoch of its FIRST sample; `sampleEpochs` gives each sample's own epoch.
 * - B > N: the literal rule would yield a short batch; here a batch is always exactly B samples,
 *   cycling through as many whole epochs (each freshly shuffled) as needed.
 * - With no seed, every epoch uses the input order (shuffle upstream, TF-style).
 * The cursor `{epoch, start, step}` plus the shuffle seed reproduces the exact batch sequence on
 * resume.
 */
import type { ListRecord, RecordList } from "../records.ts";
import { checkSeed, epochPermutation } from "../shuffle/prng.ts";
import { untilReadable } from "../backpressure.ts";

/** Where the batcher stands: the next batch starts at `order(epoch)[start]` and has index `step`. */
export interface WrapCursor {
  epoch: number;
  start: number;
  step: number;
}

/** One batch's composition, as indices into the list. */
export interface WrapIndices {
  step: number;
  /** Epoch of the first sample. */
  epoch: number;
  /** List indices, in batch order (length B). */
  indices: number[];
  /** Epoch of each sample (differs from `epoch` after a wrap). */
  sampleEpochs: number[];
  /** Cursor to resume from after this batch. */
  cursor: WrapCursor;
}

export interface WrapBatcherOptions {
  /** Samples per batch (>= 1). Required. */
  batchSize: number;
  /**
   * Seed of the per-epoch shuffle; `undefined` keeps the input order every epoch.
   * @default {undefined}
   */
  seed?: number;
  /**
   * Resume point.
   * @default {{ epoch: 0, start: 0, step: 0 }}
   */
  cursor?: WrapCursor;
}

/** Checks a cursor read from JSON (a checkpoint) against the list length. */
export function checkCursor(c: WrapCursor, n: number): WrapCursor {
  const ok = (v: unknown) => Number.isSafeInteger(v) && (v as number) >= 0;
  if (!c || !ok(c.epoch) || !ok(c.start) || !ok(c.step) || c.start >= Math.max(n, 1)) {
    throw new RangeError(
      `Invalid cursor ${JSON.stringify(c)}: expected {epoch, start, step} non-negative integers ` +
        `with start < ${n}`,
    );
  }
  return { epoch: c.epoch, start: c.start, step: c.step };
}

/**
 * Pure index generator; the stream and the training source both use it.
 * @example
 * ```ts
 * import { WrapBatcher } from "../mod.ts";
 *
 * const batcher = new WrapBatcher(10, { batchSize: 4, seed: 7 });
 * for (let i = 0; i < 3; i++) {
 *   const { step, indices, sampleEpochs } = batcher.next(); // the third batch wraps into epoch 1
 *   console.log(step, indices, sampleEpochs);
 * }
 * ```
 */
export class WrapBatcher {
  readonly n: number;
  readonly batchSize: number;
  readonly seed?: number;
  #cursor: WrapCursor;
  #permEpoch = -1;
  #perm: Uint32Array | null = null;

  constructor(n: number, options: WrapBatcherOptions) {
    if (!Number.isInteger(n) || n < 1) {
      throw new RangeError(`Cannot batch an empty list (got ${n} records)`);
    }
    if (!Number.isInteger(options.batchSize) || options.batchSize < 1) {
      throw new RangeError(`batchSize must be a positive integer, got ${options.batchSize}`);
    }
    if (options.seed !== undefined) checkSeed(options.seed);
    this.n = n;
    this.batchSize = options.batchSize;
    this.seed = options.seed;
    this.#cursor = checkCursor(options.cursor ?? { epoch: 0, start: 0, step: 0 }, n);
  }

  /** The cursor of the next batch (a copy). */
  get cursor(): WrapCursor {
    return { ...this.#cursor };
  }

  /** Index of position `i` in the order of `epoch`. */
  #at(epoch: number, i: number): number {
    if (this.seed === undefined) return i;
    if (this.#permEpoch !== epoch) {
      this.#perm = epochPermutation(this.n, this.seed, epoch);
      this.#permEpoch = epoch;
    }
    return this.#perm![i];
  }

  /** Produces the next batch and advances the cursor. */
  next(): WrapIndices {
    let { epoch, start } = this.#cursor;
    const step = this.#cursor.step;
    const firstEpoch = epoch;
    const indices: number[] = [];
    const sampleEpochs: number[] = [];
    let remaining = this.batchSize;
    while (remaining > 0) {
      // Take [start : min(N, start + remaining)] of this epoch, then wrap into the next one.
      const stop = Math.min(this.n, start + remaining);
      for (let i = start; i < stop; i++) {
        indices.push(this.#at(epoch, i));
        sampleEpochs.push(epoch);
      }
      remaining -= stop - start;
      start = stop;
      if (start === this.n) {
        start = 0;
        epoch++;
      }
    }
    this.#cursor = { epoch, start, step: step + 1 };
    return { step, epoch: firstEpoch, indices, sampleEpochs, cursor: this.cursor };
  }
}

/** A batch of list records (no pixels yet). */
export interface RecordBatch<T extends ListRecord = ListRecord> {
  step: number;
  epoch: number;
  records: T[];
  sampleEpochs: number[];
  cursor: WrapCursor;
}

export interface WrapBatchOptions extends WrapBatcherOptions {
  /**
   * Stop after this many batches.
   * @default {undefined} (then `epochs` applies)
   */
  steps?: number;
  /**
   * Stop once the cursor reaches this epoch (the last batch may wrap into it).
   * @default {1} (`Infinity`: until `steps` or until the reader stops)
   */
  epochs?: number;
}

function checkStop(steps?: number, epochs?: number): void {
  if (steps !== undefined && (!Number.isInteger(steps) || steps < 0)) {
    throw new RangeError(`steps must be a non-negative integer, got ${steps}`);
  }
  if (epochs !== undefined && epochs !== Infinity && (!Number.isInteger(epochs) || epochs < 0)) {
    throw new RangeError(`epochs must be a non-negative integer, got ${epochs}`);
  }
}

/**
 * The wraparound batches of a whole list, made one at a time as they are taken (a table's records
 * are built only for their batch: MS1M's 5.8 M positions, not objects), until `steps` batches or
 * `epochs` epochs. `WrapBatchStream` and the trainer's `trainBatches` both use it.
 * @example
 * ```ts
 * import { readImageFolder, wrapBatches } from "../mod.ts";
 *
 * const { records } = await readImageFolder("fixtures/pipeline/images");
 * for (const b of wrapBatches(records, { batchSize: 4, seed: 7, steps: 3 })) {
 *   console.log(b.step, b.epoch, b.records.map((r) => r.key), b.cursor);
 * }
 * ```
 */
export function wrapBatches<T extends ListRecord>(
  list: RecordList<T>,
  options: WrapBatchOptions,
): Generator<RecordBatch<T>> {
  const { steps, epochs } = options;
  checkStop(steps, epochs);
  const batcher = new WrapBatcher(list.length, options); // checks the options now, not when read
  const stopEpoch = steps === undefined ? (epochs ?? 1) : Infinity;
  const stopStep = steps === undefined ? Infinity : batcher.cursor.step + steps;
  return (function* () {
    while (batcher.cursor.step < stopStep && batcher.cursor.epoch < stopEpoch) {
      const b = batcher.next();
      yield {
        step: b.step,
        epoch: b.epoch,
        records: b.indices.map((i) => list.at(i)!),
        sampleEpochs: b.sampleEpochs,
        cursor: b.cursor,
      };
    }
  })();
}

/** `WrapBatchStream` options: the list's, or `arrival` for records already in batch order. */
export interface WrapBatchStreamOptions extends WrapBatchOptions {
  /**
   * The records already arrive in wraparound order (epochs back to back, as `ShuffleStream({
   * epochs })` or `shuffle --epochs` lays them out, e.g. decoded images in a shell pipe that cannot
   * be collected): cut B consecutive records as they come, taking each batch's epoch from the
   * records' `epoch` tags (`shuffle` adds them), else from `cursor`. `seed` and `epochs` do not
   * apply; `steps` does, and a last short batch is dropped.
   * @default {false} (collect the whole list, then batch it with `wrapBatches`)
   */
  arrival?: boolean;
}

/**
 * Stage 5. Collects the whole record list, then emits its wraparound batches (`wrapBatches`) until
 * `steps` batches or `epochs` epochs; with `arrival: true`, batches records as they arrive (the
 * same batches when they arrive as `ShuffleStream({ epochs })` emits the list). A list needs no
 * pixels, so collecting it holds paths, not images.
 * @example
 * ```ts
 * import { ListReaderStream, WrapBatchStream } from "../mod.ts";
 *
 * const records = new ListReaderStream({ root: "fixtures/pipeline/images" });
 * const batches = records.pipeThrough(new WrapBatchStream({ batchSize: 4, seed: 7, epochs: 2 }));
 * for await (const b of batches) console.log(b.step, b.epoch, b.records.map((r) => r.key));
 * ```
 */
export class WrapBatchStream<T extends ListRecord = ListRecord>
  extends TransformStream<T, RecordBatch<T>> {
  constructor(options: WrapBatchStreamOptions) {
    checkStop(options.steps, options.epochs);
    if (!Number.isInteger(options.batchSize) || options.batchSize < 1) {
      throw new RangeError(`batchSize must be a positive integer, got ${options.batchSize}`);
    }
    if (options.arrival) {
      super(arrivalBatcher<T>(options));
      return;
    }
    const list: T[] = [];
    super({
      transform(record) {
        list.push(record);
      },
      async flush(controller) {
        for (const batch of wrapBatches(list, options)) {
          // Respect the reader's pace (else `--epochs 100 | head` builds them all).
          await untilReadable(controller);
          try {
            controller.enqueue(batch);
          } catch {
            // The readable side was cancelled (`| head`) or errored: no one reads any more, and
            // a transformer's cancel() is not called once flush() has begun, so stop here.
            return;
          }
        }
      },
    });
  }
}

/** `arrival` mode: B consecutive records per batch, epochs from the records' tags. */
function arrivalBatcher<T extends ListRecord>(
  options: WrapBatchStreamOptions,
): Transformer<T, RecordBatch<T>> {
  const b = options.batchSize;
  const c0 = options.cursor ?? { epoch: 0, start: 0, step: 0 };
  let { epoch, start, step } = c0;
  const stopStep = options.steps === undefined ? Infinity : step + options.steps;
  let records: T[] = [];
  let sampleEpochs: number[] = [];
  return {
    start(c) {
      if (step >= stopStep) c.terminate();
    },
    transform(r, c) {
      const tagged = (r as { epoch?: unknown }).epoch;
      if (Number.isSafeInteger(tagged) && tagged !== epoch) {
        epoch = tagged as number; // a tagged stream moved on to its next epoch
        start = 0;
      }
      records.push(r);
      sampleEpochs.push(epoch);
      start++;
      if (records.length < b) return;
      const cursor = { epoch, start, step: step + 1 };
      c.enqueue({ step, epoch: sampleEpochs[0], records, sampleEpochs, cursor });
      step++;
      records = [];
      sampleEpochs = [];
      if (step >= stopStep) c.terminate();
    },
  };
}
