import { assert, assertEquals, assertRejects, assertStrictEquals, assertThrows } from "@std/assert";
import * as tf from "@tensorflow/tfjs";
import { trainBatches, type TrainBatchesOptions } from "../pipeline/batch/train_batches.ts";
import type { TrainBatch } from "../pipeline/batch/tensor_batch_stream.ts";
import { WrapBatcher } from "../pipeline/batch/wrap_batch_stream.ts";
import { readCleanList, readImageFolder } from "../pipeline/list/list_reader.ts";
import { decodeImage } from "../pipeline/decode/decode_image.ts";
import { arcfaceNormalize } from "../pipeline/decode/network_input.ts";
import { epochPermutation } from "../pipeline/shuffle/prng.ts";
import type { ImageRecord, ListRecord, RecordList } from "../pipeline/records.ts";

await tf.setBackend("cpu");
const { records } = await readImageFolder("fixtures/pipeline/images");

interface Seen {
  keys: string[];
  labels: number[];
  pixels: Float32Array;
  epoch: number;
  step: number;
  cursor: TrainBatch["cursor"];
  skipped: TrainBatch["skipped"];
}

/** Reads `n` batches (or all, n = Infinity), then cancels the stream. */
async function take(
  recs: RecordList | ReadableStream<ListRecord>,
  opts: TrainBatchesOptions,
  n: number,
): Promise<Seen[]> {
  const reader = trainBatches(recs, opts).getReader();
  const out: Seen[] = [];
  try {
    while (out.length < n) {
      const r = await reader.read();
      if (r.done) break;
      const b = r.value;
      try {
        out.push({
          keys: b.keys,
          labels: [...(await b.labels.data())],
          pixels: (await b.images.data()) as Float32Array,
          epoch: b.epoch,
          step: b.step,
          cursor: b.cursor,
          skipped: b.skipped,
        });
      } finally {
        tf.dispose([b.images, b.labels]);
      }
    }
  } finally {
    await reader.cancel();
  }
  return out;
}

Deno.test("trainBatches() yields [B,112,112,3] float32 in [-1,1] with int32 labels, no leaked tensors", async () => {
  const before = tf.memory().numTensors;
  const reader = trainBatches(records, { batchSize: 4, seed: 3, workers: 0 }).getReader();
  const b = (await reader.read()).value!;
  try {
    assertEquals(b.images.shape, [4, 112, 112, 3]);
    assertStrictEquals(b.images.dtype, "float32");
    assertStrictEquals(b.labels.dtype, "int32");
    const px = await b.images.data();
    assert(px.every((v) => v >= -1 && v <= 1));
    // (x - 127.5) / 128 of the decoded, resized first sample.
    const first = records.find((r) => r.key === b.keys[0])!;
    const ref = await decodeImage(first.path!, { resize: 112 });
    for (const i of [0, 1, 2, 5000, 37631]) {
      assertStrictEquals(px[i], Math.fround(arcfaceNormalize(ref.pixels[i])));
    }
    const order = epochPermutation(records.length, 3, 0);
    assertEquals(b.keys, [...order.slice(0, 4)].map((i) => records[i].key));
    assertEquals(
      [...(await b.labels.data())],
      [...order.slice(0, 4)].map((i) => records[i].label),
    );
  } finally {
    tf.dispose([b.images, b.labels]);
    await reader.cancel();
  }
  assertStrictEquals(tf.memory().numTensors, before);
});

Deno.test("trainBatches() makes exactly the WrapBatcher's wraparound batches, B < N and B > N", async () => {
  for (const batchSize of [4, 7, records.length + 5]) {
    const got = await take(records, { batchSize, seed: 9, workers: 0, imageSize: 8 }, 6);
    const ref = new WrapBatcher(records.length, { batchSize, seed: 9 });
    for (const g of got) {
      const w = ref.next();
      assertEquals(
        g.keys,
        w.indices.map((i) => records[i].key),
        `B=${batchSize} step ${g.step}`,
      );
      assertStrictEquals(g.epoch, w.epoch);
      assertEquals(g.cursor, w.cursor);
    }
  }
});

Deno.test("trainBatches() resumes from a saved cursor with identical batches (7 steps, then more)", async () => {
  const opts = { batchSize: 4, seed: 11, flip: true, workers: 0 };
  const whole = await take(records, opts, 10);
  const head = await take(records, opts, 7);
  const saved = JSON.parse(JSON.stringify(head[6].cursor));
  assertEquals(saved, { epoch: 3, start: 1, step: 7 });
  const tail = await take(records, { ...opts, cursor: saved }, 3);
  for (let i = 0; i < 3; i++) {
    assertEquals(tail[i].keys, whole[7 + i].keys);
    assertEquals(tail[i].labels, whole[7 + i].labels);
    assertEquals(tail[i].step, whole[7 + i].step);
    assertEquals(tail[i].epoch, whole[7 + i].epoch);
    assertEquals(tail[i].pixels, whole[7 + i].pixels, "same flips on resume");
  }
});

Deno.test("trainBatches() flip mirrors some images left-right and leaves the others", async () => {
  const [plain] = await take(records, { batchSize: 9, seed: 5, workers: 0 }, 1);
  const [flipped] = await take(records, { batchSize: 9, seed: 5, flip: true, workers: 0 }, 1);
  const s = 112 * 3;
  let mirrored = 0;
  for (let b = 0; b < 9; b++) {
    const a = plain.pixels.subarray(b * 112 * s, (b + 1) * 112 * s);
    const f = flipped.pixels.subarray(b * 112 * s, (b + 1) * 112 * s);
    const same = a.every((v, i) => v === f[i]);
    // Mirror check on row 50: f[x] == a[111 - x].
    const isMirror = [0, 17, 111].every((x) =>
      f[50 * s + x * 3 + 1] === a[50 * s + (111 - x) * 3 + 1]
    );
    assert(same || isMirror, `image ${b} is neither kept nor mirrored`);
    if (!same) mirrored++;
  }
  assert(mirrored > 0 && mirrored < 9, `${mirrored} of 9 mirrored`);
});

Deno.test("trainBatches() skip mode shortens the batch and lists the bad files; fail mode errors", async () => {
  const { records: mixed } = await readCleanList(
    "fixtures/pipeline/clean_list_with_bad_files.txt",
    "fixtures/pipeline",
  );
  const [b] = await take(mixed, { batchSize: 6, seed: 0, workers: 2 }, 1);
  assertStrictEquals(b.keys.length, 3);
  assertEquals(b.skipped.map((s) => s.key).sort(), [
    "odd/corrupt",
    "odd/missing",
    "odd/truncated",
  ]);
  await assertRejects(
    () => take(mixed, { batchSize: 6, seed: 0, onError: "fail", workers: 0 }, 1),
    Error,
    'Cannot decode "fixtures/pipeline/odd/',
  );
});

Deno.test("trainBatches() decodes RecordIO bytes and stops after `steps`", async () => {
  const { readRecordIO } = await import("../pipeline/list/list_reader.ts");
  const recs = await Array.fromAsync(readRecordIO("fixtures/pipeline/rec/train.rec"));
  const seen = [];
  for await (const b of trainBatches(recs, { batchSize: 3, steps: 2, imageSize: 56, workers: 0 })) {
    seen.push(b.images.shape);
    tf.dispose([b.images, b.labels]);
  }
  assertEquals(seen, [[3, 56, 56, 3], [3, 56, 56, 3]]);
});

Deno.test("trainBatches() on a stream batches decoded records in arrival order, drops the short tail", async () => {
  const decoded: ImageRecord[] = [];
  // Decoded as `deno task decode --resize 112` does (DCT 1/2 + area), the rule for files too.
  for (const r of records.slice(0, 7)) {
    decoded.push({ ...r, ...(await decodeImage(r.path!, { resize: 112 })) });
  }
  const got = await take(ReadableStream.from(decoded), { batchSize: 3, workers: 0 }, Infinity);
  assertEquals(got.map((b) => b.keys), [
    decoded.slice(0, 3).map((r) => r.key),
    decoded.slice(3, 6).map((r) => r.key),
  ]);
  assertEquals(got.map((b) => b.step), [0, 1]);
  // Pixels that arrive decoded give the same inputs as files decoded in the pipeline.
  const inOrder = await take(
    ReadableStream.from(records.slice(0, 3)),
    { batchSize: 3, workers: 0 },
    1,
  );
  assertEquals(inOrder[0].pixels, got[0].pixels);
  await assertRejects(
    () => take(ReadableStream.from(decoded), { batchSize: 3, workers: 0, numClasses: 1 }, 2),
    Error,
    '"Abdullah_Gul/Abdullah_Gul_0001" has label 1, but there are 1 classes',
  );
});

Deno.test("trainBatches() rejects bad options and records without labels", () => {
  assertThrows(() => trainBatches(records, { batchSize: 0 }), RangeError);
  assertThrows(() => trainBatches(records, { batchSize: 2, steps: -1 }), Error, "steps must be");
  assertThrows(() => trainBatches(records, { batchSize: 2, onError: "x" as "skip" }), RangeError);
  assertThrows(
    () => trainBatches([{ key: "a", label: -1, path: "a.jpg" }], { batchSize: 1 }),
    Error,
    "training label",
  );
  assertThrows(
    () => trainBatches([{ key: "a", label: 0 }], { batchSize: 1 }),
    Error,
    "neither path nor bytes",
  );
});

Deno.test("trainBatches() reads lazy RecordIO records on demand with the same pixels as bytes", async () => {
  const { readRecordIO, readRecordIOLazy } = await import("../pipeline/list/list_reader.ts");
  const eager = await Array.fromAsync(readRecordIO("fixtures/pipeline/rec/train.rec"));
  const { records: lazy } = await readRecordIOLazy("fixtures/pipeline/rec/train.rec");
  assert(lazy.every((r) => r.bytes === undefined));
  const a = await take(eager, { batchSize: 4, seed: 1, workers: 0 }, 2);
  const b = await take(lazy, { batchSize: 4, seed: 1, workers: 1 }, 2);
  for (let i = 0; i < 2; i++) {
    assertEquals(b[i].keys, a[i].keys);
    assertEquals(b[i].labels, a[i].labels);
    assertEquals(b[i].pixels, a[i].pixels);
  }
});

Deno.test("trainBatches() from a RecordIOTable makes the same batches as from its records as an array", async () => {
  const { readRecordTable } = await import("../pipeline/list/record_io_labels.ts");
  const table = await readRecordTable("fixtures/pipeline/rec/train.rec");
  const array = Array.from(table);
  assertEquals(array.length, table.length);
  assertEquals(table.at(-1), array[array.length - 1]);
  assertStrictEquals(table.at(table.length), undefined);
  assertStrictEquals(table.maxLabel(), Math.max(...array.map((r) => r.label)));
  // Several epochs of wraparound batches, and a resume from a cursor mid-epoch.
  const o = { batchSize: 3, seed: 4, workers: 0 };
  const fromTable = await take(table, o, 7);
  const fromArray = await take(array, o, 7);
  assertEquals(
    fromTable.map((b) => [b.keys, b.labels, b.cursor]),
    fromArray.map((b) => [b.keys, b.labels, b.cursor]),
  );
  assertEquals(fromTable[6].pixels, fromArray[6].pixels);
  const resumed = await take(table, { ...o, cursor: fromTable[3].cursor }, 3);
  assertEquals(resumed.map((b) => b.keys), fromArray.slice(4, 7).map((b) => b.keys));
});
