/**
 * Stage 2, shuffler. Full mode (default): collects the whole list and emits it in the order of
 * `epochPermutation(n, seed, epoch)`: a Fisher-Yates shuffle with the seeded PRNG, the same on every
 * machine, a new order per epoch (the training source uses the same function, so
 * `shuffle --seed 7 --epoch 3` prints epoch 3 of `train --seed 7`).
 * Bounded mode (`buffer: N`): a shuffle buffer of N records for streams that do not fit in memory:
 * each incoming record replaces a uniformly drawn buffered one, which is emitted. Only local
 * randomness (a record moves at most ~N places earlier); deterministic for a given seed and epoch.
 */
import { deriveSeed, epochPermutation, Prng, SEED_SALT, shuffleInPlace } from "./prng.ts";

export interface ShuffleOptions {
  /**
   * PRNG seed (any safe integer).
   * @default {0}
   */
  seed?: number;
  /**
   * Epoch; the order is derived from (seed, epoch).
   * @default {0}
   */
  epoch?: number;
  /**
   * Bounded mode: shuffle-buffer size.
   * @default {undefined} (full-epoch shuffle)
   */
  buffer?: number;
}

/**
 * Seeded shuffle of a record stream (full-epoch, or bounded with `buffer`).
 * @example
 * ```ts
 * const epoch3 = records.pipeThrough(new ShuffleStream({ seed: 7, epoch: 3 }));
 * const rough = endless.pipeThrough(new ShuffleStream({ seed: 7, buffer: 10_000 }));
 * ```
 */
export class ShuffleStream<T> extends TransformStream<T, T> {
  constructor(options: ShuffleOptions = {}) {
    const seed = options.seed ?? 0;
    const epoch = options.epoch ?? 0;
    const buffer = options.buffer;
    // Validate up front (epochPermutation checks again at flush, too late for a clear CLI error).
    deriveSeed(seed, epoch);
    if (!Number.isSafeInteger(epoch) || epoch < 0) {
      throw new RangeError(`epoch must be a non-negative integer, got ${epoch}`);
    }
    if (buffer !== undefined && (!Number.isInteger(buffer) || buffer < 1)) {
      throw new RangeError(`buffer must be a positive integer, got ${buffer}`);
    }
    const items: T[] = [];
    if (buffer === undefined) {
      super({
        transform(x) {
          items.push(x);
        },
        flush(c) {
          const perm = epochPermutation(items.length, seed, epoch);
          for (const i of perm) c.enqueue(items[i]);
        },
      });
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
