import { assert, assertEquals, assertRejects, assertStrictEquals, assertThrows } from "@std/assert";
import * as tf from "@tensorflow/tfjs";
import {
  arcfaceNormalize,
  networkInput,
  normalizePixel,
} from "../pipeline/decode/network_input.ts";
import { decodeImage } from "../pipeline/decode/decode_image.ts";
import { trainBatches } from "../pipeline/batch/train_batches.ts";
import { readImageFolder } from "../pipeline/list/list_reader.ts";
import { Embedder } from "../model/eval/embed_stream.ts";

await tf.setBackend("cpu");

/** A linear model with input side `s` (its weights do not matter: only its input is read). */
function modelOf(s: number): tf.LayersModel {
  const input = tf.input({ shape: [s, s, 3] });
  const out = tf.layers.dense({ units: 2 }).apply(tf.layers.flatten().apply(input));
  return tf.model({ inputs: input, outputs: out as tf.SymbolicTensor });
}

Deno.test("networkInput(): one fixture face gives the same tensor on the training and the eval path", async () => {
  const { records } = await readImageFolder("fixtures/lfw_faces/train");
  const rec = records[0];
  const image = await decodeImage(rec.path!); // 112 x 112 aligned face
  assertStrictEquals(image.height, 112);
  for (const size of [64, 112, 128]) {
    // Training path: file -> decode worker -> networkInput -> batch tensor.
    const reader = trainBatches(ReadableStream.from([rec]), {
      batchSize: 1,
      imageSize: size,
      workers: 1,
    }).getReader();
    const b = (await reader.read()).value!;
    await reader.cancel();
    const train = (await b.images.data()) as Float32Array;
    tf.dispose([b.images, b.labels]);
    // Eval path (eval-lfw and the trainer's held-out check): Embedder's input batch.
    const model = modelOf(size);
    const x = new Embedder(model).inputBatch([image]);
    const evalData = (await x.data()) as Float32Array;
    x.dispose();
    model.dispose();
    assertStrictEquals(b.keys[0], rec.key);
    assertStrictEquals(train.length, size * size * 3);
    assertEquals(evalData, train, `input ${size}: bit-identical`);
  }
});

Deno.test("networkInput() = cv2.resize INTER_AREA (fixture), then (x - 127.5) / 128, mirrored when asked", async () => {
  // fixtures/decode (scripts/make_decode_fixtures.py, OpenCV 4.6): an LFW photo as cv2.imread
  // gives it (250 x 250) and cv2.resize(INTER_AREA) of it at 112, 100 and 64.
  const dir = "fixtures/decode/";
  const photo = { pixels: await Deno.readFile(`${dir}lfw_a.rgb`), height: 250, width: 250 };
  for (const s of [112, 100, 64]) {
    const ref = await Deno.readFile(`${dir}lfw_a_off_${s}.rgb`);
    const raw = networkInput(photo, { size: s, normalize: "raw" });
    let worst = 0;
    for (let i = 0; i < ref.length; i++) worst = Math.max(worst, Math.abs(raw[i] - ref[i]));
    assert(worst <= 1, `${s}: ${worst} levels from INTER_AREA`);
    const x = networkInput(photo, { size: s });
    assertEquals(x, Float32Array.from(raw, (v) => (v - 127.5) / 128));
    const m = networkInput(photo, { size: s, flip: true });
    for (let y = 0; y < s; y += 7) {
      for (let c = 0; c < 3; c++) {
        assertStrictEquals(m[(y * s + 0) * 3 + c], x[(y * s + s - 1) * 3 + c]);
      }
    }
  }
  const h = 9, w = 7;
  const pixels = Uint8Array.from({ length: h * w * 3 }, (_, i) => (i * 53) % 256);
  // Shrinking a 2x2 checker averages it (no aliasing): all grey.
  const checker = Uint8Array.from({ length: 8 * 8 * 3 }, (_, i) => {
    const p = Math.floor(i / 3);
    return ((p % 8) + Math.floor(p / 8)) % 2 ? 255 : 0;
  });
  const grey = networkInput({ pixels: checker, height: 8, width: 8 }, {
    size: 4,
    normalize: "raw",
  });
  assert(grey.every((v) => v === 128), `${grey.slice(0, 6)}`);
  assertStrictEquals(normalizePixel(255, "unit"), 1);
  assertStrictEquals(arcfaceNormalize(127.5), 0);
  assertThrows(() => networkInput({ pixels, height: h, width: w }, { size: 0 }), RangeError);
  assertThrows(
    () => networkInput({ pixels: pixels.subarray(1), height: h, width: w }, { size: 4 }),
    Error,
    "not 9x7x3",
  );
});

Deno.test("networkInput(): a 250 px JPEG is decoded at the DCT scale covering S, alike on the training and the eval path", async () => {
  const { records } = await readImageFolder("fixtures/pipeline/images");
  const rec = records[0]; // 250 x 250 LFW photo
  const { DecodeStream } = await import("../pipeline/decode/decode_stream.ts");
  const { openTurboFfi } = await import("../pipeline/decode/turbo_ffi.ts");
  const reduced = await decodeImage(rec.path!, { reduceTo: 112 });
  // 1/2 scale (125 px) covers 112; 1/4 (63 px) would not. Without FFI the image stays whole.
  assertStrictEquals(reduced.height, openTurboFfi() ? 125 : 250);
  assertStrictEquals((await decodeImage(rec.path!, { reduceTo: 200 })).height, 250);
  for (const size of [56, 112]) {
    const reader = trainBatches([rec], { batchSize: 1, imageSize: size, workers: 1, steps: 1 })
      .getReader();
    const b = (await reader.read()).value!;
    await reader.cancel();
    const train = (await b.images.data()) as Float32Array;
    tf.dispose([b.images, b.labels]);
    // Eval path for aligned images (eval-lfw --aligned): DecodeStream({ reduceTo }) -> Embedder.
    const [image] = await Array.fromAsync(
      ReadableStream.from([rec]).pipeThrough(new DecodeStream({ reduceTo: size, workers: 0 })),
    );
    const model = modelOf(size);
    const x = new Embedder(model).inputBatch([image]);
    const evalData = (await x.data()) as Float32Array;
    tf.dispose([x]);
    model.dispose();
    assertEquals(evalData, train, `input ${size}: bit-identical`);
  }
  await assertRejects(() => decodeImage(rec.path!, { reduceTo: 0 }), RangeError, "reduceTo");
});
