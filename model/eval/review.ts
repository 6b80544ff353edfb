/**
 * What `deno task serve`'s report page needs beside report.json: every pair with its cosine and
 * fold (`review.json`), and the aligned faces of the worst false accepts and false rejects at the
 * threshold on all pairs (`faces/NNNN.png`, 112x112), made again by the same decode -> MTCNN
 * align stages eval used (no face: the centre crop, so a picture always shows what went wrong).
 */
import { join } from "node:path";
import type { RgbImage } from "../../pipeline/records.ts";
import { DecodeStream } from "../../pipeline/decode/decode_stream.ts";
import { resizeRgb } from "../../pipeline/decode/resize.ts";
import { AlignStream } from "../../pipeline/align/align_stream.ts";
import { writeFileAtomic } from "../../pipeline/atomic_write.ts";
import { kfoldSizes } from "./np_compat.ts";
import type { PairSpec, ScoredPairs } from "./score_pairs.ts";
import { type EvalImage, evalImageRecords } from "./embed_images.ts";

/** One pair of `review.json`. */
export interface ReviewPair {
  a: string;
  b: string;
  same: boolean;
  /** Cosine of the two unit embeddings, null for a skipped pair. */
  cosine: number | null;
  fold: number;
}

/** `review.json`. */
export interface Review {
  /** Threshold on all pairs: squared L2 of unit embeddings, and the cosine it means (1 - d / 2). */
  threshold: { distance: number; cosine: number };
  foldAccuracy: number[];
  pairs: ReviewPair[];
  /** Pair indices: different people accepted, highest cosine first. */
  falseAccepts: number[];
  /** Pair indices: same person rejected, lowest cosine first. */
  falseRejects: number[];
  /** Image key -> its aligned face under the folder (only the worst pairs' images). */
  faces: Record<string, string>;
}

const FACE = 112;

/** Cosines, folds and the error lists of the scored pairs. */
export function reviewPairs(
  pairs: PairSpec[],
  embeddings: Map<string, Float32Array>,
  foldSizes: number[] | null,
  scored: ScoredPairs,
): Omit<Review, "faces"> {
  const sizes = foldSizes ?? kfoldSizes(pairs.length, Math.min(10, pairs.length));
  const t = scored.result.bestThreshold;
  let fold = 0, foldEnd = sizes[0];
  const out: ReviewPair[] = pairs.map((p, i) => {
    while (i >= foldEnd) foldEnd += sizes[++fold];
    const ea = embeddings.get(p.a), eb = embeddings.get(p.b);
    let cosine: number | null = null;
    if (ea && eb) {
      cosine = 0;
      for (let k = 0; k < ea.length; k++) cosine += ea[k] * eb[k];
    }
    return { a: p.a, b: p.b, same: p.issame, cosine, fold };
  });
  // verification.py's rule: same when the squared distance 2 - 2 cos is below the threshold.
  const accepted = (c: number) => 2 - 2 * c < t;
  const idx = out.map((_, i) => i).filter((i) => out[i].cosine !== null);
  const cos = (i: number) => out[i].cosine!;
  return {
    threshold: { distance: t, cosine: 1 - t / 2 },
    foldAccuracy: scored.result.foldAccuracy,
    pairs: out,
    falseAccepts: idx.filter((i) => !out[i].same && accepted(cos(i))).sort((x, y) =>
      cos(y) - cos(x)
    ),
    falseRejects: idx.filter((i) => out[i].same && !accepted(cos(i))).sort((x, y) =>
      cos(x) - cos(y)
    ),
  };
}

/** Aligned 112x112 faces of `images` (decode -> MTCNN align, or as given when `aligned`). */
async function alignedFaces(images: EvalImage[], aligned: boolean): Promise<Map<string, RgbImage>> {
  const source = evalImageRecords(images).pipeThrough(new DecodeStream({ onError: "skip" }));
  const faces = aligned ? source : source.pipeThrough(new AlignStream({ onNoFace: "center-crop" }));
  const out = new Map<string, RgbImage>();
  for await (const f of faces) {
    const pixels = f.width === FACE && f.height === FACE
      ? f.pixels
      : resizeRgb(f.pixels, f.height, f.width, FACE, FACE);
    out.set(f.key, { pixels, width: FACE, height: FACE });
  }
  return out;
}

/**
 * Writes `dir/review.json` and `dir/faces/*.png` for the `maxPerKind` worst false accepts and
 * false rejects. `images`: the evaluated images (none for an --embeddings file: no faces then).
 */
export async function writeReview(
  dir: string,
  review: Omit<Review, "faces">,
  images: EvalImage[],
  options: { aligned: boolean; maxPerKind?: number },
): Promise<string> {
  const n = options.maxPerKind ?? 60;
  const worst = [...review.falseAccepts.slice(0, n), ...review.falseRejects.slice(0, n)];
  const keys = new Set(worst.flatMap((i) => [review.pairs[i].a, review.pairs[i].b]));
  const todo = images.filter((im) => keys.has(im.key));
  const faces: Record<string, string> = {};
  if (todo.length) {
    const sharp = (await import("sharp")).default;
    let k = 0;
    for (const [key, face] of await alignedFaces(todo, options.aligned)) {
      const name = `faces/${String(k++).padStart(4, "0")}.png`;
      const png = await sharp(face.pixels, { raw: { width: FACE, height: FACE, channels: 3 } })
        .png().toBuffer();
      await writeFileAtomic(join(dir, name), new Uint8Array(png), { mkdir: true });
      faces[key] = name;
    }
  }
  const path = join(dir, "review.json");
  await writeFileAtomic(path, JSON.stringify({ ...review, faces }) + "\n");
  return path;
}
