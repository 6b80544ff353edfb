/**
 * Writes fixtures/web/ for the browser tests (tests/web_*_test.ts): the 4 LFW photos of
 * fixtures/eval/lfw_mini/ as PNG (lossless, so the browser and eval-lfw see the same pixels; a
 * JPEG's decoded pixels depend on the decoder's IDCT and upsampling), and a photo without a face.
 * Run: deno run -A scripts/make_web_fixtures.ts
 */
import { join } from "node:path";
import { decodeImage } from "../pipeline/decode/decode_image.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const OUT = join(ROOT, "fixtures/web");
const sharp = (await import("sharp")).default;

async function writePng(name: string, pixels: Uint8Array, width: number, height: number) {
  const png = await sharp(pixels, { raw: { width, height, channels: 3 } }).png().toBuffer();
  await Deno.writeFile(join(OUT, name), new Uint8Array(png));
}

await Deno.mkdir(OUT, { recursive: true });
for (
  const key of [
    "Abel_Pacheco_0001",
    "Abel_Pacheco_0004",
    "Akhmed_Zakayev_0001",
    "Akhmed_Zakayev_0003",
  ]
) {
  const person = key.replace(/_\d{4}$/, "");
  const im = await decodeImage(join(ROOT, "fixtures/eval/lfw_mini", person, `${key}.jpg`));
  await writePng(`${key}.png`, im.pixels, im.width, im.height);
}
// No face: a smooth colour gradient, 200x150.
const w = 200, h = 150, px = new Uint8Array(w * h * 3);
for (let y = 0; y < h; y++) {
  for (let x = 0; x < w; x++) px.set([x, y + 50, 128], (y * w + x) * 3);
}
await writePng("no_face.png", px, w, h);
await Deno.writeTextFile(join(OUT, "not_an_image.png"), "This is text, not a PNG.\n");
console.log(`wrote ${OUT}`);
