import {
  assert,
  assertEquals,
  assertMatch,
  assertRejects,
  assertStrictEquals,
  assertThrows,
} from "@std/assert";
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
    assertEquals([img.height, img.width, img.pixels.length], [
      h,
      w,
      (h as number) * (w as number) * 3,
    ], `${f}`);
  }
  const gray = await decodeImage(`${ODD}/gray.jpg`);
  for (let i = 0; i < gray.pixels.length; i += 3) {
    assert(gray.pixels[i] === gray.pixels[i + 1] && gray.pixels[i] === gray.pixels[i + 2]);
  }
  // CMYK converted, not read as 4 channels: it looks like the RGB source (same scene, mean close).
  const cmyk = await decodeImage(`${ODD}/cmyk.jpg`);
  const rgb = await decodeImage("fixtures/pipeline/images/Aaron_Peirsol/Aaron_Peirsol_0001.jpg", {
    resize: { height: 60, width: 80 },
  });
  const mean = (p: Uint8Array) => p.reduce((s, v) => s + v, 0) / p.length;
  assert(
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
    assert(err instanceof DecodeError, f);
    assertStrictEquals(err.source, `${ODD}/${f}`);
    assertMatch(err.message, new RegExp(`Cannot decode "${ODD}/${f}"`));
    assertMatch(err.message, why);
  }
  await assertRejects(
    () => decodeImage(new Uint8Array(0), { name: "rec:3" }),
    Error,
    '"rec:3": empty',
  );
  await assertRejects(() => decodeImage(`${ODD}/gray.jpg`, { resize: 0 }), RangeError);
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
        assertStrictEquals(out[(y * 2 + x) * 3 + c], Math.round(s / 4));
      }
    }
  }
  const flat = new Uint8Array(250 * 250 * 3).fill(77);
  assert(resizeRgb(flat, 250, 250, 112, 112).every((v) => v === 77));
  assert(resizeRgb(flat.subarray(0, 10 * 10 * 3), 10, 10, 37, 23).every((v) => v === 77));
  assertThrows(() => resizeRgb(flat, 10, 10, 5, 5), Error, "is not 10x10x3");
});

Deno.test("decodeImage() resizes 250x250 LFW to 112x112", async () => {
  const img = await decodeImage("fixtures/pipeline/images/Adrien_Brody/Adrien_Brody_0001.jpg", {
    resize: 112,
  });
  assertEquals([img.height, img.width, img.pixels.length], [112, 112, 112 * 112 * 3]);
});

Deno.test("DecodeStream() keeps input order with 3 in flight and 2 workers", async () => {
  const { records } = await readImageFolder("fixtures/pipeline/images");
  const out = await Array.fromAsync(
    ReadableStream.from(records).pipeThrough(
      new DecodeStream({ resize: 112, concurrency: 3, workers: 2 }),
    ),
  );
  assertEquals(out.map((r) => r.key), records.map((r) => r.key));
  // Same pixels as decoding in this thread.
  const local = await decodeImage(records[5].path!, { resize: 112 });
  assertEquals(out[5].pixels, local.pixels);
  assertStrictEquals(out[5].label, records[5].label);
});

Deno.test("DecodeStream() skip mode drops, counts and lists each bad file", async () => {
  const { records } = await readCleanList(
    "fixtures/pipeline/clean_list_with_bad_files.txt",
    "fixtures/pipeline",
  );
  const seen: string[] = [];
  const d = new DecodeStream({ workers: 0, onSkip: (s) => seen.push(s.key) });
  const out: ImageRecord[] = await Array.fromAsync(ReadableStream.from(records).pipeThrough(d));
  assertEquals(out.map((r) => r.key), [
    "images/Aaron_Peirsol/Aaron_Peirsol_0001",
    "images/Abdullah_Gul/Abdullah_Gul_0001",
    "images/Adrien_Brody/Adrien_Brody_0001",
  ]);
  assertStrictEquals(d.report.decoded, 3);
  assertEquals(d.report.skipped.map((s) => s.key), [
    "odd/truncated",
    "odd/corrupt",
    "odd/missing",
  ]);
  assertEquals(seen, ["odd/truncated", "odd/corrupt", "odd/missing"]);
  assertMatch(d.report.skipped[2].reason, /fixtures\/pipeline\/odd\/missing\.jpg.*not found/);
});

Deno.test("DecodeStream() fail mode stops with an error naming the file", async () => {
  const { records } = await readCleanList(
    "fixtures/pipeline/clean_list_with_bad_files.txt",
    "fixtures/pipeline",
  );
  await assertRejects(
    () =>
      Array.fromAsync(
        ReadableStream.from(records).pipeThrough(new DecodeStream({ onError: "fail", workers: 2 })),
      ),
    Error,
    'Cannot decode "fixtures/pipeline/odd/truncated.jpg"',
  );
});

Deno.test("DecodePool() decodes bytes in workers and reports errors with the source", async () => {
  const pool = new DecodePool({ workers: 1 });
  try {
    const bytes = await Deno.readFile(`${ODD}/face112.jpg`);
    const img = await pool.decode(bytes, { name: "k" });
    assertEquals([img.height, img.width], [112, 112]);
    const err = await pool.decode(new Uint8Array([1, 2, 3]), { name: "bad-key" }).catch((e) => e);
    assert(err instanceof DecodeError);
    assertStrictEquals(err.source, "bad-key");
    // A fault that is not a bad file (here a bad option) must not be skippable as one.
    const fault = await pool.decode(bytes, { name: "k", resize: 0 }).catch((e) => e);
    assert(!(fault instanceof DecodeError), String(fault));
    assertMatch(fault.message, /decode worker failed on "k": resize must be/);
  } finally {
    pool.close();
  }
  assertThrows(() => new DecodePool({ workers: -1 }), RangeError);
});

Deno.test("decodeImage() TurboJPEG (FFI) and sharp give the same pixels: both use the accurate IDCT", async () => {
  const f = "fixtures/pipeline/images/Abdullah_Gul/Abdullah_Gul_0002.jpg";
  const fast = await decodeImage(f);
  const slow = await decodeImage(f, { decoder: "sharp" });
  assertEquals([fast.height, fast.width], [slow.height, slow.width]);
  assertEquals(fast.pixels, slow.pixels);
});

Deno.test("DecodePool() refuses work after close() instead of starting new workers", async () => {
  const pool = new DecodePool({ workers: 1 });
  const late = pool.decode(`${ODD}/face112.jpg`);
  pool.close();
  await assertRejects(() => late, Error, "closed");
  await assertRejects(() => pool.decode(`${ODD}/face112.jpg`), Error, "closed");
});
