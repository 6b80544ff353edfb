/**
 * Decode and resize against OpenCV 4.6's own output (fixtures/decode, written by
 * scripts/make_decode_fixtures.py with cv2.imread / cv2.resize; see fixtures/decode/README.md).
 */
import { assert, assertEquals } from "@std/assert";
import { decodeImage } from "../pipeline/decode/decode_image.ts";
import { DecodeStream } from "../pipeline/decode/decode_stream.ts";
import { trainImage } from "../pipeline/decode/train_image.ts";
import { resizeRgb } from "../pipeline/decode/resize.ts";
import { openTurboFfi } from "../pipeline/decode/turbo_ffi.ts";
import type { ListRecord } from "../pipeline/records.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const DIR = `${ROOT}fixtures/decode/`;

interface Entry {
  name: string;
  pixels: string;
  height: number;
  width: number;
  op: "imread" | "reduced_area" | "area" | "linear";
  source: string;
  size?: number;
  k?: number;
}

const manifest = JSON.parse(await Deno.readTextFile(`${DIR}manifest.json`)) as {
  entries: Entry[];
};
const entries = (op: Entry["op"]) => manifest.entries.filter((e) => e.op === op);
const reference = (e: Entry) => Deno.readFile(DIR + e.pixels);
// The FFI libturbojpeg ships with the Linux prebuilds only; elsewhere sharp decodes (docs/pipeline.md).
const ffi = openTurboFfi() !== null;
if (!ffi && Deno.env.get("CI")) throw new Error("CI: libturbojpeg.so.0 could not be opened (FFI)");
if (!ffi) console.warn("skipping OpenCV pixel checks: libturbojpeg.so.0 not available by FFI here");

/** Largest |a - b| over two images of the same shape (Infinity when the shapes differ). */
function maxDiff(
  a: { pixels: Uint8Array; height: number; width: number },
  e: Entry,
  b: Uint8Array,
) {
  if (a.height !== e.height || a.width !== e.width || a.pixels.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < b.length; i++) m = Math.max(m, Math.abs(a.pixels[i] - b[i]));
  return m;
}

Deno.test({
  name:
    "decodeImage() gives cv2.imread's pixels exactly: JPEG layouts, gray, CMYK, EXIF 2-8, PNG, LFW",
  ignore: !ffi,
  fn: async () => {
    const found = entries("imread");
    assert(found.length >= 19, `manifest lists ${found.length} imread references`);
    for (const e of found) {
      const ref = await reference(e);
      const path = ROOT + e.source;
      assertEquals(maxDiff(await decodeImage(path), e, ref), 0, `${e.name}: from the file`);
      // The .bin / .rec / tar path: encoded bytes in memory.
      const bytes = await Deno.readFile(path);
      assertEquals(maxDiff(await decodeImage(bytes), e, ref), 0, `${e.name}: from bytes`);
    }
  },
});

Deno.test({
  name: "sharp (the decoder without FFI) gives imread's pixels for everything but CMYK",
  ignore: !ffi,
  fn: async () => {
    for (const e of entries("imread")) {
      const d = maxDiff(
        await decodeImage(ROOT + e.source, { decoder: "sharp" }),
        e,
        await reference(e),
      );
      // sharp converts CMYK through an ICC transform (lcms), OpenCV by its own formula.
      if (e.name === "cmyk_jpg") assert(d > 0, "sharp's CMYK conversion is not OpenCV's");
      else assertEquals(d, 0, e.name);
    }
  },
});

Deno.test({
  name: "DecodeStream in workers (decode, eval-lfw --aligned, align input) gives imread's pixels",
  ignore: !ffi,
  fn: async () => {
    const found = entries("imread");
    const records: ListRecord[] = found.map((e) => ({
      key: e.name,
      label: 0,
      path: ROOT + e.source,
    }));
    const out = await Array.fromAsync(
      ReadableStream.from(records).pipeThrough(new DecodeStream({ workers: 1, onError: "fail" })),
    );
    assertEquals(out.length, found.length);
    for (let i = 0; i < found.length; i++) {
      assertEquals(maxDiff(out[i], found[i], await reference(found[i])), 0, found[i].name);
    }
  },
});

Deno.test({
  name:
    "--dct-scale auto = IMREAD_REDUCED_COLOR_k + INTER_AREA (0 levels), on decode and training paths",
  ignore: !ffi,
  fn: async () => {
    const found = entries("reduced_area");
    assertEquals(found.map((e) => e.size).sort(), [100, 112, 112, 64]);
    for (const e of found) {
      const ref = await reference(e);
      const path = ROOT + e.source;
      const s = e.size!;
      assertEquals(maxDiff(await decodeImage(path, { resize: s }), e, ref), 0, `${e.name}: resize`);
      // Training batches and eval-lfw --aligned: decode with reduceTo, then networkInput.
      const x = await trainImage(path, { size: s, normalize: "raw" });
      const img = { pixels: Uint8Array.from(x), height: s, width: s };
      assertEquals(maxDiff(img, e, ref), 0, `${e.name}: training input`);
      const r = await decodeImage(path, { reduceTo: s });
      assertEquals(r.height, Math.ceil(250 / e.k!), `${e.name}: decoded at 1/${e.k}`);
    }
  },
});

Deno.test({
  name: "--dct-scale off = full imread + INTER_AREA within 1 level, 250 -> 112, 64 and 100",
  ignore: !ffi,
  fn: async () => {
    const found = entries("area");
    assertEquals(found.length, 4);
    for (const e of found) {
      const ref = await reference(e);
      const path = ROOT + e.source;
      const s = e.size!;
      const off = await decodeImage(path, { resize: s, dctScale: "off" });
      assert(maxDiff(off, e, ref) <= 1, `${e.name}: ${maxDiff(off, e, ref)} levels`);
      const x = await trainImage(path, { size: s, normalize: "raw", dctScale: "off" });
      const img = { pixels: Uint8Array.from(x), height: s, width: s };
      assert(maxDiff(img, e, ref) <= 1, `${e.name} training input: ${maxDiff(img, e, ref)} levels`);
    }
  },
});

Deno.test("resizeRgb() enlarging = cv2.resize INTER_LINEAR within 1 level (OpenCV's 11-bit weights)", async () => {
  const [e] = entries("linear");
  const src = entries("imread").find((x) => x.source === e.source)!;
  const small = await reference(src); // the imread pixels of the 57 x 45 source
  const up = resizeRgb(small, src.height, src.width, e.size!, e.size!);
  const d = maxDiff({ pixels: up, height: e.size!, width: e.size! }, e, await reference(e));
  assert(d <= 1, `${d} levels from INTER_LINEAR`);
});
