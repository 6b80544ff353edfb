import { assert, assertEquals, assertRejects, assertStrictEquals, assertThrows } from "@std/assert";
import * as tf from "@tensorflow/tfjs";
import { TrainSource, type TrainSourceOptions } from "../pipeline/batch/train_source.ts";
import { readCleanList, readImageFolder } from "../pipeline/list/list_reader.ts";
import { decodeImage } from "../pipeline/decode/decode_image.ts";
import { epochPermutation } from "../pipeline/shuffle/prng.ts";
import type { ListRecord } from "../pipeline/records.ts";

await tf.setBackend("cpu");
const { records } = await readImageFolder("fixtures/pipeline/images");

interface Seen {
  keys: string[];
  labels: number[];
  pixels: Float32Array;
  epoch: number;
  step: number;
}

async function take(recs: ListRecord[], opts: TrainSourceOptions, n: number) {
  const src = new TrainSource(recs, opts);
  const out: Seen[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const b = (await src.next())!;
      try {
        out.push({
          keys: b.keys,
          labels: [...(await b.labels.data())],
          pixels: (await b.images.data()) as Float32Array,
          epoch: b.epoch,
          step: b.step,
        });
      } finally {
        b.images.dispose();
        b.labels.dispose();
      }
    }
    return { out, cursor: src.cursor, skipped: src.skipped };
  } finally {
    src.close();
  }
}

Deno.test("TrainSource() yields [B,112,112,3] float32 in [-1,1] with int32 labels, no leaked tensors", async () => {
  const before = tf.memory().numTensors;
  const src = new TrainSource(records, { batchSize: 4, seed: 3, workers: 0 });
  try {
    const b = (await src.next())!;
    assertEquals(b.images.shape, [4, 112, 112, 3]);
    assertStrictEquals(b.images.dtype, "float32");
    assertStrictEquals(b.labels.dtype, "int32");
    const px = await b.images.data();
    assert(px.every((v) => v >= -1 && v <= 1));
    // (x - 127.5) / 128 of the decoded, resized first sample.
    const first = records.find((r) => r.key === b.keys[0])!;
    const ref = await decodeImage(first.path!, { resize: 112 });
    for (const i of [0, 1, 2, 5000, 37631]) {
      assertStrictEquals(px[i], Math.fround((ref.pixels[i] - 127.5) / 128));
    }
    const order = epochPermutation(records.length, 3, 0);
    assertEquals(b.keys, [...order.slice(0, 4)].map((i) => records[i].key));
    assertEquals(
      [...(await b.labels.data())],
      [...order.slice(0, 4)].map((i) => records[i].label),
    );
    b.images.dispose();
    b.labels.dispose();
  } finally {
    src.close();
  }
  assertStrictEquals(tf.memory().numTensors, before);
});

Deno.test("TrainSource() resumes from a saved cursor with identical batches (7 steps, then more)", async () => {
  const opts = { batchSize: 4, seed: 11, flip: true, workers: 0 };
  const whole = await take(records, opts, 10);
  const head = await take(records, opts, 7);
  const saved = JSON.parse(JSON.stringify(head.cursor));
  assertEquals(saved, { epoch: 3, start: 1, step: 7 });
  const tail = await take(records, { ...opts, cursor: saved }, 3);
  for (let i = 0; i < 3; i++) {
    assertEquals(tail.out[i].keys, whole.out[7 + i].keys);
    assertEquals(tail.out[i].labels, whole.out[7 + i].labels);
    assertEquals(tail.out[i].step, whole.out[7 + i].step);
    assertEquals(tail.out[i].epoch, whole.out[7 + i].epoch);
    assertEquals(tail.out[i].pixels, whole.out[7 + i].pixels, "same flips on resume");
  }
});

Deno.test("TrainSource() flip mirrors some images left-right and leaves the others", async () => {
  const plain = await take(records, { batchSize: 9, seed: 5, workers: 0 }, 1);
  const flipped = await take(records, { batchSize: 9, seed: 5, flip: true, workers: 0 }, 1);
  const s = 112 * 3;
  let mirrored = 0;
  for (let b = 0; b < 9; b++) {
    const a = plain.out[0].pixels.subarray(b * 112 * s, (b + 1) * 112 * s);
    const f = flipped.out[0].pixels.subarray(b * 112 * s, (b + 1) * 112 * s);
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

Deno.test("TrainSource() skip mode shortens the batch and lists the bad files; fail mode throws", async () => {
  const { records: mixed } = await readCleanList(
    "fixtures/pipeline/clean_list_with_bad_files.txt",
    "fixtures/pipeline",
  );
  const r = await take(mixed, { batchSize: 6, seed: 0, workers: 2 }, 1);
  assertStrictEquals(r.out[0].keys.length, 3);
  assertEquals(r.skipped.map((s) => s.key).sort(), [
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

Deno.test("TrainSource() decodes RecordIO bytes, stops after `steps`, and streams", async () => {
  const { readRecordIO } = await import("../pipeline/list/list_reader.ts");
  const recs = await Array.fromAsync(readRecordIO("fixtures/pipeline/rec/train.rec"));
  const src = new TrainSource(recs, { batchSize: 3, steps: 2, imageSize: 56, workers: 0 });
  const seen = [];
  for await (const b of src.readable()) {
    seen.push(b.images.shape);
    b.images.dispose();
    b.labels.dispose();
  }
  src.close();
  assertEquals(seen, [[3, 56, 56, 3], [3, 56, 56, 3]]);
});

Deno.test("TrainSource() rejects bad options and records without labels", () => {
  assertThrows(() => new TrainSource(records, { batchSize: 0 }), RangeError);
  assertThrows(() => new TrainSource(records, { batchSize: 2, steps: -1 }), Error, "steps must be");
  assertThrows(
    () => new TrainSource(records, { batchSize: 2, onError: "x" as "skip" }),
    RangeError,
  );
  assertThrows(
    () => new TrainSource([{ key: "a", label: -1, path: "a.jpg" }], { batchSize: 1 }),
    Error,
    "training label",
  );
  assertThrows(
    () => new TrainSource([{ key: "a", label: 0 }], { batchSize: 1 }),
    Error,
    "neither path nor bytes",
  );
});

Deno.test("TrainSource() reads lazy RecordIO records on demand with the same pixels as bytes", async () => {
  const { readRecordIO, readRecordIOLazy } = await import("../pipeline/list/list_reader.ts");
  const eager = await Array.fromAsync(readRecordIO("fixtures/pipeline/rec/train.rec"));
  const { records: lazy } = await readRecordIOLazy("fixtures/pipeline/rec/train.rec");
  assert(lazy.every((r) => r.bytes === undefined));
  const a = await take(eager, { batchSize: 4, seed: 1, workers: 0 }, 2);
  const b = await take(lazy, { batchSize: 4, seed: 1, workers: 1 }, 2);
  for (let i = 0; i < 2; i++) {
    assertEquals(b.out[i].keys, a.out[i].keys);
    assertEquals(b.out[i].labels, a.out[i].labels);
    assertEquals(b.out[i].pixels, a.out[i].pixels);
  }
});
