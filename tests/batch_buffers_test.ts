import { assert, assertEquals, assertStrictEquals } from "@std/assert";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../model/backend/backend.ts";
import { BatchBuffers } from "../pipeline/batch/batch_buffers.ts";
import { trainBatches, type TrainBatchesOptions } from "../pipeline/batch/train_batches.ts";
import { readCleanList, readImageFolder } from "../pipeline/list/list_reader.ts";
import { trainImage } from "../pipeline/decode/train_image.ts";
import type { ListRecord } from "../pipeline/records.ts";

const PX = 112 * 112 * 3;

// The wasm backend copies tensor data into its heap, so TensorBatchStream hands buffers back.
await initBackend({ backend: "wasm" });
const { records } = await readImageFolder("fixtures/pipeline/images");

/** Every batch's keys and pixels, read as the trainer reads them (tensors, then disposed). */
async function all(recs: ListRecord[], o: TrainBatchesOptions) {
  const out: { keys: string[]; pixels: Float32Array }[] = [];
  for await (const b of trainBatches(recs, o)) {
    try {
      out.push({ keys: b.keys, pixels: (await b.images.data()) as Float32Array });
    } finally {
      tf.dispose([b.images, b.labels]);
    }
  }
  return out;
}

Deno.test("BatchBuffers hands a given buffer back out and never one still taken", () => {
  const pool = new BatchBuffers({ shared: true, keep: 1 });
  const a = pool.take(12);
  const b = pool.take(12);
  assert(a.buffer !== b.buffer, "two taken buffers share memory");
  assert(a.buffer instanceof SharedArrayBuffer);
  pool.give(a);
  const c = pool.take(8); // a smaller batch (a stream's tail) reuses a larger buffer
  assertStrictEquals(c.buffer, a.buffer);
  assertStrictEquals(c.length, 8);
  assert(
    !(new BatchBuffers({ shared: false, keep: 0 }).take(4).buffer instanceof SharedArrayBuffer),
  );
});

/** Index of the first element where `a` and `b` differ, or -1 (a short message on failure). */
function firstDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

/** Each image of each batch equals `trainImage()` of its file, made alone. */
async function assertImagesMatch(
  batches: { keys: string[]; pixels: Float32Array }[],
  recs: ListRecord[],
) {
  const ref = new Map<string, Float32Array>();
  for (const r of recs) ref.set(r.key, await trainImage(r.path!, { size: 112 }));
  batches.forEach((b, n) => {
    b.keys.forEach((k, i) => {
      const d = firstDiff(b.pixels.subarray(i * PX, (i + 1) * PX), ref.get(k)!);
      assertStrictEquals(d, -1, `batch ${n}, image ${i} ("${k}") differs at ${d}`);
    });
  });
}

Deno.test("trainBatches() on wasm: batches written by workers into reused shared buffers hold the right images", async () => {
  const before = tf.memory().numTensors;
  // 12 batches of 4 from 9 images: buffers are reused many times over (prefetch 2 + 3 kept).
  const o = { batchSize: 4, seed: 11, steps: 12 };
  const shared = await all(records, { ...o, workers: 2 });
  const inThread = await all(records, { ...o, workers: 0 });
  assertStrictEquals(shared.length, 12);
  assertEquals(shared.map((b) => b.keys), inThread.map((b) => b.keys));
  await assertImagesMatch(shared, records);
  await assertImagesMatch(inThread, records);
  assertStrictEquals(tf.memory().numTensors, before);
});

Deno.test("trainBatches() on wasm: skipping unreadable images closes the holes in a reused buffer", async () => {
  const { records: mixed } = await readCleanList(
    "fixtures/pipeline/clean_list_with_bad_files.txt",
    "fixtures/pipeline",
  );
  const good = mixed.filter((r) => !r.key.startsWith("odd/"));
  const o = { batchSize: mixed.length, seed: 0, steps: 4 };
  const skipping = await all(mixed, { ...o, workers: 2 });
  for (const b of skipping) assertEquals([...b.keys].sort(), good.map((r) => r.key).sort());
  await assertImagesMatch(skipping, good);
});
