/**
 * NumPy `.npy` files: little-endian float32 (`<f4`), C order, header versions 1.0, 2.0 and 3.0
 * (https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html). Other dtypes, Fortran
 * order or big-endian data get a clear error rather than a silent conversion.
 */
import { writeFileAtomic } from "../atomic_write.ts";

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // "\x93NUMPY"

/** A float32 array with its shape. */
export interface NpyArray {
  shape: number[];
  data: Float32Array;
}

/**
 * Parses `.npy` bytes; `name` is used in error messages.
 * @example
 * ```ts
 * import { parseNpy } from "../mod.ts";
 *
 * const { shape, data } = parseNpy(await Deno.readFile("fixtures/eval/tiny_embeddings.npy"));
 * console.log(shape, data.length);
 * ```
 */
export function parseNpy(bytes: Uint8Array, name = "<bytes>"): NpyArray {
  const fail = (why: string) => new SyntaxError(`Cannot read "${name}" as .npy: ${why}`);
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) {
    throw fail("missing the \\x93NUMPY magic");
  }
  const major = bytes[6];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerLen: number;
  let start: number;
  if (major === 1) {
    headerLen = view.getUint16(8, true);
    start = 10;
  } else if (major === 2 || major === 3) {
    if (bytes.length < 12) throw fail("truncated header");
    headerLen = view.getUint32(8, true);
    start = 12;
  } else {
    throw fail(`unsupported format version ${major}.${bytes[7]}`);
  }
  if (start + headerLen > bytes.length) throw fail("truncated header");
  const header = new TextDecoder(major === 3 ? "utf-8" : "latin1").decode(
    bytes.subarray(start, start + headerLen),
  );
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) {
    throw fail(`malformed header ${JSON.stringify(header.trim())}`);
  }
  if (descr !== "<f4") {
    throw fail(`dtype '${descr}' is not supported (only little-endian float32 '<f4')`);
  }
  if (fortran !== "False") throw fail("Fortran-order arrays are not supported (save C order)");
  const shape = shapeText.split(",").map((s) => s.trim()).filter((s) => s !== "").map(Number);
  if (shape.some((d) => !Number.isInteger(d) || d < 0)) throw fail(`bad shape (${shapeText})`);
  const count = shape.reduce((a, b) => a * b, 1);
  const offset = start + headerLen;
  if (bytes.length - offset !== count * 4) {
    throw fail(
      `data is ${bytes.length - offset} bytes, expected ${count * 4} for shape [${shape}]`,
    );
  }
  // Copy into an aligned buffer (the data offset need not be a multiple of 4 in the source).
  const data = new Float32Array(count);
  new Uint8Array(data.buffer).set(bytes.subarray(offset, offset + count * 4));
  return { shape, data };
}

/**
 * Reads a float32 `.npy` file.
 * @example
 * ```ts
 * import { readNpy } from "../mod.ts";
 *
 * const { shape, data } = await readNpy("fixtures/eval/tiny_embeddings.npy"); // float32 [N, D]
 * console.log(shape, data[0]);
 * ```
 */
export async function readNpy(path: string): Promise<NpyArray> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    throw new Error(`Cannot read "${path}": ${(e as Error).message}`);
  }
  return parseNpy(bytes, path);
}

/** Serializes a float32 array as a version 1.0 `.npy` (header padded to a multiple of 64). */
export function encodeNpy(array: NpyArray): Uint8Array {
  const { shape, data } = array;
  if (!shape.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new RangeError(`encodeNpy(): bad shape [${shape}]`);
  }
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== data.length) {
    throw new RangeError(
      `encodeNpy(): shape [${shape}] holds ${count} values, data has ${data.length}`,
    );
  }
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(", ")})`;
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': ${shapeText}, }`;
  const total = 10 + header.length + 1;
  header += " ".repeat((64 - (total % 64)) % 64) + "\n";
  if (header.length > 65535) throw new RangeError("encodeNpy(): header too long for version 1.0");
  const out = new Uint8Array(10 + header.length + data.length * 4);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(new TextEncoder().encode(header), 10);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), 10 + header.length);
  return out;
}

/**
 * Writes a float32 `.npy` file atomically.
 * @example
 * ```ts
 * import { writeNpy } from "../mod.ts";
 *
 * const data = new Float32Array([1, 0, 0, 1]);
 * await writeNpy(`${await Deno.makeTempDir()}/emb.npy`, { shape: [2, 2], data });
 * ```
 */
export async function writeNpy(path: string, array: NpyArray): Promise<void> {
  await writeFileAtomic(path, encodeNpy(array));
}
