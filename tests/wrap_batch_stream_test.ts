import { assertEquals, assertStrictEquals, assertThrows } from "@std/assert";
import { WrapBatcher, WrapBatchStream } from "../pipeline/batch/wrap_batch_stream.ts";
import { epochPermutation } from "../pipeline/shuffle/prng.ts";
import type { ListRecord } from "../pipeline/records.ts";

/** The literal TF rule on a fixed order (valid for B <= N). */
function literal(n: number, b: number, steps: number): number[][] {
  const order = Array.from({ length: n }, (_, i) => i);
  let start = 0;
  const out: number[][] = [];
  for (let s = 0; s < steps; s++) {
    const end = (start + b) % n;
    out.push(
      start < end ? order.slice(start, end) : [...order.slice(start), ...order.slice(0, end)],
    );
    start = end;
  }
  return out;
}

Deno.test("WrapBatcher() without a seed follows the literal rule when N % B != 0", () => {
  const w = new WrapBatcher(10, { batchSize: 4 });
  const got = Array.from({ length: 9 }, () => w.next().indices);
  assertEquals(got, literal(10, 4, 9));
});

Deno.test("WrapBatchStream() wraps [start:] + [:end] at the end of an epoch from the next order", () => {
  const w = new WrapBatcher(5, { batchSize: 3, seed: 7 });
  const e0 = epochPermutation(5, 7, 0);
  const e1 = epochPermutation(5, 7, 1);
  const b0 = w.next();
  const b1 = w.next();
  assertEquals(b0.indices, [...e0.slice(0, 3)]);
  assertEquals(b1.indices, [...e0.slice(3, 5), e1[0]]);
  assertStrictEquals(b1.epoch, 0, "a batch carries the epoch of its first sample");
  assertEquals(b1.sampleEpochs, [0, 0, 1]);
  assertEquals(b1.cursor, { epoch: 1, start: 1, step: 2 });
  assertStrictEquals(w.next().epoch, 1);
});

Deno.test("WrapBatcher() counts epochs: every epoch is one whole permutation", () => {
  const n = 7;
  const w = new WrapBatcher(n, { batchSize: 3, seed: 1 });
  const seen = new Map<number, number[]>();
  for (let s = 0; s < 14; s++) { // 42 samples = 6 epochs exactly
    const b = w.next();
    b.indices.forEach((idx, i) => {
      const list = seen.get(b.sampleEpochs[i]) ?? [];
      list.push(idx);
      seen.set(b.sampleEpochs[i], list);
    });
  }
  assertEquals([...seen.keys()], [0, 1, 2, 3, 4, 5]);
  for (const [e, list] of seen) assertEquals(list, [...epochPermutation(n, 1, e)]);
  assertEquals(w.cursor, { epoch: 6, start: 0, step: 14 });
});

Deno.test("WrapBatcher() with B > N cycles through epochs to fill exactly B", () => {
  const w = new WrapBatcher(3, { batchSize: 8, seed: 2 });
  const b = w.next();
  assertStrictEquals(b.indices.length, 8);
  assertEquals(b.sampleEpochs, [0, 0, 0, 1, 1, 1, 2, 2]);
  assertEquals(b.indices.slice(3, 6), [...epochPermutation(3, 2, 1)]);
  assertEquals(b.cursor, { epoch: 2, start: 2, step: 1 });
  const b2 = w.next();
  assertStrictEquals(b2.epoch, 2);
  assertEquals(b2.sampleEpochs, [2, 3, 3, 3, 4, 4, 4, 5]);
});

Deno.test("WrapBatcher() resumes from a saved cursor with the exact same batches", () => {
  const full = new WrapBatcher(11, { batchSize: 4, seed: 9 });
  const all = Array.from({ length: 15 }, () => full.next());
  const first = new WrapBatcher(11, { batchSize: 4, seed: 9 });
  for (let i = 0; i < 7; i++) first.next();
  const saved = JSON.parse(JSON.stringify(first.cursor));
  const resumed = new WrapBatcher(11, { batchSize: 4, seed: 9, cursor: saved });
  for (let i = 7; i < 15; i++) assertEquals(resumed.next(), all[i]);
});

Deno.test("WrapBatcher() rejects bad sizes and cursors", () => {
  assertThrows(() => new WrapBatcher(0, { batchSize: 2 }), Error, "empty list");
  assertThrows(() => new WrapBatcher(5, { batchSize: 0 }), RangeError);
  assertThrows(
    () => new WrapBatcher(5, { batchSize: 2, cursor: { epoch: 0, start: 5, step: 0 } }),
    Error,
    "Invalid cursor",
  );
  assertThrows(
    () => new WrapBatcher(5, { batchSize: 2, cursor: { epoch: -1, start: 0, step: 0 } }),
    Error,
    "Invalid cursor",
  );
});

Deno.test("WrapBatchStream() emits ceil(E*N/B) batches for E epochs, with records", async () => {
  const records: ListRecord[] = Array.from({ length: 10 }, (_, i) => ({ key: `k${i}`, label: i }));
  const out = await Array.fromAsync(
    ReadableStream.from(records).pipeThrough(new WrapBatchStream({ batchSize: 4, epochs: 2 })),
  );
  assertStrictEquals(out.length, 5);
  assertEquals(out[2].records.map((r) => r.key), ["k8", "k9", "k0", "k1"]);
  assertStrictEquals(out.at(-1)!.cursor.epoch, 2);
  const bySteps = await Array.fromAsync(
    ReadableStream.from(records).pipeThrough(new WrapBatchStream({ batchSize: 4, steps: 3 })),
  );
  assertStrictEquals(bySteps.length, 3);
});

Deno.test("WrapBatchStream() makes batches only as they are read, and stops on cancel", async () => {
  const recs: ListRecord[] = Array.from({ length: 5 }, (_, i) => ({ key: `k${i}`, label: i }));
  // 10^9 steps: built eagerly in flush(), this would not finish.
  const stream = new WrapBatchStream({ batchSize: 2, seed: 3, steps: 1e9 });
  const reader = ReadableStream.from(recs).pipeThrough(stream).getReader();
  const got = [];
  for (let i = 0; i < 4; i++) got.push((await reader.read()).value!);
  await reader.cancel();
  assertEquals(got.map((b) => b.step), [0, 1, 2, 3]);
  assertEquals(got[2].sampleEpochs, [0, 1]); // step 2 wraps: [4:] + [:1]
});
