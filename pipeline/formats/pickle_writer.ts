/**
 * Writes an insightface verification `.bin` in the layout Python 2's
 * `cPickle.dump((bins, issame_list), f, protocol=2)` produces (how insightface's own lfw.bin,
 * cfp_fp.bin and agedb_30.bin were made): images as `str` (SHORT_BINSTRING / BINSTRING), each
 * memoized with BINPUT (LONG_BINPUT from memo index 256), lists filled by MARK ... APPENDS in
 * batches of 1000 (a batch of one uses APPEND), the pair of lists closed by TUPLE2.
 */
import { writeFileAtomic } from "../atomic_write.ts";
import type { VerificationBin } from "./insightface_bin.ts";

const BATCH = 1000;

/**
 * Serializes a verification set as pickle protocol 2 bytes.
 * @example
 * ```ts
 * import { encodeBin, parseBin, readBin } from "../mod.ts";
 *
 * const bin = await readBin("fixtures/eval/lfw_mini.bin");
 * console.log(parseBin(encodeBin(bin)).issame.length === bin.issame.length);
 * ```
 */
export function encodeBin(bin: VerificationBin): Uint8Array {
  const { images, issame } = bin;
  if (images.length !== 2 * issame.length) {
    throw new RangeError(`encodeBin(): ${images.length} images for ${issame.length} pairs`);
  }
  // Upper bound: <= 10 bytes of opcodes per image, 1 per bool, 2 per batch, 32 for the rest.
  const batches = Math.ceil(images.length / BATCH) + Math.ceil(issame.length / BATCH);
  const size = 32 + images.reduce((s, b) => s + b.length + 10, 0) + issame.length + 2 * batches;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  let p = 0;
  let memo = 0;
  const op = (...b: number[]) => {
    out.set(b, p);
    p += b.length;
  };
  const put = () => {
    if (memo < 256) op(0x71, memo); // BINPUT
    else {
      op(0x72); // LONG_BINPUT
      view.setUint32(p, memo, true);
      p += 4;
    }
    memo++;
  };
  const list = <T>(items: T[], save: (x: T) => void) => {
    op(0x5d); // EMPTY_LIST
    put();
    for (let i = 0; i < items.length; i += BATCH) {
      const batch = items.slice(i, i + BATCH);
      if (batch.length === 1) {
        save(batch[0]);
        op(0x61); // APPEND
      } else {
        op(0x28); // MARK
        batch.forEach(save);
        op(0x65); // APPENDS
      }
    }
  };
  op(0x80, 2); // PROTO 2
  list(images, (b) => {
    if (b.length < 256) op(0x55, b.length); // SHORT_BINSTRING
    else {
      op(0x54); // BINSTRING
      view.setInt32(p, b.length, true);
      p += 4;
    }
    out.set(b, p);
    p += b.length;
    put();
  });
  list(issame, (s) => op(s ? 0x88 : 0x89)); // NEWTRUE / NEWFALSE
  op(0x86); // TUPLE2
  put();
  op(0x2e); // STOP
  return out.slice(0, p);
}

/**
 * Writes a `.bin` verification set atomically.
 * @example
 * ```ts
 * import { readBin, writeBin } from "../mod.ts";
 *
 * const bin = await readBin("fixtures/eval/lfw_mini.bin");
 * await writeBin(`${await Deno.makeTempDir()}/first_pair.bin`, {
 *   images: bin.images.slice(0, 2),
 *   issame: bin.issame.slice(0, 1),
 * });
 * ```
 */
export async function writeBin(path: string, bin: VerificationBin): Promise<void> {
  await writeFileAtomic(path, encodeBin(bin));
}
