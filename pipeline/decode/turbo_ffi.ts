/**
 * libjpeg-turbo's TurboJPEG C API through Deno's FFI: the JPEG decoder of every path, with the
 * accurate integer IDCT (JDCT_ISLOW, flags 0: what `cv2.imread` and PIL decode with, so the pixels
 * are theirs bit for bit) and DCT-domain downscaling: a JPEG decoded at 1/2, 1/4 or 1/8 scale skips
 * most of the inverse DCT and colour conversion work (OpenCV's `IMREAD_REDUCED_COLOR_2/4/8`).
 * CMYK/YCCK JPEGs are decoded to CMYK and converted as OpenCV's imread converts them.
 * The N-API binding (`@julusian/jpeg-turbo`) is not used to decode: it hard-codes the fast IFAST
 * IDCT (up to 17 levels from OpenCV). Its Linux prebuilds ship the shared `libturbojpeg.so.0`
 * opened here. Where that file or FFI is missing (macOS/Windows prebuilds link it statically, or
 * no --allow-ffi), `openTurboFfi()` returns null and sharp decodes (docs/pipeline.md says how close).
 */
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

const SYMBOLS = {
  tjInitDecompress: { parameters: [], result: "pointer" },
  tjDestroy: { parameters: ["pointer"], result: "i32" },
  // (handle, jpegBuf, jpegSize, *width, *height, *jpegSubsamp, *jpegColorspace)
  tjDecompressHeader3: {
    parameters: ["pointer", "buffer", "u64", "buffer", "buffer", "buffer", "buffer"],
    result: "i32",
  },
  // (handle, jpegBuf, jpegSize, dstBuf, width, pitch, height, pixelFormat, flags)
  tjDecompress2: {
    parameters: ["pointer", "buffer", "u64", "buffer", "i32", "i32", "i32", "i32", "i32"],
    result: "i32",
  },
} as const;

const TJPF_RGB = 0;
const TJPF_CMYK = 11;
/** No TJFLAG_FASTDCT (2048), no TJFLAG_FASTUPSAMPLE: accurate IDCT, fancy upsampling (libjpeg's defaults). */
const TJ_FLAGS = 0;
const TJCS_CMYK = 3;
const TJCS_YCCK = 4;
/** Scale denominators TurboJPEG offers that are exact block averages, largest first. */
const DENOMINATORS = [8, 4, 2];

/** A decoded image from `decode`: RGB `[height, width, 3]`. */
export interface TurboImage {
  pixels: Uint8Array;
  height: number;
  width: number;
}

/** One TurboJPEG decompressor (one per thread: a tjhandle is not shared across threads). */
export interface TurboFfi {
  /**
   * Decodes at the smallest 1/d scale (d in 8, 4, 2, 1) whose size still covers `min` in both
   * dimensions (no scaling when `min` is undefined): OpenCV's `IMREAD_REDUCED_COLOR_d` pixels.
   * Null when TurboJPEG refuses the file (truncated, corrupt, 12-bit...): the caller's fallback
   * decoder then reports the real reason.
   */
  decode(bytes: Uint8Array, min?: { height: number; width: number }): TurboImage | null;
}

/** The DCT scale denominator (8, 4, 2 or 1) whose decode of `height` x `width` still covers `min`. */
export function dctDenominator(
  height: number,
  width: number,
  min?: { height: number; width: number },
): number {
  if (!min) return 1;
  return DENOMINATORS.find((k) =>
    Math.ceil(width / k) >= min.width && Math.ceil(height / k) >= min.height
  ) ?? 1;
}

/** The bundled libturbojpeg.so.0 of `@julusian/jpeg-turbo` for this platform, if it ships one. */
function libraryPath(): string | null {
  if (Deno.build.os !== "linux") return null;
  const arch = ({ x86_64: "x64", aarch64: "arm64" } as Record<string, string>)[Deno.build.arch];
  if (!arch) return null;
  try {
    const pkg = createRequire(import.meta.url).resolve("@julusian/jpeg-turbo/package.json");
    const path = join(dirname(pkg), "prebuilds", `jpeg-turbo-linux-${arch}`, "libturbojpeg.so.0");
    return Deno.statSync(path).isFile ? path : null;
  } catch {
    return null;
  }
}

let opened: TurboFfi | null | undefined;

/** This thread's decompressor, or null when FFI or the library is unavailable. */
export function openTurboFfi(): TurboFfi | null {
  if (opened !== undefined) return opened;
  opened = null;
  const path = libraryPath();
  if (!path) return null;
  try {
    const lib = Deno.dlopen(path, SYMBOLS);
    const handle = lib.symbols.tjInitDecompress();
    if (handle === null) return null;
    opened = makeDecoder(lib, handle);
  } catch {
    opened = null; // no --allow-ffi, or an incompatible library: sharp decodes instead
  }
  return opened;
}

/**
 * Inverted (Adobe) CMYK -> RGB as OpenCV 4.6's `icvCvt_CMYK2BGR_8u_C4C3R` computes it:
 * each of c, m, y becomes `k - ((255 - v) * k >> 8)`, taken as R, G, B.
 */
function cmykToRgb(cmyk: Uint8Array): Uint8Array {
  const out = new Uint8Array((cmyk.length / 4) * 3);
  for (let i = 0, o = 0; i < cmyk.length; i += 4, o += 3) {
    const k = cmyk[i + 3];
    out[o] = k - (((255 - cmyk[i]) * k) >> 8);
    out[o + 1] = k - (((255 - cmyk[i + 1]) * k) >> 8);
    out[o + 2] = k - (((255 - cmyk[i + 2]) * k) >> 8);
  }
  return out;
}

function makeDecoder(
  lib: Deno.DynamicLibrary<typeof SYMBOLS>,
  handle: Deno.PointerObject,
): TurboFfi {
  const header = new Int32Array(4); // width, height, subsampling, colorspace
  const w = header.subarray(0, 1);
  const h = header.subarray(1, 2);
  const sub = header.subarray(2, 3);
  const cs = header.subarray(3, 4);
  return {
    decode(bytes, min) {
      const n = BigInt(bytes.length);
      if (lib.symbols.tjDecompressHeader3(handle, bytes, n, w, h, sub, cs) !== 0) return null;
      const cmyk = cs[0] === TJCS_CMYK || cs[0] === TJCS_YCCK;
      const d = dctDenominator(h[0], w[0], min);
      // TJSCALED: ceil(dim * 1 / d), the size libjpeg-turbo produces at scale 1/d.
      const sw = Math.ceil(w[0] / d);
      const sh = Math.ceil(h[0] / d);
      const pixels = new Uint8Array(sw * sh * (cmyk ? 4 : 3));
      const format = cmyk ? TJPF_CMYK : TJPF_RGB;
      const rc = lib.symbols.tjDecompress2(handle, bytes, n, pixels, sw, 0, sh, format, TJ_FLAGS);
      // Any error or warning (e.g. "Premature end of JPEG file"): let the fallback decide.
      if (rc !== 0) return null;
      return { pixels: cmyk ? cmykToRgb(pixels) : pixels, height: sh, width: sw };
    },
  };
}
