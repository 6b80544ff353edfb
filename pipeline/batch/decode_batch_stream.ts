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
import { checkSeed, deriveSeed, Prng } from "../shuffle/prng.ts";
import { DecodePool } from "../decode/decode_pool.ts";
import { orderedTransformer } from "../decode/ordered_transformer.ts";
import { DecodeError } from "../decode/decode_image.ts";
import { recordOffset } from "../decode/decode_stream.ts";
import { networkInput, type NormalizeMode } from "../decode/network_input.ts";
import type { RecordBatch, WrapCursor } from "./wrap_batch_stream.ts";

export interface DecodeBatchOptions {
  /** Network input side S. Default: 112. */
  size?: number;
  /** Random horizontal flip, p = 0.5, drawn from (seed, step): reproducible on resume. Default: false. */
  flip?: boolean;
  /** Seed of the flips. Default: 0. */
  seed?: number;
  /** Pixel normalization of the model. Default: "arcface" ((x - 127.5) / 128). */
  normalize?: NormalizeMode;
  /** Unreadable image: "skip" (dropped, listed in `skipped`) or "fail" (error). Default: "skip". */
  onError?: "skip" | "fail";
  /** Batches decoded ahead of the one being read. Default: 2. */
  prefetch?: number;
  /** Decode workers (Deno Workers); 0 decodes in this thread. Default: 2. */
  workers?: number;
  /** Labels must be below this (the classifier's width), when given. Default: unchecked. */
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

export class DecodeBatchStream extends TransformStream<RecordBatch<AnyRecord>, ImageBatch> {
  /** Every record skipped so far, in the order its batch was emitted. */
  readonly skipped: SkippedRecord[];

  constructor(options: DecodeBatchOptions = {}) {
    const size = options.size ?? 112;
    const flip = options.flip ?? false;
    const seed = options.seed ?? 0;
    const onError = options.onError ?? "skip";
    const prefetch = options.prefetch ?? 2;
    checkSeed(seed);
    if (!Number.isInteger(size) || size < 1) {
      throw new RangeError(`size must be a positive integer, got ${size}`);
    }
    if (onError !== "skip" && onError !== "fail") {
      throw new RangeError(`onError must be "skip" or "fail", got "${onError}"`);
    }
    if (!Number.isInteger(prefetch) || prefetch < 0) {
      throw new RangeError(`prefetch must be a non-negative integer, got ${prefetch}`);
    }
    const pool = new DecodePool({ workers: options.workers ?? 2 });
    const px = size * size * 3;

    const one = async (r: AnyRecord, mirror: boolean): Promise<Float32Array> => {
      const img = r as ImageRecord;
      const o = { size, flip: mirror, normalize: options.normalize };
      if (img.pixels) return networkInput(img, o);
      if (r.path === undefined && r.bytes === undefined) {
        throw new TypeError(`Record "${r.key}" has neither path nor bytes nor pixels`);
      }
      return await pool.trainImage(r.bytes ?? r.path!, {
        ...o,
        name: r.key,
        recordOffset: r.bytes ? undefined : recordOffset(r),
      });
    };

    const prepare = async (batch: RecordBatch<AnyRecord>): Promise<ImageBatch> => {
      const rng = new Prng(deriveSeed(seed, batch.step, 0x666c6970));
      const flips = batch.records.map(() => flip && (rng.nextU32() & 1) === 1);
      const skipped: SkippedRecord[] = [];
      const images = await Promise.all(batch.records.map(async (r, i) => {
        checkLabel(r, options.numClasses);
        try {
          return await one(r, flips[i]);
        } catch (e) {
          if (onError === "fail" || !(e instanceof DecodeError)) throw e;
          skipped.push({ key: r.key, source: e.source, reason: e.message, step: batch.step });
          return null;
        }
      }));
      const kept = images.flatMap((img, i) => (img ? [i] : []));
      if (kept.length === 0) {
        throw new Error(
          `Every image of batch ${batch.step} failed to decode; first: ${skipped[0]?.reason}`,
        );
      }
      const data = new Float32Array(kept.length * px); // [b, S, S, 3]
      kept.forEach((i, k) => data.set(images[i]!, k * px));
      return {
        step: batch.step,
        epoch: batch.epoch,
        data,
        size,
        labels: Int32Array.from(kept, (i) => batch.records[i].label),
        keys: kept.map((i) => batch.records[i].key),
        sampleEpochs: kept.map((i) => batch.sampleEpochs[i]),
        cursor: batch.cursor,
        skipped,
      };
    };

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
