/**
 * Reads insightface verification `.bin` files: a Python pickle of `(list of JPEG bytes, list of
 * bool)`, e.g. `lfw.bin`, `cfp_fp.bin`, `agedb_30.bin` (`pickle_writer.ts` writes them).
 * JPEG payloads are views into the file's bytes (no copy).
 */
import { type PickleValue, readPickle } from "./pickle_reader.ts";

/** An insightface verification set: images 2i and 2i+1 form pair i. */
export interface VerificationBin {
  /** Encoded images (JPEG/PNG bytes), 2 per pair. */
  images: Uint8Array[];
  issame: boolean[];
}

/**
 * Parses a `.bin` file's bytes, checking the `(list of bytes, list of bool)` layout.
 * @example
 * ```ts
 * import { parseBin } from "../mod.ts";
 *
 * const bin = parseBin(await Deno.readFile("fixtures/eval/lfw_mini.bin"), "lfw_mini.bin");
 * console.log(bin.images.length, bin.issame.length); // 2 images (encoded JPEG) per pair
 * ```
 */
export function parseBin(bytes: Uint8Array, name = "<bytes>"): VerificationBin {
  const v = readPickle(bytes, name);
  const bad = (why: string) =>
    new SyntaxError(`Cannot read "${name}" as an insightface .bin: ${why}`);
  if (!Array.isArray(v) || v.length !== 2 || !Array.isArray(v[0]) || !Array.isArray(v[1])) {
    throw bad("expected a pickled (list of images, list of bools)");
  }
  const [imgs, same] = v as [PickleValue[], PickleValue[]];
  const bi = imgs.findIndex((x) => !(x instanceof Uint8Array));
  if (bi >= 0) throw bad(`image ${bi} is not bytes`);
  const si = same.findIndex((x) => typeof x !== "boolean");
  if (si >= 0) throw bad(`issame ${si} is not a bool`);
  if (imgs.length !== 2 * same.length) {
    throw bad(`${imgs.length} images for ${same.length} pairs (expected ${2 * same.length})`);
  }
  return { images: imgs as Uint8Array[], issame: same as boolean[] };
}

/**
 * Reads a `.bin` verification set from a file.
 * @example
 * ```ts
 * import { readBin } from "../mod.ts";
 *
 * const { images, issame } = await readBin("fixtures/eval/lfw_mini.bin");
 * console.log(images.length / 2 === issame.length);
 * ```
 */
export async function readBin(path: string): Promise<VerificationBin> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    throw new Error(`Cannot read "${path}": ${(e as Error).message}`);
  }
  return parseBin(bytes, path);
}
