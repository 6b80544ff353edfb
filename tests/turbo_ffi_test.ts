import { assert, assertEquals, assertRejects } from "@std/assert";
import { openTurboFfi } from "../pipeline/decode/turbo_ffi.ts";
import { decodeImage } from "../pipeline/decode/decode_image.ts";
import { resizeRgb } from "../pipeline/decode/resize.ts";

const IMG = new URL("../fixtures/pipeline/images/Aaron_Peirsol/", import.meta.url).pathname;
const ODD = new URL("../fixtures/pipeline/odd/", import.meta.url).pathname;
const onLinux = Deno.build.os === "linux" && ["x86_64", "aarch64"].includes(Deno.build.arch);

Deno.test({
  name: "openTurboFfi() decodes a 250x250 JPEG at 1/2 scale when 112 is asked for",
  ignore: !onLinux,
  fn: async () => {
    const ffi = openTurboFfi();
    assert(ffi, "the Linux prebuild of @julusian/jpeg-turbo ships libturbojpeg.so.0");
    const bytes = await Deno.readFile(`${IMG}Aaron_Peirsol_0001.jpg`);
    const full = ffi.decode(bytes)!;
    const half = ffi.decode(bytes, { height: 112, width: 112 })!;
    assertEquals([full.height, full.width], [250, 250]);
    assertEquals([half.height, half.width], [125, 125]);
    assertEquals(ffi.decode(bytes, { height: 126, width: 126 })!.width, 250);
    assertEquals(ffi.decode(bytes, { height: 30, width: 30 })!.width, 32); // 1/8: ceil(250 / 8)
    // DCT-domain halving is a 2x2 block average up to rounding: compare with the exact box.
    const box = resizeRgb(full.pixels, 250, 250, 125, 125);
    let diff = 0;
    for (let i = 0; i < box.length; i++) diff += Math.abs(box[i] - half.pixels[i]);
    assert(diff / box.length < 2.5, `mean |DCT half - box half| = ${diff / box.length}`);
  },
});

Deno.test({
  name:
    "openTurboFfi() refuses truncated and corrupt JPEGs so the fallback names the cause; decodes CMYK",
  ignore: !onLinux,
  fn: async () => {
    const ffi = openTurboFfi()!;
    for (const f of ["truncated.jpg", "corrupt.jpg"]) {
      const r = ffi.decode(await Deno.readFile(ODD + f), { height: 112, width: 112 });
      assertEquals(r, null, f);
    }
    await assertRejects(
      () => decodeImage(ODD + "truncated.jpg", { resize: 112 }),
      Error,
      "truncated.jpg",
    );
    // CMYK: decoded as CMYK and converted as OpenCV does (pixels: tests/decode_opencv_test.ts).
    const raw = ffi.decode(await Deno.readFile(ODD + "cmyk.jpg"))!;
    assertEquals([raw.height, raw.width, raw.pixels.length], [60, 80, 60 * 80 * 3]);
    const cmyk = await decodeImage(ODD + "cmyk.jpg", { resize: 112 });
    assertEquals([cmyk.height, cmyk.width], [112, 112]);
  },
});

Deno.test("decodeImage() at 112 stays within 3 levels of full decode + area resize", async () => {
  const path = `${IMG}Aaron_Peirsol_0001.jpg`;
  const fast = await decodeImage(path, { resize: 112 });
  const full = await decodeImage(path);
  const ref = resizeRgb(full.pixels, full.height, full.width, 112, 112);
  let diff = 0;
  for (let i = 0; i < ref.length; i++) diff += Math.abs(ref[i] - fast.pixels[i]);
  assert(diff / ref.length < 3, `mean abs difference ${diff / ref.length}`);
});
