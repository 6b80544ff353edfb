import { assertEquals, assertStrictEquals, assertThrows } from "@std/assert";
import { BatchStream } from "../pipeline/batch/batch_stream.ts";
import { ShuffleStream } from "../pipeline/shuffle/shuffle_stream.ts";
import { epochPermutation } from "../pipeline/shuffle/prng.ts";
import type { ListRecord } from "../pipeline/records.ts";

const recs: ListRecord[] = Array.from({ length: 5 }, (_, i) => ({ key: `k${i}`, label: i }));

Deno.test("ShuffleStream({ epochs, start }) emits epochs back to back, leaving out the first `start`", async () => {
  const out = await Array.fromAsync(
    ReadableStream.from(recs).pipeThrough(
      new ShuffleStream<ListRecord>({ seed: 4, epoch: 2, epochs: 3, start: 3 }),
    ),
  );
  const expected = [2, 3, 4].flatMap((e, i) =>
    [...epochPermutation(5, 4, e)].slice(i === 0 ? 3 : 0).map((j) => recs[j].key)
  );
  assertEquals(out.map((r) => r.key), expected);
  assertStrictEquals(out.length, 2 + 5 + 5);
  assertThrows(() => new ShuffleStream({ epochs: 0 }), RangeError);
  assertThrows(() => new ShuffleStream({ buffer: 4, epochs: 2 }), RangeError);
});

Deno.test("ShuffleStream({ epochs: Infinity }) is paced by its reader and stops on cancel", async () => {
  const reader = ReadableStream.from(recs)
    .pipeThrough(new ShuffleStream<ListRecord>({ seed: 1, epochs: Infinity, tagEpoch: true }))
    .getReader();
  const seen: ListRecord[] = [];
  for (let i = 0; i < 23; i++) seen.push((await reader.read()).value!);
  await reader.cancel();
  assertEquals(seen.map((r) => (r as { epoch?: number }).epoch), [
    ...Array(5).fill(0),
    ...Array(5).fill(1),
    ...Array(5).fill(2),
    ...Array(5).fill(3),
    4,
    4,
    4,
  ]);
  assertStrictEquals("epoch" in recs[0], false, "the input records are not modified");
});

Deno.test("BatchStream() cuts B consecutive records and counts epochs and the cursor from epochSize", async () => {
  const stream = ReadableStream.from([...recs, ...recs, ...recs]).pipeThrough(
    new BatchStream({ batchSize: 4, epochSize: 5, cursor: { epoch: 1, start: 0, step: 10 } }),
  );
  const out = await Array.fromAsync(stream);
  assertEquals(out.map((b) => b.records.map((r) => r.key).join("")), [
    "k0k1k2k3",
    "k4k0k1k2",
    "k3k4k0k1",
  ]);
  assertEquals(out.map((b) => b.step), [10, 11, 12]);
  assertEquals(out.map((b) => b.epoch), [1, 1, 2]);
  assertEquals(out[1].sampleEpochs, [1, 2, 2, 2]);
  assertEquals(out.map((b) => b.cursor), [
    { epoch: 1, start: 4, step: 11 },
    { epoch: 2, start: 3, step: 12 },
    { epoch: 3, start: 2, step: 13 },
  ]);
});

Deno.test("BatchStream() follows the records' epoch tags without epochSize, stops after `steps`", async () => {
  const tagged = [0, 0, 0, 1, 1, 1, 2].map((epoch, i) => ({ key: `r${i}`, label: 0, epoch }));
  const out = await Array.fromAsync(
    ReadableStream.from(tagged).pipeThrough(new BatchStream({ batchSize: 2, keepLast: true })),
  );
  assertEquals(out.map((b) => b.sampleEpochs), [[0, 0], [0, 1], [1, 1], [2]]);
  const two = await Array.fromAsync(
    ReadableStream.from(tagged).pipeThrough(new BatchStream({ batchSize: 2, steps: 2 })),
  );
  assertStrictEquals(two.length, 2);
  assertThrows(
    () => new BatchStream({ batchSize: 2, epochSize: 3, cursor: { epoch: 0, start: 3, step: 0 } }),
    RangeError,
  );
});
