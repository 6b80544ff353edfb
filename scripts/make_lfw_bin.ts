/**
 * Builds an insightface-style verification `.bin` (pickle of (list of JPEG bytes, list of bool))
 * and the same faces as an image folder, from LFW photos + pairs.txt, so `eval-lfw --bin` and
 * `eval-lfw --aligned --data` can be timed on identical JPEGs (docs/reliability.md). Faces are
 * centre crops (0.44 of the short side) at 112x112, JPEG quality 95, as fixtures/eval does.
 *
 * deno run -A scripts/make_lfw_bin.ts --data ../shared/data/lfw/lfw-deepfunneled \
 *   --pairs ../shared/data/lfw/pairs.txt --bin /tmp/lfw.bin --folder /tmp/lfw_crops
 */
import { join } from "node:path";
import { lfwPath, readPairs } from "../pipeline/formats/pairs_reader.ts";
import { decodeImage, loadSharp } from "../pipeline/decode/decode_image.ts";
import { centerCrop } from "../pipeline/align/align_stream.ts";
import { writeBin } from "../pipeline/formats/pickle_writer.ts";
import { writeFileAtomic } from "../pipeline/atomic_write.ts";
import { parseFlags, runTask, UsageError } from "../tasks/cli.ts";

const HELP =
  `Usage: deno run -A scripts/make_lfw_bin.ts --data DIR --pairs FILE --bin OUT.bin --folder OUT_DIR

Builds an insightface-style verification .bin and the same faces as an image folder from LFW
photos + pairs.txt (centre crops, 112x112, JPEG quality 95). Prints a JSON summary.
  --data DIR       LFW photo folder (<Name>/<Name>_0001.jpg)
  --pairs FILE     pairs.txt
  --bin OUT.bin    the .bin to write
  --folder OUT_DIR the image folder to write`;

const FLAGS = {
  data: { type: "string" },
  pairs: { type: "string" },
  bin: { type: "string" },
  folder: { type: "string" },
} as const;

async function main(): Promise<void> {
  const { flags } = parseFlags(Deno.args, FLAGS, { help: HELP });
  for (const k of ["data", "pairs", "bin", "folder"] as const) {
    if (!flags[k]) throw new UsageError(`--${k} is required`);
  }
  const v = flags as { [K in keyof typeof flags]: string };
  const sharp = await loadSharp();
  const { pairs } = await readPairs(v.pairs);
  const jpeg = new Map<string, Uint8Array>();
  const keys = [...new Set(pairs.flatMap((p) => [p.a, p.b]))];
  const t0 = performance.now();
  await Promise.all(Array.from({ length: 4 }, async (_, w) => {
    for (let i = w; i < keys.length; i += 4) {
      const key = keys[i];
      const im = await decodeImage(lfwPath(v.data, key));
      const px = centerCrop({ key, label: -1, ...im }, 112, 0.44);
      const buf = new Uint8Array(
        await sharp(px, { raw: { width: 112, height: 112, channels: 3 } }).jpeg({ quality: 95 })
          .toBuffer(),
      );
      jpeg.set(key, buf);
      await writeFileAtomic(lfwPath(v.folder, key), buf, { mkdir: true });
    }
  }));
  const images = pairs.flatMap((p) => [jpeg.get(p.a)!, jpeg.get(p.b)!]);
  await writeBin(v.bin, { images, issame: pairs.map((p) => p.issame) });
  const bytes = images.reduce((n, b) => n + b.length, 0);
  console.log(JSON.stringify({
    pairs: pairs.length,
    binImages: images.length,
    uniqueImages: keys.length,
    jpegMB: Math.round(bytes / 1e5) / 10,
    bin: v.bin,
    folder: join(v.folder),
    seconds: Math.round((performance.now() - t0) / 100) / 10,
  }));
}

await runTask("make_lfw_bin", main);
