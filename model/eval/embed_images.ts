/**
 * The evaluation's image side: every unique image of the pair list, once, through
 * decode -> MTCNN align (unless already aligned) -> embed (flip test), recording by name each image
 * that is missing, undecodable or faceless and what the policy did with it.
 */
import type { ListRecord } from "../../pipeline/records.ts";
import { DecodeStream } from "../../pipeline/decode/decode_stream.ts";
import { AlignStream, type NoFacePolicy } from "../../pipeline/align/align_stream.ts";
import { type Embedder, EmbedStream } from "./embed_stream.ts";
import type { EmbeddingCache } from "./embedding_cache.ts";

/** One image to embed: a file or encoded bytes (from a .bin). */
export interface EvalImage {
  key: string;
  path?: string;
  bytes?: Uint8Array;
}

/** The images as list records (label -1), the decoder's input. */
export function evalImageRecords(images: EvalImage[]): ReadableStream<ListRecord> {
  return ReadableStream.from(
    images.map((img): ListRecord => ({
      key: img.key,
      label: -1,
      path: img.path,
      bytes: img.bytes,
    })),
  );
}

/** Options of `embedAll`. */
export interface EmbedAllOptions {
  /** Images are aligned faces already: skip MTCNN. Default: false. */
  aligned?: boolean;
  /**
   * Aligned JPEGs: "auto" decodes at the DCT scale covering the input side (as training does),
   * "off" whole; both then area-resize. MTCNN (not aligned) always gets the whole image.
   * Default: "auto".
   */
  dctScale?: "auto" | "off";
  /** Missing/undecodable image or no face: "skip" its pairs, "center-crop" (no face only), or
   * "fail". Default: "skip". */
  onMissing?: NoFacePolicy;
  /** Images per forward pass. Default: 32. */
  batchSize?: number;
  /** Decodes in flight ahead of the aligner. Default: 8. */
  prefetch?: number;
  /** Embeddings computed earlier (reused) and where new ones are appended. Default: none. */
  cache?: EmbeddingCache;
  /** Called after each embedded batch with (images done, total). */
  progress?: (done: number, total: number) => void;
}

/** What `embedAll` produced and what it could not. */
export interface EmbedAllResult {
  embeddings: Map<string, Float32Array>;
  /** Images that could not be read or decoded, with the reason. */
  missing: { key: string; reason: string }[];
  /** Images in which MTCNN found no face and that were skipped. */
  noFace: string[];
  /** Images in which MTCNN found no face, embedded from a centre crop. */
  centerCropped: string[];
  /** Images whose embedding came from the cache. */
  fromCache: number;
  seconds: number;
}

/** Embeds `images` (each once) with `embedder`. */
export async function embedAll(
  images: EvalImage[],
  embedder: Embedder,
  options: EmbedAllOptions = {},
): Promise<EmbedAllResult> {
  const onMissing = options.onMissing ?? "skip";
  const cache = options.cache;
  const embeddings = new Map<string, Float32Array>();
  const todo = images.filter((im) => {
    const hit = cache?.done.get(im.key);
    if (hit) embeddings.set(im.key, hit);
    return !hit;
  });
  const fromCache = embeddings.size;
  images = todo;
  const prefetch = options.prefetch ?? 8;
  const t0 = performance.now();
  // Decode in file order with `prefetch` decodes in flight; unreadable images are listed in
  // decode.report.skipped (the "skip" policy) or fail the run with the file's name ("fail").
  const decode = new DecodeStream({
    concurrency: prefetch,
    // Aligned faces go straight to the network: decoded as training decodes (networkInput's rule).
    // MTCNN needs the full image.
    reduceTo: options.aligned ? embedder.inputSize : undefined,
    dctScale: options.dctScale,
    onError: onMissing === "fail" ? "fail" : "skip",
  });
  const source = evalImageRecords(images).pipeThrough(decode);
  const align = options.aligned ? null : new AlignStream({ onNoFace: onMissing });
  const faces = align ? source.pipeThrough(align) : source;
  for await (
    const { key, embedding } of faces.pipeThrough(
      new EmbedStream(embedder, { batchSize: options.batchSize }),
    )
  ) {
    embeddings.set(key, embedding);
    cache?.add(key, embedding);
    if ((embeddings.size - fromCache) % (options.batchSize ?? 32) === 0) {
      await cache?.flush();
      options.progress?.(embeddings.size - fromCache, images.length);
    }
  }
  await cache?.flush();
  options.progress?.(embeddings.size - fromCache, images.length);
  return {
    embeddings,
    missing: decode.report.skipped.map(({ key, reason }) => ({ key, reason })),
    noFace: align ? [...align.report.skipped] : [],
    centerCropped: align ? [...align.report.centerCropped] : [],
    fromCache,
    seconds: (performance.now() - t0) / 1000,
  };
}
