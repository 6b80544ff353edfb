/**
 * Stage 2, shuffler. Full mode (default): collects the whole list and emits it in the order of
 * `epochPermutation(n, seed, epoch)`: a Fisher-Yates shuffle with the seeded PRNG, the same on every
 * machine, a new order per epoch (`shuffle --seed 7 --epoch 3` prints epoch 3 of `train --seed 7`).
 * With `epochs: E` it emits epochs `epoch, epoch + 1, ...` back to back (E of them, or without end
 * for Infinity), each a fresh permutation; `start: k` leaves out the first k records of the first
 * epoch. A batcher that takes B consecutive records of that stream makes exactly the wraparound
 * batches of the original TF code, and (epoch, start) is its resume cursor.
 * Bounded mode (`buffer: N`): a shuffle buffer of N records for streams that do not fit in memory:
 * each incoming record replaces a uniformly drawn buffered one, which is emitted. Only local
 * randomness (a record moves at most ~N places earlier); deterministic for a given seed and epoch.
 */
import { untilReadable } from "../backpressure.ts";
import { deriveSeed, epochPermutation, Prng, SEED_SALT, shuffleInPlace } from "./prng.ts";

export interface ShuffleOptions {
  /**
   * PRNG seed (any safe integer).
   * @default {0}
   */
  seed?: number;
  /** (First) epoch; the order is derived from (seed, epoch). Default: 0. */
  epoch?: number;
  /** Full mode: number of epochs emitted back to back (Infinity: until cancelled). Default: 1. */
  epochs?: number;
  /** Full mode: leave out the first `start` records of the first epoch (resume). Default: 0. */
  start?: number;
  /** Full mode: add `epoch` (the epoch it is emitted in) to each record (a copy). Default: false. */
  tagEpoch?: boolean;
  /** Bounded mode: shuffle-buffer size. Default: undefined (full-epoch shuffle). */
  buffer?: number;
}

/**
 * Seeded shuffle of a record stream (full-epoch, or bounded with `buffer`).
 * @example
 * ```ts
 * import { ListReaderStream, ShuffleStream } from "../mod.ts";
 *
 * const list = () => new ListReaderStream({ root: "fixtures/pipeline/images" });
 * const epoch3 = list().pipeThrough(new ShuffleStream({ seed: 7, epoch: 3 })); // full-epoch order
 * const rough = list().pipeThrough(new ShuffleStream({ seed: 7, buffer: 10_000 })); // bounded
 * for await (const r of epoch3) console.log(r.key);
 * await rough.cancel();
 * ```
 */
export class ShuffleStream<T> extends TransformStream<T, T> {
  constructor(options: ShuffleOptions = {}) {
    const seed = options.seed ?? 0;
    const epoch = options.epoch ?? 0;
    const epochs = options.epochs ?? 1;
    const start = options.start ?? 0;
    const buffer = options.buffer;
    // Validate up front (epochPermutation checks again at flush, too late for a clear CLI error).
    deriveSeed(seed, epoch);
    if (!Number.isSafeInteger(epoch) || epoch < 0) {
      throw new RangeError(`epoch must be a non-negative integer, got ${epoch}`);
    }
    if (!(epochs === Infinity || (Number.isSafeInteger(epochs) && epochs >= 1))) {
      throw new RangeError(`epochs must be a positive integer or Infinity, got ${epochs}`);
    }
    if (!Number.isSafeInteger(start) || start < 0) {
      throw new RangeError(`start must be a non-negative integer, got ${start}`);
    }
    if (buffer !== undefined && (!Number.isInteger(buffer) || buffer < 1)) {
      throw new RangeError(`buffer must be a positive integer, got ${buffer}`);
    }
    if (buffer !== undefined && (epochs !== 1 || start !== 0 || options.tagEpoch)) {
      throw new RangeError(
        "buffer (bounded mode) cannot be combined with epochs, start or tagEpoch",
      );
    }
    const items: T[] = [];
    if (buffer === undefined) {
      const tag = options.tagEpoch ? (x: T, e: number) => ({ ...x, epoch: e }) : (x: T) => x;
      super(
        {
          transform(x) {
            items.push(x);
          },
          async flush(c) {
            if (items.length === 0) return;
            if (start >= items.length) {
              throw new RangeError(`start ${start} is not below the ${items.length} records`);
            }
            for (let e = epoch; e < epoch + epochs; e++) {
              const perm = epochPermutation(items.length, seed, e);
              for (let i = e === epoch ? start : 0; i < perm.length; i++) {
                // Several epochs can be endless: emit at the reader's pace.
                if (epochs > 1) await untilReadable(c);
                try {
                  c.enqueue(tag(items[perm[i]], e));
                } catch {
                  return; // the reader went away (cancelled downstream): stop emitting
                }
              }
            }
          },
        },
        undefined,
        { highWaterMark: epochs > 1 ? 64 : 0 },
      );
      return;
    }
    const rng = new Prng(deriveSeed(seed, epoch, SEED_SALT.buffer));
    super({
      transform(x, c) {
        if (items.length < buffer) {
          items.push(x);
          return;
        }
        const j = rng.nextInt(buffer);
        c.enqueue(items[j]);
        items[j] = x;
      },
      flush(c) {
        shuffleInPlace(items, rng);
        for (const x of items) c.enqueue(x);
      },
    });
  }
}
