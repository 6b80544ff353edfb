/**
 * libjpeg-turbo's TurboJPEG C API through Deno's FFI, for DCT-domain downscaling: a JPEG decoded
 * at 1/2, 1/4 or 1/8 scale skips most of the inverse DCT and colour conversion work (what OpenCV's
 * `IMREAD_REDUCED_COLOR_2` and libvips' shrink-on-load do). The N-API binding
 * (`@julusian/jpeg-turbo`) always decodes at full size; its Linux prebuilds ship the shared
 * `libturbojpeg.so.0` they link against, which is opened here. Where that file or FFI is missing
 * (macOS/Windows prebuilds link it statically, or no --allow-ffi), `openTurboFfi()` returns null and
 * the caller keeps the binding.
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
/** The binding's flag too: integer fast IDCT (what `@julusian/jpeg-turbo` decodes with). */
const TJFLAG_FASTDCT = 2048;
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
   * dimensions (no scaling when `min` is undefined). Null when TurboJPEG refuses the file (CMYK,
   * truncated, corrupt): the caller's fallback decoder then reports the real reason.
   */
  decode(bytes: Uint8Array, min?: { height: number; width: number }): TurboImage | null;
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
    opened = null; // no --allow-ffi, or an incompatible library: the binding stays in charge
  }
  return opened;
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
      if (cs[0] === TJCS_CMYK || cs[0] === TJCS_YCCK) return null;
      const [width, height] = [w[0], h[0]];
      let d = 1;
      if (min) {
        d = DENOMINATORS.find((k) =>
          Math.ceil(width / k) >= min.width && Math.ceil(height / k) >= min.height
        ) ?? 1;
      }
      // TJSCALED: ceil(dim * 1 / d), the size libjpeg-turbo produces at scale 1/d.
      const sw = Math.ceil(width / d);
      const sh = Math.ceil(height / d);
      const pixels = new Uint8Array(sw * sh * 3);
      const rc = lib.symbols.tjDecompress2(
        handle,
        bytes,
        n,
        pixels,
        sw,
        0,
        sh,
        TJPF_RGB,
        TJFLAG_FASTDCT,
      );
      // Any error or warning (e.g. "Premature end of JPEG file"): let the fallback decide.
      return rc === 0 ? { pixels, height: sh, width: sw } : null;
    },
  };
}
