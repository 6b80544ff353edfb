import * as tf from "@tensorflow/tfjs";
import { assert, assertEquals, assertRejects, assertStrictEquals, assertThrows } from "@std/assert";
import { initBackend } from "../model/backend/backend.ts";
import { decodeImage as decodeWith } from "../pipeline/decode/decode_image.ts";
import { MtcnnDetector } from "../pipeline/align/mtcnn/mod.ts";
import {
  applySimilarity,
  arcfaceTemplate,
  estimateSimilarity,
} from "../pipeline/align/similarity.ts";
import { AlignStream } from "../pipeline/align/align_stream.ts";
import type { FaceRecord, ImageRecord } from "../pipeline/records.ts";

/**
 * Decodes with sharp (libjpeg's default accurate IDCT and fancy upsampling, as PIL and cv2 do), so
 * pixels match the ones the reference implementations saw (TurboJPEG's differ by a few levels).
 */
const decodeImage = (path: string) => decodeWith(path, { decoder: "sharp" });

const LFW = new URL("../fixtures/mtcnn/lfw/", import.meta.url).pathname;

async function lfwRecord(name: string, label = 0): Promise<ImageRecord> {
  const img = await decodeImage(LFW + name);
  return { key: name.replace(/\.jpg$/, ""), label, path: LFW + name, ...img };
}

function greyRecord(key: string): ImageRecord {
  return {
    key,
    label: 1,
    pixels: new Uint8Array(120 * 100 * 3).fill(128),
    width: 100,
    height: 120,
  };
}

async function run(stream: AlignStream, records: ImageRecord[]): Promise<FaceRecord[]> {
  return await Array.fromAsync(ReadableStream.from(records).pipeThrough(stream));
}

Deno.test("AlignStream emits 112x112x3 faces with box, score and source-pixel landmarks", async () => {
  const recs = [
    await lfwRecord("Aaron_Sorkin_0001.jpg", 3),
    await lfwRecord("Ahmet_Demir_0001.jpg"),
  ];
  await initBackend({ backend: "wasm" });
  const stream = new AlignStream();
  const out = await run(stream, recs);
  assertStrictEquals(out.length, 2);
  for (const [i, f] of out.entries()) {
    assertStrictEquals(f.key, recs[i].key);
    assertStrictEquals(f.label, recs[i].label);
    assertStrictEquals(f.path, recs[i].path);
    assertStrictEquals([f.width, f.height, f.pixels.length].join(), "112,112,37632");
    assertStrictEquals(f.policy, "detected");
    assert(f.score! > 0.9);
    assertStrictEquals(f.landmarks!.length, 5);
    // Left eye left of right eye, eyes above the mouth, all inside the source image.
    const [le, re, , lm, rm] = f.landmarks!;
    assert(le[0] < re[0] && lm[0] < rm[0] && le[1] < lm[1] && re[1] < rm[1]);
    // Eyes land on the template: the fitted transform maps them within 3 px of it.
    const m = estimateSimilarity(f.landmarks!, arcfaceTemplate(112));
    const t = arcfaceTemplate(112);
    for (const k of [0, 1]) {
      const [x, y] = applySimilarity(m, f.landmarks![k]);
      assert(Math.hypot(x - t[k][0], y - t[k][1]) < 3, `eye ${k}`);
    }
  }
  // Ahmet_Demir_0001 holds 4 faces: the one chosen is the subject near the centre.
  const [x, y, w, h] = out[1].box!;
  assert(Math.abs(x + w / 2 - 125) < 30 && Math.abs(y + h / 2 - 125) < 40, `box ${out[1].box}`);
  assertEquals(stream.report, { seen: 2, detected: 2, centerCropped: [], skipped: [] });
});

Deno.test("AlignStream onNoFace 'skip' counts and lists the image, and calls onSkip", async () => {
  const skipped: string[] = [];
  await initBackend({ backend: "wasm" });
  const stream = new AlignStream({ onSkip: (r) => skipped.push(r.key) });
  const out = await run(stream, [greyRecord("grey/a"), await lfwRecord("Teddy_Kollek_0001.jpg")]);
  assertEquals(out.map((f) => f.key), ["Teddy_Kollek_0001"]);
  assertEquals(stream.report.skipped, ["grey/a"]);
  assertEquals(skipped, ["grey/a"]);
  assertStrictEquals(stream.report.seen, 2);
});

Deno.test("AlignStream onNoFace 'center-crop' emits the centre crop and records the policy", async () => {
  const rec = greyRecord("grey/b");
  rec.pixels.fill(200, 0, 3); // a mark in the corner: outside the centre crop
  // A dark mark where the crop is centred: source (49.5, 55.3) = (0.5 (W-1), 0.465 (H-1)).
  for (const x of [49, 50]) rec.pixels.fill(0, (55 * 100 + x) * 3, (55 * 100 + x) * 3 + 3);
  await initBackend({ backend: "wasm" });
  const stream = new AlignStream({ onNoFace: "center-crop" });
  const [f] = await run(stream, [rec]);
  assertStrictEquals(f.policy, "center-crop");
  assertStrictEquals(f.box, null);
  assertStrictEquals(f.score, null);
  assertStrictEquals(f.landmarks, null);
  assertStrictEquals(f.pixels.length, 112 * 112 * 3);
  const at = (x: number, y: number) => f.pixels[(y * 112 + x) * 3];
  assert(at(55, 55) < 100 && at(56, 55) < 100, "the source's crop centre lands at the middle");
  assertStrictEquals(at(55, 50), 128);
  assertStrictEquals(at(0, 0), 128, "the corner mark is outside the crop");
  assertEquals(stream.report.centerCropped, ["grey/b"]);
});

Deno.test("AlignStream onNoFace 'fail' errors naming the image", async () => {
  await initBackend({ backend: "wasm" });
  const stream = new AlignStream({ onNoFace: "fail" });
  await assertRejects(
    () => run(stream, [greyRecord("grey/c")]),
    Error,
    'No face found in "grey/c"',
  );
});

Deno.test("AlignStream rejects bad options and a record whose pixels do not match its size", async () => {
  assertThrows(() => new AlignStream({ size: 7 }), RangeError);
  assertThrows(() => new AlignStream({ onNoFace: "drop" as never }), Error, "onNoFace");
  assertThrows(() => new AlignStream({ pick: "first" as never }), Error, "pick rule");
  const bad = { ...greyRecord("bad"), width: 99 };
  await initBackend({ backend: "wasm" });
  await assertRejects(
    () => run(new AlignStream(), [bad]),
    Error,
    'Cannot align "bad"',
  );
});

Deno.test("AlignStream with a shared detector leaves it usable and leaks no tensors", async () => {
  await initBackend({ backend: "wasm" });
  const det = await MtcnnDetector.create();
  const before = tf.memory().numTensors;
  const recs = [await lfwRecord("Bill_Cartwright_0001.jpg"), greyRecord("g")];
  const out = await run(
    new AlignStream({ detector: det, size: 96, onNoFace: "center-crop" }),
    recs,
  );
  assertEquals(out.map((f) => [f.width, f.policy]), [[96, "detected"], [96, "center-crop"]]);
  assertStrictEquals(tf.memory().numTensors, before);
  assertStrictEquals(det.detect(recs[0]).length, 1, "the caller's detector is not disposed");
  det.dispose();
});
