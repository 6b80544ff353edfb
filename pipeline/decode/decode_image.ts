/**
 * Decodes one JPEG/PNG (path or bytes) to RGB `[H, W, 3]` uint8, optionally resized: the pixels
 * OpenCV 4.x's `cv2.imread(path, IMREAD_COLOR)` gives (converted to RGB), bit for bit on the
 * fixtures of `tests/decode_opencv_test.ts` (fixtures/decode, written by OpenCV 4.6).
 * JPEGs (baseline/progressive, 4:2:0/4:2:2/4:4:4, gray, CMYK/YCCK) go to libjpeg-turbo's
 * TurboJPEG API through FFI (`turbo_ffi.ts`) with the accurate ISLOW IDCT, and their EXIF
 * orientation is applied as imread applies it (`exif_orientation.ts`). When shrinking with
 * `dctScale: "auto"` (the default), a JPEG is decoded at the smallest 1/2, 1/4 or 1/8 DCT scale that
 * still covers the target (OpenCV's `IMREAD_REDUCED_COLOR_k`; 250 -> 125 for LFW at 112) and the
 * area resize finishes; `dctScale: "off"` decodes whole first (imread + INTER_AREA).
 * Everything else (PNG, any JPEG TurboJPEG refuses, including truncated or corrupt ones, and every
 * JPEG where FFI is unavailable) goes to sharp, whose error message is the one reported.
 * Grayscale, CMYK and alpha inputs come out as 3-channel RGB (alpha is dropped, as cv2.imread does).
 * A missing, truncated or corrupt input throws a `DecodeError` naming the file.
 */

import { openTurboFfi } from "./turbo_ffi.ts";
import { applyOrientation, exifOrientation, swapsSides } from "./exif_orientation.ts";
import type { RgbImage } from "../records.ts";

/** Whether a JPEG is shrunk in the DCT domain before the area resize (see `dctScale`). */
export type DctScale = "auto" | "off";
export const DCT_SCALES: readonly DctScale[] = ["auto", "off"];

/** `value` checked as a `DctScale` ("auto" when undefined); RangeError otherwise. */
export function checkDctScale(value?: string): DctScale {
  const v = value ?? "auto";
  if (!(DCT_SCALES as readonly string[]).includes(v)) {
    throw new RangeError(`dctScale must be one of ${DCT_SCALES.join(", ")}, got "${v}"`);
  }
  return v as DctScale;
}

/** Output size: a square side or explicit height/width. */
export type ResizeSpec = number | { height: number; width: number };

export interface DecodeImageOptions {
  /** Resize the decoded image (area when shrinking, bilinear when enlarging). Default: no resize. */
  resize?: ResizeSpec;
  /** Name used in errors when the input is bytes. Default: `"<bytes>"`. */
  name?: string;
  /** "auto": TurboJPEG for JPEGs, sharp otherwise; "sharp": always sharp. Default: "auto". */
  decoder?: "auto" | "sharp";
  /**
   * "auto": shrink a JPEG in the DCT domain first (`reduceTo`, `resize`), as OpenCV's
   * `IMREAD_REDUCED_COLOR_k` + `INTER_AREA`; "off": decode at full size, then resize (imread +
   * `INTER_AREA`, what most PyTorch pipelines do). Default: "auto".
   */
  dctScale?: DctScale;
  /** The input path is a RecordIO `.rec`; decode the record at this byte offset. Default: none. */
  recordOffset?: number;
  /**
   * For a network input of side S: decode a JPEG at the smallest DCT scale (1/2, 1/4, 1/8,
   * libjpeg-turbo's scaled IDCT, as OpenCV's `IMREAD_REDUCED_COLOR_*`) whose sides still cover S,
   * and resize nothing (`networkInput` finishes). 250 -> 125 for LFW at 112; a 112 face stays 112.
   * Needs TurboJPEG through FFI; elsewhere, with `dctScale: "off"`, and with `resize` (which
   * implies it), ignored.
   * Default: full size.
   */
  reduceTo?: number;
}

/** A decoded image: the project's `RgbImage` ([height, width, 3] uint8 RGB, row-major). */
export type DecodedImage = RgbImage;

/** A decode failure; `source` names the file (or key) that failed. */
export class DecodeError extends Error {
  readonly source: string;
  constructor(source: string, reason: string) {
    super(`Cannot decode "${source}": ${reason}`);
    this.name = "DecodeError";
    this.source = source;
  }
}

/** Normalizes and checks a resize spec; returns undefined for "no resize". */
export function resizeSize(spec?: ResizeSpec): { height: number; width: number } | undefined {
  if (spec === undefined) return undefined;
  const s = typeof spec === "number" ? { height: spec, width: spec } : spec;
  for (const v of [s.height, s.width]) {
    if (!Number.isInteger(v) || v < 1 || v > 16384) {
      throw new RangeError(`resize must be an integer in [1, 16384], got ${v}`);
    }
  }
  return s;
}

// deno-lint-ignore no-explicit-any
let sharpModule: any;
/** Loads sharp once, lazily (so `--help` stays instant). */
// deno-lint-ignore no-explicit-any
export async function loadSharp(): Promise<any> {
  if (!sharpModule) {
    sharpModule = (await import("sharp")).default;
    // One libvips thread per call: parallelism comes from calls in flight / workers, and small
    // images gain little from intra-image threads (`deno task bench pipeline` times the decode).
    sharpModule.concurrency(1);
    sharpModule.cache(false);
  }
  return sharpModule;
}

function reduceSize(side?: number): { height: number; width: number } | undefined {
  if (side === undefined) return undefined;
  if (!Number.isInteger(side) || side < 1) {
    throw new RangeError(`reduceTo must be a positive integer, got ${side}`);
  }
  return { height: side, width: side };
}

/**
 * Decodes `input` (a file path or encoded bytes).
 * @example
 * ```ts
 * import { decodeImage } from "../mod.ts";
 *
 * const img = await decodeImage("fixtures/pipeline/images/Adrien_Brody/Adrien_Brody_0001.jpg", {
 *   resize: 112,
 * });
 * console.log(img.width, img.height, img.pixels.length); // 112 112 37632
 * ```
 */
export async function decodeImage(
  input: string | Uint8Array,
  options: DecodeImageOptions = {},
): Promise<DecodedImage> {
  const size = resizeSize(options.resize);
  const reduce = reduceSize(options.reduceTo);
  const dctScale = checkDctScale(options.dctScale);
  const source = typeof input === "string"
    ? (options.recordOffset === undefined ? input : `${input}@${options.recordOffset}`)
    : options.name ?? "<bytes>";
  let bytes: Uint8Array;
  if (typeof input === "string") {
    try {
      if (options.recordOffset === undefined) bytes = await Deno.readFile(input);
      else {
        const { readRecordAt } = await import("../list/record_io_reader.ts");
        bytes = await readRecordAt(input, options.recordOffset);
      }
    } catch (e) {
      const why = e instanceof Deno.errors.NotFound ? "file not found" : (e as Error).message;
      throw new DecodeError(source, why);
    }
  } else {
    bytes = input;
  }
  if (bytes.length === 0) throw new DecodeError(source, "empty file");
  const jpeg = bytes[0] === 0xff && bytes[1] === 0xd8;
  const orientation = jpeg ? exifOrientation(bytes) : 1;
  if (options.decoder !== "sharp" && jpeg) {
    // DCT-domain downscaling first (1/2 for LFW's 250 -> 112), then the area resize finishes.
    // `min` is in upright sides; TurboJPEG scales the stored ones: swap them for a 90° orientation.
    let min = dctScale === "auto" ? size ?? reduce : undefined;
    if (min && swapsSides(orientation)) min = { height: min.width, width: min.height };
    const scaled = openTurboFfi()?.decode(bytes, min);
    if (scaled) return await finish(applyOrientation(scaled, orientation), size);
  }
  const sharp = await loadSharp();
  let raw: { data: Uint8Array; info: { width: number; height: number; channels: number } };
  try {
    // failOn "warning": a truncated JPEG (libjpeg "premature end") is an error, never a grey tail.
    raw = await sharp(bytes, { failOn: "warning" })
      .toColourspace("srgb")
      .removeAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
  } catch (e) {
    throw new DecodeError(source, (e as Error).message.split("\n")[0]);
  }
  const { width, height, channels } = raw.info;
  let pixels = new Uint8Array(raw.data.buffer, raw.data.byteOffset, raw.data.length);
  if (channels === 1) pixels = grayToRgb(pixels);
  else if (channels !== 3) throw new DecodeError(source, `unexpected ${channels} channels`);
  return await finish(applyOrientation({ pixels, height, width }, orientation), size);
}

async function finish(
  img: DecodedImage,
  size?: { height: number; width: number },
): Promise<DecodedImage> {
  if (!size || (size.height === img.height && size.width === img.width)) return img;
  const { resizeRgb } = await import("./resize.ts");
  return {
    pixels: resizeRgb(img.pixels, img.height, img.width, size.height, size.width),
    height: size.height,
    width: size.width,
  };
}

function grayToRgb(g: Uint8Array): Uint8Array {
  const out = new Uint8Array(g.length * 3);
  for (let i = 0, o = 0; i < g.length; i++, o += 3) out[o] = out[o + 1] = out[o + 2] = g[i];
  return out;
}
