import { assertEquals, assertStrictEquals, assertThrows } from "@std/assert";
import { wrapBatches, WrapBatchStream } from "../pipeline/batch/wrap_batch_stream.ts";
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

Deno.test("WrapBatchStream({ arrival }) cuts ShuffleStream's epochs into the wraparound batches", async () => {
  const shuffled = ReadableStream.from(recs)
    .pipeThrough(new ShuffleStream<ListRecord>({ seed: 3, epochs: 3, tagEpoch: true }));
  const out = await Array.fromAsync(
    shuffled.pipeThrough(new WrapBatchStream({ batchSize: 4, arrival: true })),
  );
  const ref = [...wrapBatches(recs, { batchSize: 4, seed: 3, steps: 3 })];
  assertEquals(
    out.map((b) => b.records.map((r) => r.key)),
    ref.map((b) => b.records.map((r) => r.key)),
  );
  assertEquals(out.map((b) => b.epoch), [0, 0, 1]);
  assertEquals(out.map((b) => b.sampleEpochs), ref.map((b) => b.sampleEpochs));
});

Deno.test("WrapBatchStream({ arrival }) follows the records' epoch tags, stops after `steps`", async () => {
  const tagged = [0, 0, 0, 1, 1, 1, 2].map((epoch, i) => ({ key: `r${i}`, label: 0, epoch }));
  const arrival = (steps?: number) =>
    new WrapBatchStream({
      batchSize: 2,
      arrival: true,
      steps,
      cursor: { epoch: 0, start: 0, step: 5 },
    });
  const out = await Array.fromAsync(ReadableStream.from(tagged).pipeThrough(arrival()));
  assertEquals(
    out.map((b) => b.sampleEpochs),
    [[0, 0], [0, 1], [1, 1]],
    "short last batch dropped",
  );
  assertEquals(out.map((b) => b.step), [5, 6, 7]);
  assertEquals(out[1].cursor, { epoch: 1, start: 1, step: 7 });
  const two = await Array.fromAsync(ReadableStream.from(tagged).pipeThrough(arrival(2)));
  assertStrictEquals(two.length, 2);
});
