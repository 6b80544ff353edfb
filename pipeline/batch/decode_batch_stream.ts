/**
 * Stage 3 on batches: a batch of records (paths, encoded bytes, or decoded pixels) becomes the
 * batch's network inputs, float32 [b, S, S, 3], made by `networkInput()` (the one rule shared with
 * evaluation): files and bytes are decoded, resized, flipped and normalized in Deno workers; records
 * that already carry pixels (a decoded or aligned tar on stdin) only go through `networkInput()`.
 *
 * Prefetch: up to `prefetch` batches after the one being read are decoded while the reader (the
 * trainer) works; output order is input order. Flips are drawn from (seed, step), so a resumed run
 * flips the same images. An unreadable image is dropped from its batch and listed (`onError:
 * "skip"`), or errors the stream naming the file (`"fail"`).
 */
import type { ImageRecord, ListRecord } from "../records.ts";
import { checkSeed, deriveSeed, Prng, SEED_SALT } from "../shuffle/prng.ts";
import { DecodePool, DEFAULT_DECODE_WORKERS } from "../decode/decode_pool.ts";
import { ARCFACE_SIZE } from "../align/similarity.ts";
import { BatchBuffers } from "./batch_buffers.ts";
import { orderedTransformer } from "../decode/ordered_transformer.ts";
import { checkDctScale, type DctScale, DecodeError } from "../decode/decode_image.ts";
import { recordOffset } from "../decode/decode_stream.ts";
import { networkInput, type NormalizeMode } from "../decode/network_input.ts";
import {
  type AugmentOptions,
  batchAugments,
  checkAugment,
  type ImageAugment,
} from "../decode/augment.ts";
import type { RecordBatch, WrapCursor } from "./wrap_batch_stream.ts";

export interface DecodeBatchOptions {
  /**
   * Network input side S.
   * @default 112
   */
  size?: number;
  /**
   * Random horizontal flip, p = 0.5, drawn from (seed, step): reproducible on resume.
   * @default false
   */
  flip?: boolean;
  /**
   * Random crop and tone (../decode/augment.ts), drawn from (seed, step) like the flips.
   * @default none
   */
  augment?: AugmentOptions;
  /**
   * Seed of the flips and augmentation.
   * @default 0
   */
  seed?: number;
  /**
   * Pixel normalization of the model.
   * @default "arcface" ((x - 127.5) / 128)
   */
  normalize?: NormalizeMode;
  /**
   * JPEGs: decode at the DCT scale covering S first ("auto") or whole ("off"); `decodeImage`.
   * @default "auto"
   */
  dctScale?: DctScale;
  /**
   * Unreadable image: "skip" (dropped, listed in `skipped`) or "fail" (error).
   * @default "skip"
   */
  onError?: "skip" | "fail";
  /**
   * Batches decoded ahead of the one being read.
   * @default 2
   */
  prefetch?: number;
  /**
   * Decode workers (Deno Workers); 0 decodes in this thread.
   * @default 2
   */
  workers?: number;
  /**
   * Labels must be below this (the classifier's width), when given.
   * @default unchecked
   */
  numClasses?: number;
}

/** A record dropped because its image could not be read or decoded. */
export interface SkippedRecord {
  key: string;
  source: string;
  reason: string;
  step: number;
}

/** A batch of network inputs, before it becomes tensors. */
export interface ImageBatch {
  step: number;
  epoch: number;
  /** [b, S, S, 3] float32, row-major. */
  data: Float32Array;
  /** S. */
  size: number;
  /** [b] class labels. */
  labels: Int32Array;
  keys: string[];
  sampleEpochs: number[];
  /** Resume point after this batch. */
  cursor: WrapCursor;
  /** Records of this batch dropped by `onError: "skip"`. */
  skipped: SkippedRecord[];
  /**
   * Hands `data` back for reuse by a later batch. Call it once nothing reads `data` any more (or
   * never: the buffer is then garbage-collected and the stream allocates a new one).
   */
  release?: () => void;
}

type AnyRecord = ListRecord | ImageRecord;

function checkLabel(r: AnyRecord, numClasses?: number): void {
  if (!Number.isInteger(r.label) || r.label < 0) {
    throw new RangeError(`Record "${r.key}" has no valid training label: ${r.label}`);
  }
  if (numClasses !== undefined && r.label >= numClasses) {
    throw new RangeError(
      `Record "${r.key}" has label ${r.label}, but there are ${numClasses} classes (--num-classes)`,
    );
  }
}

type Resolved =
  & Required<Pick<DecodeBatchOptions, "size" | "flip" | "seed" | "onError">>
  & DecodeBatchOptions;

/** One record's network input, written at `offset` of `out`. */
async function writeInput(
  r: AnyRecord,
  at: { out: Float32Array; offset: number; mirror: boolean; augment: ImageAugment },
  o: Resolved,
  pool: DecodePool,
): Promise<void> {
  const img = r as ImageRecord;
  const opts = {
    size: o.size,
    flip: at.mirror,
    augment: at.augment,
    normalize: o.normalize,
    out: at.out,
    offset: at.offset,
  };
  if (img.pixels) {
    networkInput(img, opts);
    return;
  }
  if (r.path === undefined && r.bytes === undefined) {
    throw new TypeError(`Record "${r.key}" has neither path nor bytes nor pixels`);
  }
  await pool.trainImage(r.bytes ?? r.path!, {
    ...opts,
    dctScale: o.dctScale,
    name: r.key,
    recordOffset: r.bytes ? undefined : recordOffset(r),
  });
}

/**
 * Which images of batch `step` (of `n` records) are mirrored: p = 0.5 each, drawn from (seed,
 * step), so a resumed run (and `deno task train-order`'s export) flips the same ones.
 */
export function batchFlips(seed: number, step: number, n: number, flip = true): boolean[] {
  const rng = new Prng(deriveSeed(seed, step, SEED_SALT.flip));
  return Array.from({ length: n }, () => flip && (rng.nextU32() & 1) === 1);
}

/** Decodes one batch into a buffer from `buffers`; unreadable images are dropped (or thrown). */
async function prepareBatch(
  batch: RecordBatch<AnyRecord>,
  o: Resolved,
  pool: DecodePool,
  buffers: BatchBuffers,
): Promise<ImageBatch> {
  const px = o.size * o.size * 3;
  const flips = batchFlips(o.seed, batch.step, batch.records.length, o.flip);
  const augments = batchAugments(o.seed, batch.step, batch.records.length, o.augment);
  const skipped: SkippedRecord[] = [];
  const data = buffers.take(batch.records.length * px); // [B, S, S, 3], slot i = record i
  const ok = await Promise.all(batch.records.map(async (r, i) => {
    checkLabel(r, o.numClasses);
    try {
      await writeInput(
        r,
        {
          out: data,
          offset: i * px,
          mirror: flips[i],
          augment: augments[i],
        },
        o,
        pool,
      );
      return true;
    } catch (e) {
      if (o.onError === "fail" || !(e instanceof DecodeError)) throw e;
      skipped.push({ key: r.key, source: e.source, reason: e.message, step: batch.step });
      return false;
    }
  })); // on a throw the stream errors; the buffer (maybe still being written) is dropped
  const kept = ok.flatMap((y, i) => (y ? [i] : []));
  if (kept.length === 0) {
    buffers.give(data);
    throw new Error(
      `Every image of batch ${batch.step} failed to decode; first: ${skipped[0]?.reason}`,
    );
  }
  // Close the holes left by skipped images (rare): slot k takes record kept[k].
  kept.forEach((i, k) => {
    if (i !== k) data.copyWithin(k * px, i * px, (i + 1) * px);
  });
  return {
    step: batch.step,
    epoch: batch.epoch,
    data: data.subarray(0, kept.length * px),
    size: o.size,
    labels: Int32Array.from(kept, (i) => batch.records[i].label),
    keys: kept.map((i) => batch.records[i].key),
    sampleEpochs: kept.map((i) => batch.sampleEpochs[i]),
    cursor: batch.cursor,
    skipped,
    release: () => buffers.give(data),
  };
}

/**
 * Batches of records -> batches of network inputs (decoded in workers, in order, prefetched).
 * @example
 * ```ts
 * import { DecodeBatchStream, readImageFolder, wrapBatches } from "../mod.ts";
 *
 * const { records } = await readImageFolder("fixtures/pipeline/images");
 * const batches = ReadableStream.from(wrapBatches(records, { batchSize: 4, seed: 7, steps: 2 }));
 * const decode = new DecodeBatchStream({ size: 112, flip: true, seed: 7, workers: 2 });
 * for await (const b of batches.pipeThrough(decode)) {
 *   console.log(b.step, b.keys.length, b.data.length); // [b, 112, 112, 3] float32
 *   b.release?.(); // done with b.data: its buffer may serve a later batch
 * }
 * console.log(decode.skipped); // unreadable images: [{ key, source, reason, step }]
 * ```
 */
export class DecodeBatchStream extends TransformStream<RecordBatch<AnyRecord>, ImageBatch> {
  /** Every record skipped so far, in the order its batch was emitted. */
  readonly skipped: SkippedRecord[];

  constructor(options: DecodeBatchOptions = {}) {
    const size = options.size ?? ARCFACE_SIZE;
    const flip = options.flip ?? false;
    const seed = options.seed ?? 0;
    const onError = options.onError ?? "skip";
    const prefetch = options.prefetch ?? 2;
    checkSeed(seed);
    checkDctScale(options.dctScale);
    checkAugment(options.augment);
    if (!Number.isInteger(size) || size < 1) {
      throw new RangeError(`size must be a positive integer, got ${size}`);
    }
    if (onError !== "skip" && onError !== "fail") {
      throw new RangeError(`onError must be "skip" or "fail", got "${onError}"`);
    }
    if (!Number.isInteger(prefetch) || prefetch < 0) {
      throw new RangeError(`prefetch must be a non-negative integer, got ${prefetch}`);
    }
    const workers = options.workers ?? DEFAULT_DECODE_WORKERS;
    const pool = new DecodePool({ workers });
    // Workers write straight into shared batch buffers, reused once the consumer releases them.
    const buffers = new BatchBuffers({ shared: workers > 0, keep: prefetch + 1 });
    const prepare = (batch: RecordBatch<AnyRecord>) =>
      prepareBatch(batch, { ...options, size, flip, seed, onError }, pool, buffers);

    const skippedAll: SkippedRecord[] = [];
    super(orderedTransformer<RecordBatch<AnyRecord>, Promise<ImageBatch>, ImageBatch>({
      // The reader waits for the oldest batch only once `prefetch` more are under way.
      ahead: prefetch,
      start(batch) {
        const p = prepare(batch);
        p.catch(() => {}); // surfaced in order by settle()
        return p;
      },
      async settle(p, c) {
        const b = await p;
        skippedAll.push(...b.skipped);
        c.enqueue(b);
      },
      close: () => pool.close(),
    }));
    this.skipped = skippedAll;
  }
}
