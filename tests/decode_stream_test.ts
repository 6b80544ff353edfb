import assert from "node:assert/strict";
import { DecodeError, decodeImage } from "../pipeline/decode/decode_image.ts";
import { DecodeStream } from "../pipeline/decode/decode_stream.ts";
import { DecodePool } from "../pipeline/decode/decode_pool.ts";
import { resizeRgb } from "../pipeline/decode/resize.ts";
import { readCleanList, readImageFolder } from "../pipeline/list/list_reader.ts";
import type { ImageRecord } from "../pipeline/records.ts";

const ODD = "fixtures/pipeline/odd";

Deno.test("decodeImage() turns grayscale, CMYK and RGBA PNG into 3-channel RGB", async () => {
  for (const [f, h, w] of [["gray.jpg", 48, 64], ["cmyk.jpg", 60, 80], ["alpha.png", 40, 40]]) {
    const img = await decodeImage(`${ODD}/${f}`);
    assert.deepEqual([img.height, img.width, img.pixels.length], [
      h,
      w,
      (h as number) * (w as number) * 3,
    ], `${f}`);
  }
  const gray = await decodeImage(`${ODD}/gray.jpg`);
  for (let i = 0; i < gray.pixels.length; i += 3) {
    assert.ok(gray.pixels[i] === gray.pixels[i + 1] && gray.pixels[i] === gray.pixels[i + 2]);
  }
  // CMYK converted, not read as 4 channels: it looks like the RGB source (same scene, mean close).
  const cmyk = await decodeImage(`${ODD}/cmyk.jpg`);
  const rgb = await decodeImage("fixtures/pipeline/images/Aaron_Peirsol/Aaron_Peirsol_0001.jpg", {
    resize: { height: 60, width: 80 },
  });
  const mean = (p: Uint8Array) => p.reduce((s, v) => s + v, 0) / p.length;
  assert.ok(
    Math.abs(mean(cmyk.pixels) - mean(rgb.pixels)) < 12,
    `${mean(cmyk.pixels)} vs ${mean(rgb.pixels)}`,
  );
});

Deno.test("decodeImage() names the file when it is missing, truncated, corrupt or not an image", async () => {
  for (
    const [f, why] of [
      ["missing.jpg", /file not found/],
      ["truncated.jpg", /premature end/],
      ["corrupt.jpg", /corrupt|premature/],
      ["not_an_image.jpg", /unsupported image format/],
    ] as const
  ) {
    const err = await decodeImage(`${ODD}/${f}`).catch((e) => e);
    assert.ok(err instanceof DecodeError, f);
    assert.equal(err.source, `${ODD}/${f}`);
    assert.match(err.message, new RegExp(`Cannot decode "${ODD}/${f}"`));
    assert.match(err.message, why);
  }
  await assert.rejects(() => decodeImage(new Uint8Array(0), { name: "rec:3" }), /"rec:3": empty/);
  await assert.rejects(() => decodeImage(`${ODD}/gray.jpg`, { resize: 0 }), RangeError);
});

Deno.test("resizeRgb() averages areas when shrinking and keeps flat colours flat", () => {
  // 4x4 -> 2x2: each output is the mean of a 2x2 block, computed here directly.
  const src = new Uint8Array(4 * 4 * 3).map((_, i) => (i * 37) % 256);
  const out = resizeRgb(src, 4, 4, 2, 2);
  for (let y = 0; y < 2; y++) {
    for (let x = 0; x < 2; x++) {
      for (let c = 0; c < 3; c++) {
        let s = 0;
        for (const [dy, dx] of [[0, 0], [0, 1], [1, 0], [1, 1]]) {
          s += src[((2 * y + dy) * 4 + 2 * x + dx) * 3 + c];
        }
        assert.equal(out[(y * 2 + x) * 3 + c], Math.round(s / 4));
      }
    }
  }
  const flat = new Uint8Array(250 * 250 * 3).fill(77);
  assert.ok(resizeRgb(flat, 250, 250, 112, 112).every((v) => v === 77));
  assert.ok(resizeRgb(flat.subarray(0, 10 * 10 * 3), 10, 10, 37, 23).every((v) => v === 77));
  assert.throws(() => resizeRgb(flat, 10, 10, 5, 5), /is not 10x10x3/);
});

Deno.test("decodeImage() resizes 250x250 LFW to 112x112", async () => {
  const img = await decodeImage("fixtures/pipeline/images/Adrien_Brody/Adrien_Brody_0001.jpg", {
    resize: 112,
  });
  assert.deepEqual([img.height, img.width, img.pixels.length], [112, 112, 112 * 112 * 3]);
});

Deno.test("DecodeStream() keeps input order with 3 in flight and 2 workers", async () => {
  const { records } = await readImageFolder("fixtures/pipeline/images");
  const out = await Array.fromAsync(
    ReadableStream.from(records).pipeThrough(
      new DecodeStream({ resize: 112, concurrency: 3, workers: 2 }),
    ),
  );
  assert.deepEqual(out.map((r) => r.key), records.map((r) => r.key));
  // Same pixels as decoding in this thread.
  const local = await decodeImage(records[5].path!, { resize: 112 });
  assert.deepEqual(out[5].pixels, local.pixels);
  assert.equal(out[5].label, records[5].label);
});

Deno.test("DecodeStream() skip mode drops, counts and lists each bad file", async () => {
  const { records } = await readCleanList(
    "fixtures/pipeline/clean_list_with_bad_files.txt",
    "fixtures/pipeline",
  );
  const seen: string[] = [];
  const d = new DecodeStream({ workers: 0, onSkip: (s) => seen.push(s.key) });
  const out: ImageRecord[] = await Array.fromAsync(ReadableStream.from(records).pipeThrough(d));
  assert.deepEqual(out.map((r) => r.key), [
    "images/Aaron_Peirsol/Aaron_Peirsol_0001",
    "images/Abdullah_Gul/Abdullah_Gul_0001",
    "images/Adrien_Brody/Adrien_Brody_0001",
  ]);
  assert.equal(d.report.decoded, 3);
  assert.deepEqual(d.report.skipped.map((s) => s.key), [
    "odd/truncated",
    "odd/corrupt",
    "odd/missing",
  ]);
  assert.deepEqual(seen, ["odd/truncated", "odd/corrupt", "odd/missing"]);
  assert.match(d.report.skipped[2].reason, /fixtures\/pipeline\/odd\/missing\.jpg.*not found/);
});

Deno.test("DecodeStream() fail mode stops with an error naming the file", async () => {
  const { records } = await readCleanList(
    "fixtures/pipeline/clean_list_with_bad_files.txt",
    "fixtures/pipeline",
  );
  await assert.rejects(
    () =>
      Array.fromAsync(
        ReadableStream.from(records).pipeThrough(new DecodeStream({ onError: "fail", workers: 2 })),
      ),
    /Cannot decode "fixtures\/pipeline\/odd\/truncated\.jpg"/,
  );
});

Deno.test("DecodePool() decodes bytes in workers and reports errors with the source", async () => {
  const pool = new DecodePool({ workers: 1 });
  try {
    const bytes = await Deno.readFile(`${ODD}/face112.jpg`);
    const img = await pool.decode(bytes, { name: "k" });
    assert.deepEqual([img.height, img.width], [112, 112]);
    const err = await pool.decode(new Uint8Array([1, 2, 3]), { name: "bad-key" }).catch((e) => e);
    assert.ok(err instanceof DecodeError);
    assert.equal(err.source, "bad-key");
    // A fault that is not a bad file (here a bad option) must not be skippable as one.
    const fault = await pool.decode(bytes, { name: "k", resize: 0 }).catch((e) => e);
    assert.ok(!(fault instanceof DecodeError), String(fault));
    assert.match(fault.message, /decode worker failed on "k": resize must be/);
  } finally {
    pool.close();
  }
  assert.throws(() => new DecodePool({ workers: -1 }), RangeError);
});

Deno.test("decodeImage() TurboJPEG fast path and sharp agree within JPEG decoder rounding", async () => {
  const f = "fixtures/pipeline/images/Abdullah_Gul/Abdullah_Gul_0002.jpg";
  const fast = await decodeImage(f);
  const slow = await decodeImage(f, { decoder: "sharp" });
  assert.deepEqual([fast.height, fast.width], [slow.height, slow.width]);
  let sum = 0;
  for (let i = 0; i < fast.pixels.length; i++) sum += Math.abs(fast.pixels[i] - slow.pixels[i]);
  assert.ok(sum / fast.pixels.length < 3, `mean abs diff ${sum / fast.pixels.length}`);
});

Deno.test("DecodePool() refuses work after close() instead of starting new workers", async () => {
  const pool = new DecodePool({ workers: 1 });
  const late = pool.decode(`${ODD}/face112.jpg`);
  pool.close();
  await assert.rejects(() => late, /closed/);
  await assert.rejects(() => pool.decode(`${ODD}/face112.jpg`), /closed/);
});
