/**
 * What to do when a training batch does not fit in the backend's memory: the wasm heap stops at
 * 4 GiB (wasm32), and MobileFaceNet at 112 px needs more than that for a batch of 64.
 */

/**
 * The out-of-memory error of a run with batch size `batchSize`, with the flags that fix it.
 * @example
 * ```ts
 * import { outOfMemoryAdvice } from "./advice.ts";
 *
 * console.log(outOfMemoryAdvice(new RangeError("Out of memory"), 64).message);
 * // Out of memory: a batch of 64 does not fit; split it with --micro-batch 16 ...
 * ```
 */
export function outOfMemoryAdvice(e: Error, batchSize: number): Error {
  // The largest power-of-two slice that divides the batch and is at most a quarter of it.
  let slice = 1;
  while (slice * 2 <= batchSize / 4 && batchSize % (slice * 2) === 0) slice *= 2;
  return new Error(
    `${e.message}: a batch of ${batchSize} does not fit; split it with --micro-batch ${slice} ` +
      "(gradient accumulation: the same update, but BN's statistics per slice) or lower " +
      "--batch-size",
  );
}
