/**
 * The pairs eval-lfw scores and the images they use: from a pairs file (+ image folder) or an
 * insightface `.bin` (identical images shared), optionally cut to a balanced `--limit-pairs`.
 */
import { lfwPath, readPairs } from "../../pipeline/formats/pairs_reader.ts";
import { readBin } from "../../pipeline/formats/insightface_bin.ts";
import type { PairSpec } from "../../model/eval/score_pairs.ts";
import type { EvalImage } from "../../model/eval/embed_images.ts";

export interface EvalPairs {
  pairs: PairSpec[];
  /** The pairs file's folds; null: 10 contiguous folds. */
  foldSizes: number[] | null;
  /** The images the pairs use, each once. */
  images: EvalImage[];
  /** Pairs in the input, before `--limit-pairs`. */
  totalPairs: number;
  /** Original index of each kept pair (rows 2i, 2i+1 of an --embeddings file); null: all kept. */
  pairIndex: number[] | null;
}

/** Reads `bin`, or `pairs` with images under `data`; keeps `limitPairs` balanced pairs if set. */
export async function loadEvalPairs(
  o: { bin?: string; pairs?: string; data?: string; limitPairs?: number },
): Promise<EvalPairs> {
  let pairs: PairSpec[];
  let foldSizes: number[] | null = null;
  let images: EvalImage[];
  if (o.bin) {
    const bin = await readBin(o.bin);
    // A .bin repeats an image once per pair that uses it (LFW: 12,000 entries, 7,701 faces):
    // identical JPEGs share one key, so each face is decoded and embedded once, as from a folder.
    const { keys, unique } = await dedupeImages(bin.images);
    pairs = bin.issame.map((issame, i) => ({ a: keys[2 * i], b: keys[2 * i + 1], issame }));
    images = unique.map((i) => ({ key: keys[i], bytes: bin.images[i] }));
  } else {
    const list = await readPairs(o.pairs!);
    pairs = list.pairs;
    foldSizes = list.foldSizes;
    images = list.images.map((key) => ({ key, path: o.data ? lfwPath(o.data, key) : undefined }));
  }
  const totalPairs = pairs.length;
  let pairIndex: number[] | null = null;
  if (o.limitPairs !== undefined && o.limitPairs < pairs.length) {
    const { limitPairs } = await import("../../model/eval/limit_pairs.ts");
    const lim = limitPairs(pairs.map((p) => p.issame), foldSizes, o.limitPairs, "--limit-pairs");
    pairIndex = lim.indices;
    pairs = lim.indices.map((i) => pairs[i]);
    foldSizes = lim.foldSizes;
    const used = new Set(pairs.flatMap((p) => [p.a, p.b]));
    images = images.filter((im) => used.has(im.key));
  }
  return { pairs, foldSizes, images, totalPairs, pairIndex };
}

/**
 * Keys for a .bin's images: `bin/<index>` of the first image with the same bytes (SHA-256), and
 * the indices of the first occurrences.
 */
async function dedupeImages(images: Uint8Array[]): Promise<{ keys: string[]; unique: number[] }> {
  const first = new Map<string, number>();
  const keys: string[] = [];
  const unique: number[] = [];
  for (let i = 0; i < images.length; i++) {
    const digest = new Uint8Array(
      await crypto.subtle.digest("SHA-256", images[i] as Uint8Array<ArrayBuffer>),
    );
    const h = Array.from(digest.subarray(0, 16), (b) => b.toString(16).padStart(2, "0")).join("");
    let at = first.get(h);
    if (at === undefined) first.set(h, at = i), unique.push(i);
    keys.push(`bin/${String(at).padStart(6, "0")}`);
  }
  return { keys, unique };
}
