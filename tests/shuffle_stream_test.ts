import { assert, assertEquals, assertNotEquals, assertThrows } from "@std/assert";
import { ShuffleStream } from "../pipeline/shuffle/shuffle_stream.ts";
import { epochPermutation } from "../pipeline/shuffle/prng.ts";

const items = Array.from({ length: 50 }, (_, i) => i);
const run = (xs: number[], o: ConstructorParameters<typeof ShuffleStream>[0]) =>
  Array.fromAsync(ReadableStream.from(xs).pipeThrough(new ShuffleStream<number>(o)));

Deno.test("ShuffleStream() emits epoch e of (seed) exactly as the training order", async () => {
  const out = await run(items, { seed: 7, epoch: 3 });
  assertEquals(out, [...epochPermutation(50, 7, 3)].map((i) => items[i]));
  assertEquals(await run(items, { seed: 7, epoch: 3 }), out);
  assertNotEquals(await run(items, { seed: 7, epoch: 4 }), out);
});

Deno.test("ShuffleStream() bounded mode is a deterministic permutation with local moves", async () => {
  const a = await run(items, { seed: 1, buffer: 8 });
  assertEquals([...a].sort((x, y) => x - y), items);
  assertEquals(await run(items, { seed: 1, buffer: 8 }), a);
  assertNotEquals(a, items);
  // An item can only leave once it is in the buffer: output i holds an item < i + buffer.
  a.forEach((x, i) => assert(x < i + 8, `item ${x} at ${i}`));
  assertEquals(await run(items, { seed: 1, buffer: 1 }), items, "buffer 1 keeps the order");
  assertEquals(await run([], { seed: 1, buffer: 4 }), []);
});

Deno.test("ShuffleStream() rejects bad options up front", () => {
  assertThrows(() => new ShuffleStream({ seed: 1.5 }), RangeError);
  assertThrows(() => new ShuffleStream({ epoch: -1 }), RangeError);
  assertThrows(() => new ShuffleStream({ buffer: 0 }), RangeError);
});
