/**
 * `deno task decode [--resize 112 | --reduce-to 112] [--dct-scale auto|off] [--on-error skip|fail]
 *   [--concurrency 8] [--workers 2]`
 * Stage 3: decodes the images named (NDJSON) or carried (tar) on stdin; WebDataset tar of
 * `<key>.rgb` + `<key>.json` on stdout; the skip report goes to stderr at the end.
 */
import { parseFlags, runTask, stdinOrUsage, toStdout } from "./cli.ts";
import type { ListRecord } from "../pipeline/records.ts";

const HELP = `Usage: ... | deno task decode [options] > images.tar

Decodes JPEG/PNG records from stdin (NDJSON with paths, or WebDataset tar with <key>.jpg) to RGB and
writes a WebDataset tar: <key>.rgb (height x width x 3 uint8, row-major) + <key>.json
({"key","label","path"?,"height","width","channels":3}). Grayscale/CMYK/PNG become RGB.
  --resize N           resize to N x N (area when shrinking, bilinear when enlarging) (default: keep)
  --reduce-to N        no resize, but decode a JPEG of at least 2N px at the smallest DCT scale
                       (1/2, 1/4, 1/8) still covering N, as train decodes files for an N px input
                       (either flag makes "decode | train --data -" see what training from the
                       files sees) (default: full size)
  --dct-scale MODE     auto: with --resize/--reduce-to, decode a JPEG at the smallest DCT scale
                       covering the target, then area-resize: OpenCV's imread(IMREAD_REDUCED_COLOR_k)
                       + resize(INTER_AREA), bit for bit (default)
                       off: decode whole, then area-resize: imread + INTER_AREA (within 1 level)
                       JPEG pixels are cv2.imread's (accurate IDCT, EXIF orientation applied)
  --on-error MODE      skip: drop unreadable images, count them, list them on stderr (default)
                       fail: stop at the first unreadable image with an error naming the file
  --concurrency N      images in flight (default 8)
  --workers N          decode workers, each with its own sharp; 0 = main thread (default 2)
  -h, --help           this help

Example: deno task list fixtures/pipeline/images | deno task decode --resize 112 | tar tvf -`;

await runTask("decode", async () => {
  const { flags } = parseFlags(Deno.args, {
    resize: { type: "int", min: 1 },
    "reduce-to": { type: "int", min: 1 },
    "dct-scale": { type: "string", choices: ["auto", "off"], default: "auto" },
    "on-error": { type: "string", choices: ["skip", "fail"], default: "skip" },
    concurrency: { type: "int", min: 1, default: 8 },
    workers: { type: "int", min: 0 }, // default: DecodeStream's
  }, { help: HELP });
  const { resize, concurrency, workers, "on-error": onError, "reduce-to": reduceTo } = flags;
  const { DecodeStream } = await import("../pipeline/decode/decode_stream.ts");
  const { readRecords, recordsToTar } = await import("../pipeline/formats/wire.ts");
  const dctScale = flags["dct-scale"] as "auto" | "off";
  const decode = new DecodeStream({ resize, reduceTo, dctScale, onError, concurrency, workers });
  const { records } = await readRecords(stdinOrUsage("decode"));
  const { nothingDecoded } = await import("./decode/guard.ts");
  const images = (records as ReadableStream<ListRecord>).pipeThrough(decode);
  // Nothing decoded is a failure (exit 1, tar without end marker + __error__.json member).
  await toStdout(recordsToTar(images.pipeThrough(nothingDecoded(decode.report)), "decode"));
  const { decoded, skipped } = decode.report;
  if (skipped.length) {
    const lines = skipped.map((s) => `  ${s.key}: ${s.reason}`).join("\n");
    console.error(`decode: ${decoded} decoded, ${skipped.length} skipped:\n${lines}`);
  } else console.error(`decode: ${decoded} decoded, 0 skipped`);
});
