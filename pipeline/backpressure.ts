/**
 * Back-pressure for a TransformStream that emits from `flush()` (a shuffler or batcher that needs
 * the whole list before its first output): `flush()` gets no promise for "the reader wants more",
 * so it waits while the readable side holds more than its high-water mark, polling with a growing
 * pause (1 -> 16 ms). After a cancel the side is closed (desiredSize 0): it returns at once and the
 * caller's next `enqueue()` throws, which is its signal to stop.
 */

/** Resolves once `controller`'s readable side is below its high-water mark (or closed/errored). */
export async function untilReadable(
  controller: TransformStreamDefaultController<unknown>,
): Promise<void> {
  let pause = 1;
  while (controller.desiredSize !== null && controller.desiredSize < 0) {
    await new Promise((r) => setTimeout(r, pause));
    pause = Math.min(16, pause * 2);
  }
}
