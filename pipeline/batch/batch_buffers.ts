/**
 * Reused batch buffers [B, S, S, 3] float32. Writing into fresh memory costs the kernel a page fault
 * per 4 KiB: filling a new 128 x 112 x 112 x 3 batch took 60 ms on the 2-core development machine,
 * refilling a used one 1.3 ms (`deno task bench pipeline`, `batch_to_tensor_ms`). The consumer
 * hands a buffer back with `give()` once nothing reads it any more (the wasm backend copies a
 * tensor's data into its heap at creation; backends that keep the array never give it back).
 *
 * With `shared`, buffers live in a SharedArrayBuffer, so decode workers write images straight
 * into the batch: no per-image transfer and no copy on the main thread.
 */

/** Buffers kept for reuse beyond those in flight (prefetched batches hold theirs). */
const SPARE = 2;

export class BatchBuffers {
  readonly shared: boolean;
  #free: Float32Array[] = [];
  #keep: number;

  /** `keep`: buffers kept free at most (the batches in flight plus spares). */
  constructor(options: { shared: boolean; keep: number }) {
    this.shared = options.shared;
    this.#keep = options.keep + SPARE;
  }

  /** A buffer of exactly `length` floats (a view on a reused one when one is large enough). */
  take(length: number): Float32Array {
    const i = this.#free.findIndex((a) => a.buffer.byteLength >= length * 4);
    if (i >= 0) {
      const a = this.#free.splice(i, 1)[0];
      return new Float32Array(a.buffer, 0, length);
    }
    const buffer = this.shared ? new SharedArrayBuffer(length * 4) : new ArrayBuffer(length * 4);
    return new Float32Array(buffer);
  }

  /** Hands `a` (from `take`) back: its contents may be overwritten from now on. */
  give(a: Float32Array): void {
    if (this.#free.length < this.#keep) this.#free.push(a);
  }
}
