/**
 * The in-order, bounded look-ahead that the decode stages share: each chunk's work starts as it
 * arrives (in a worker pool), results are emitted in input order, and at most `ahead` unsettled
 * items are kept before the stage waits for the oldest (so the writer side feels back-pressure).
 * `close()` frees the workers when the stream ends, errors or is cancelled.
 */

export interface OrderedWork<I, P, O> {
  /** Unsettled items kept before `transform` waits for the oldest. */
  ahead: number;
  /** Starts the work of one chunk (it may throw to refuse the chunk); its result is settled later. */
  start(chunk: I): P;
  /** Awaits one item's work and enqueues what it gives (or throws to error the stream). */
  settle(item: P, controller: TransformStreamDefaultController<O>): Promise<void>;
  /** Frees the resources behind the work (called once the stream ends, errors or is cancelled). */
  close(): void;
}

/** A `Transformer` running `work` in order with `work.ahead` items in flight. */
export function orderedTransformer<I, P, O>(work: OrderedWork<I, P, O>): Transformer<I, O> {
  const queue: P[] = [];
  const next = (c: TransformStreamDefaultController<O>) => work.settle(queue.shift()!, c);
  return {
    async transform(chunk, c) {
      try {
        queue.push(work.start(chunk));
        if (queue.length > work.ahead) await next(c);
      } catch (e) {
        work.close(); // the stream errors: flush() will not run, free the workers here
        throw e;
      }
    },
    async flush(c) {
      try {
        while (queue.length) await next(c);
      } finally {
        work.close();
      }
    },
    cancel() {
      work.close();
    },
  };
}
