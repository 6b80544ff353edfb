import assert from "node:assert/strict";
import { ShuffleStream } from "../pipeline/shuffle/shuffle_stream.ts";
import { epochPermutation } from "../pipeline/shuffle/prng.ts";

const items = Array.from({ length: 50 }, (_, i) => i);
const run = (xs: number[], o: ConstructorParameters<typeof ShuffleStream>[0]) =>
  Array.fromAsync(ReadableStream.from(xs).pipeThrough(new ShuffleStream<number>(o)));

Deno.test("ShuffleStream() emits epoch e of (seed) exactly as the training order", async () => {
  const out = await run(items, { seed: 7, epoch: 3 });
  assert.deepEqual(out, [...epochPermutation(50, 7, 3)].map((i) => items[i]));
  assert.deepEqual(await run(items, { seed: 7, epoch: 3 }), out);
  assert.notDeepEqual(await run(items, { seed: 7, epoch: 4 }), out);
});

Deno.test("ShuffleStream() bounded mode is a deterministic permutation with local moves", async () => {
  const a = await run(items, { seed: 1, buffer: 8 });
  assert.deepEqual([...a].sort((x, y) => x - y), items);
  assert.deepEqual(await run(items, { seed: 1, buffer: 8 }), a);
  assert.notDeepEqual(a, items);
  // An item can only leave once it is in the buffer: output i holds an item < i + buffer.
  a.forEach((x, i) => assert.ok(x < i + 8, `item ${x} at ${i}`));
  assert.deepEqual(await run(items, { seed: 1, buffer: 1 }), items, "buffer 1 keeps the order");
  assert.deepEqual(await run([], { seed: 1, buffer: 4 }), []);
});

Deno.test("ShuffleStream() rejects bad options up front", () => {
  assert.throws(() => new ShuffleStream({ seed: 1.5 }), RangeError);
  assert.throws(() => new ShuffleStream({ epoch: -1 }), RangeError);
  assert.throws(() => new ShuffleStream({ buffer: 0 }), RangeError);
});
