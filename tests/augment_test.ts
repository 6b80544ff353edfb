import { assert, assertEquals, assertNotEquals, assertThrows } from "@std/assert";
import {
  batchAugments,
  checkAugment,
  cropRgb,
  type ImageAugment,
} from "../pipeline/decode/augment.ts";
import { arcfaceNormalize, networkInput } from "../pipeline/decode/network_input.ts";
import { DecodeBatchStream } from "../pipeline/batch/decode_batch_stream.ts";
import { wrapBatches } from "../pipeline/batch/wrap_batch_stream.ts";
import { readImageFolder } from "../pipeline/list/list_reader.ts";
import type { RgbImage } from "../pipeline/records.ts";

/** An h x w image whose pixel (y, x) is [y, x, 7]: a crop's origin can be read off its pixels. */
function coordinates(h: number, w: number): RgbImage {
  const pixels = new Uint8Array(h * w * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) pixels.set([y, x, 7], (y * w + x) * 3);
  }
  return { pixels, height: h, width: w };
}

Deno.test("batchAugments(): draws repeat for one (seed, step), differ across steps, stay in range", () => {
  const opts = { cropScale: 0.8, jitter: 0.25 };
  const a = batchAugments(3, 17, 200, opts);
  assertEquals(batchAugments(3, 17, 200, opts), a);
  assertNotEquals(batchAugments(3, 18, 200, opts), a);
  assertNotEquals(batchAugments(4, 17, 200, opts), a);
  for (const { crop, tone } of a) {
    const [f, u, v] = crop!;
    assert(f >= 0.8 && f < 1 && u >= 0 && u < 1 && v >= 0 && v < 1, `crop ${crop}`);
    const [gain, shift] = tone!;
    assert(gain >= 0.75 && gain < 1.25 && shift >= -0.25 && shift < 0.25, `tone ${tone}`);
  }
  // Uniform draws: the means sit near the middle of their ranges (200 draws: sd ~0.004 for f).
  const mean = (k: (x: (typeof a)[0]) => number) => a.reduce((s, x) => s + k(x), 0) / a.length;
  assert(Math.abs(mean((x) => x.crop![0]) - 0.9) < 0.02);
  assert(Math.abs(mean((x) => x.tone![1])) < 0.05);
  // Off: nothing drawn, and only the parts asked for when one is on.
  assertEquals(batchAugments(3, 17, 2, undefined), [{}, {}]);
  assertEquals(batchAugments(3, 17, 2, { cropScale: 1, jitter: 0 }), [{}, {}]);
  assertEquals(batchAugments(3, 17, 1, { jitter: 0.1 })[0].crop, undefined);
});

Deno.test("checkAugment(): a crop outside (0, 1] or a jitter outside [0, 1) is a RangeError", () => {
  assertThrows(() => checkAugment({ cropScale: 0 }), RangeError, "cropScale must be in (0, 1]");
  assertThrows(() => checkAugment({ cropScale: 1.2 }), RangeError, "cropScale");
  assertThrows(() => checkAugment({ jitter: 1 }), RangeError, "jitter must be in [0, 1)");
  assertThrows(() => checkAugment({ jitter: NaN }), RangeError, "jitter");
  assertThrows(() => new DecodeBatchStream({ augment: { cropScale: -1 } }), RangeError);
  assertEquals(checkAugment({ cropScale: 0.9 }), true);
  assertEquals(checkAugment({}), false);
});

Deno.test("cropRgb(): side round(f * n) per axis, start floor(u * (n - side + 1))", () => {
  const img = coordinates(10, 8);
  // Width 8: side round(0.5 * 8) = 4, start floor(0 * 5) = 0; height 10: side 5, start floor(0.999 * 6) = 5.
  const c = cropRgb(img, [0.5, 0, 0.999]);
  assertEquals([c.height, c.width], [5, 4]);
  assertEquals(Array.from(c.pixels.subarray(0, 3)), [5, 0, 7]);
  assertEquals(Array.from(c.pixels.subarray(c.pixels.length - 3)), [9, 3, 7]);
  // The largest u lands the box on the far edge; f = 1 is the whole image.
  const far = cropRgb(img, [0.75, 0.99999, 0.5]); // width 6 at x 2, height 8 (7.5 rounds up) at y 1
  assertEquals([far.height, far.width], [8, 6]);
  assertEquals(Array.from(far.pixels.subarray(0, 3)), [1, 2, 7]);
  assertEquals(cropRgb(img, [1, 0.7, 0.3]).pixels, img.pixels);
});

Deno.test("networkInput(augment): the crop chooses what is resized, the tone maps each value by its formula", () => {
  // A 100 x 100 image: grey 200 inside [20, 80) x [20, 80), black around it. A crop inside the
  // square resizes to all-200; the tone then maps 200 to floor(gain * (200 - 128) + 128 + 128 * shift + 0.5).
  const img: RgbImage = { pixels: new Uint8Array(100 * 100 * 3), height: 100, width: 100 };
  for (let y = 20; y < 80; y++) img.pixels.fill(200, (y * 100 + 20) * 3, (y * 100 + 80) * 3);
  // f = 0.6: side 60 at floor(u * 41) = 20 for u = 0.5 on both axes.
  const inside = networkInput(img, { size: 16, augment: { crop: [0.6, 0.5, 0.5] } });
  assert(inside.every((x) => x === arcfaceNormalize(200)));
  const whole = networkInput(img, { size: 16 });
  assert(whole.some((x) => x === arcfaceNormalize(0)));
  for (const [gain, shift] of [[1.2, 0.1], [0.8, -0.3], [1.5, 0.9]]) {
    const want = Math.min(255, Math.max(0, Math.floor(gain * 72 + 128 + 128 * shift + 0.5)));
    const x = networkInput(img, {
      size: 16,
      augment: { crop: [0.6, 0.5, 0.5], tone: [gain, shift] },
    });
    assert(x.every((v) => v === arcfaceNormalize(want)), `gain ${gain} shift ${shift}: ${want}`);
  }
});

Deno.test("DecodeBatchStream(augment): a training batch is its images augmented by batchAugments' draws", async () => {
  const { records } = await readImageFolder("fixtures/lfw_faces/train");
  const augment = { cropScale: 0.8, jitter: 0.2 };
  const stream = ReadableStream.from(wrapBatches(records, { batchSize: 4, seed: 5, steps: 2 }))
    .pipeThrough(new DecodeBatchStream({ size: 32, seed: 5, augment, workers: 1 }));
  const { decodeImage } = await import("../pipeline/decode/decode_image.ts");
  const byKey = new Map(records.map((r) => [r.key, r]));
  let step = 0;
  for await (const b of stream) {
    const draws = batchAugments(5, b.step, 4, augment);
    for (let i = 0; i < 4; i++) {
      const img = await decodeImage(byKey.get(b.keys[i])!.path!, { reduceTo: 32 });
      const want = networkInput(img, { size: 32, augment: draws[i] });
      assertEquals(b.data.subarray(i * want.length, (i + 1) * want.length), want);
      assertNotEquals(networkInput(img, { size: 32 }), want);
    }
    step++;
  }
  assertEquals(step, 2);
});

Deno.test("networkInput(augment) equals OpenCV's crop + resize + tone (scripts/torch_run_data.py): 0 levels shrinking, <= 1 (times the gain) enlarging", async () => {
  const { decodeImage } = await import("../pipeline/decode/decode_image.ts");
  const dir = "fixtures/augment/";
  const manifest = JSON.parse(await Deno.readTextFile(`${dir}manifest.json`)) as {
    entries: {
      source: string;
      size: number;
      augment: ImageAugment;
      flip: boolean;
      pixels: string;
      resize: "area" | "linear";
    }[];
  };
  assertEquals(manifest.entries.length, 12);
  for (const e of manifest.entries) {
    const want = await Deno.readFile(dir + e.pixels);
    const img = await decodeImage(e.source, { reduceTo: e.size });
    const x = networkInput(img, { size: e.size, augment: e.augment, flip: e.flip });
    let worst = 0;
    // arcface normalization (v - 127.5) / 128 is exact in float32: invert it to uint8 levels.
    x.forEach((v, i) => (worst = Math.max(worst, Math.abs(v * 128 + 127.5 - want[i]))));
    // Enlarging differs from OpenCV by up to 1 level (docs/pipeline.md); a tone of gain g makes
    // that up to floor(g) + 1 after rounding.
    const limit = e.resize === "area" ? 0 : Math.floor(e.augment.tone?.[0] ?? 1) + 1;
    assert(worst <= limit, `${e.pixels} (${JSON.stringify(e.augment)}): ${worst} levels`);
  }
});
