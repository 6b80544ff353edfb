/**
 * The wraparound batcher of the original TF ArcFace code, made exact across epochs and resumes.
 *
 * Rule (N = list length, B = batch size, cursor `start`): `end = (start + B) % N`; if
 * `start < end` the batch is `order[start:end]`, else `order[start:] + order'[:end]`; then
 * `start = end`. Semantics chosen here (see README "Wraparound batching"):
 * - `order` is the shuffled order of the cursor's epoch; when a batch wraps, `order'[:end]` comes
 *   from the NEXT epoch's order (seed + epoch + 1), so every epoch is exactly one permutation of the
 *   list. The epoch counter increments each time the cursor passes the end of the list (also when
 *   the batch ends exactly at N, i.e. `end == 0`).
 * - A batch carries the epoch of its FIRST sample; `sampleEpochs` gives each sample's own epoch.
 * - B > N: the literal rule would yield a short batch; here a batch is always exactly B samples,
 *   cycling through as many whole epochs (each freshly shuffled) as needed.
 * - With no seed, every epoch uses the input order (shuffle upstream, TF-style).
 * The cursor `{epoch, start, step}` plus the seed reproduces the exact batch sequence on resume.
 */
import type { ListRecord } from "../records.ts";
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

/** Pure index generator; the stream and the training source both use it. */
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
   * @default {1}
   */
  epochs?: number;
}

/**
 * Collects the whole record list, then emits wraparound batches of records until `steps` batches
 * or `epochs` epochs. Needs the full list (each epoch is a permutation of it); records without
 * pixels are small, so this holds paths, not images.
 * @example
 * ```ts
 * const batches = records.pipeThrough(new WrapBatchStream({ batchSize: 4, seed: 7, epochs: 2 }));
 * for await (const b of batches) console.log(b.step, b.epoch, b.records.map((r) => r.key));
 * ```
 */
export class WrapBatchStream<T extends ListRecord = ListRecord>
  extends TransformStream<T, RecordBatch<T>> {
  constructor(options: WrapBatchOptions) {
    const { steps, epochs } = options;
    if (steps !== undefined && (!Number.isInteger(steps) || steps < 0)) {
      throw new RangeError(`steps must be a non-negative integer, got ${steps}`);
    }
    if (epochs !== undefined && (!Number.isInteger(epochs) || epochs < 0)) {
      throw new RangeError(`epochs must be a non-negative integer, got ${epochs}`);
    }
    if (!Number.isInteger(options.batchSize) || options.batchSize < 1) {
      throw new RangeError(`batchSize must be a positive integer, got ${options.batchSize}`);
    }
    const list: T[] = [];
    super({
      transform(record) {
        list.push(record);
      },
      async flush(controller) {
        const batcher = new WrapBatcher(list.length, options);
        const stopEpoch = steps === undefined ? (epochs ?? 1) : Infinity;
        const stopStep = steps === undefined ? Infinity : batcher.cursor.step + steps;
        while (batcher.cursor.step < stopStep && batcher.cursor.epoch < stopEpoch) {
          // Respect the reader's pace (else `--epochs 100 | head` builds them all).
          await untilReadable(controller);
          const b = batcher.next();
          try {
            controller.enqueue({
              step: b.step,
              epoch: b.epoch,
              records: b.indices.map((i) => list[i]),
              sampleEpochs: b.sampleEpochs,
              cursor: b.cursor,
            });
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
