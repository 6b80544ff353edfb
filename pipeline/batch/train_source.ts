/**
 * Training data source: record list -> seeded per-epoch shuffle -> wraparound batch -> decode
 * (+resize) -> `Batch` tensors, with the next batches decoded while the current step runs.
 *
 * Usage (trainer):
 * ```ts
 * import { readImageFolder } from "../list/list_reader.ts";
 * import { TrainSource } from "./train_source.ts";
 * const { records, classes } = await readImageFolder("fixtures/lfw_faces/train");
 * const source = new TrainSource(records, { batchSize: 32, seed: 7, cursor: saved?.cursor });
 * try {
 *   for (let i = 0; i < steps; i++) {
 *     const batch = (await source.next())!; // images [B,112,112,3] f32 in [-1,1], labels [B] i32
 *     try { trainStep(batch.images, batch.labels); } finally { batch.images.dispose(); batch.labels.dispose(); }
 *     checkpoint.cursor = batch.cursor; // resume point AFTER this batch (save it with the weights)
 *   }
 * } finally { source.close(); } // stops prefetch, ends decode workers
 * ```
 * For a large insightface `.rec`, build the list with `readRecordIOLazy(rec)` (list_reader.ts):
 * records then hold only byte offsets and each JPEG is read when its batch is decoded.
 * Also `for await (const b of source)` and `source.readable()`. Tensors are created only when the
 * consumer pulls a batch; the consumer disposes them. A batch may be shorter than B only when
 * `onError: "skip"` dropped unreadable images (listed in `source.skipped`).
 */
import * as tf from "@tensorflow/tfjs";
import type { Batch, ListRecord } from "../records.ts";
import { checkSeed, deriveSeed, Prng } from "../shuffle/prng.ts";
import { WrapBatcher, type WrapCursor, type WrapIndices } from "./wrap_batch_stream.ts";
import { DecodePool } from "../decode/decode_pool.ts";
import { DecodeError } from "../decode/decode_image.ts";
import { Semaphore } from "../semaphore.ts";
import { recordOffset } from "../decode/decode_stream.ts";

export interface TrainSourceOptions {
  /** Samples per batch. Required. */
  batchSize: number;
  /** Seed of the per-epoch shuffle (order of epoch e = f(seed, e)) and of the flips. Default: 0. */
  seed?: number;
  /** Resume point, as saved from `batch.cursor`. Default: `{ epoch: 0, start: 0, step: 0 }`. */
  cursor?: WrapCursor;
  /** Output side; images of another size are resized (area/bilinear). Default: 112. */
  imageSize?: number;
  /** Random horizontal flip, p = 0.5, drawn from (seed, step): reproducible on resume. Default: false. */
  flip?: boolean;
  /** Unreadable image: "skip" (counted, listed in `skipped`) or "fail" (throw). Default: "skip". */
  onError?: "skip" | "fail";
  /** Batches decoded ahead of the consumer. Default: 2. */
  prefetch?: number;
  /** Stop after this many batches (from the cursor's step). Default: unbounded. */
  steps?: number;
  /** Decode workers (Deno Workers with their own sharp); 0 decodes in this thread. Default: 2. */
  workers?: number;
  /** Images being decoded at once, all batches together. Default: 8. */
  concurrency?: number;
}

/** A `Batch` plus the cursor to resume from after it. */
export interface TrainBatch extends Batch {
  /** Resume point after this batch: pass it as `cursor` to continue with the next batch. */
  cursor: WrapCursor;
  /** Epoch of each sample (a batch that wraps holds two epochs). */
  sampleEpochs: number[];
}

export interface SkippedRecord {
  key: string;
  source: string;
  reason: string;
  step: number;
}

interface Prepared {
  plan: WrapIndices;
  data: Float32Array;
  labels: Int32Array;
  keys: string[];
  sampleEpochs: number[];
  skipped: SkippedRecord[];
}

export class TrainSource implements AsyncIterable<TrainBatch> {
  readonly records: readonly ListRecord[];
  readonly imageSize: number;
  /** Records dropped by `onError: "skip"` from the batches handed out so far (a bad file counts
   * once per epoch it is met in); prefetched batches count once the consumer takes them. */
  readonly skipped: SkippedRecord[] = [];
  #opts: Required<Omit<TrainSourceOptions, "cursor" | "steps">> & { steps: number };
  #batcher: WrapBatcher;
  #queue: Promise<Prepared>[] = [];
  #cursor: WrapCursor;
  #stopStep: number;
  #pool: DecodePool;
  #sem: Semaphore;
  #closed = false;

  constructor(records: ListRecord[], options: TrainSourceOptions) {
    const o = {
      seed: 0,
      imageSize: 112,
      flip: false,
      onError: "skip" as const,
      prefetch: 2,
      workers: 2,
      concurrency: 8,
      steps: Infinity,
      ...options,
    };
    checkSeed(o.seed);
    if (!Number.isInteger(o.imageSize) || o.imageSize < 1) {
      throw new RangeError(`imageSize must be a positive integer, got ${o.imageSize}`);
    }
    if (o.onError !== "skip" && o.onError !== "fail") {
      throw new RangeError(`onError must be "skip" or "fail", got "${o.onError}"`);
    }
    if (!Number.isInteger(o.prefetch) || o.prefetch < 0) {
      throw new RangeError(`prefetch must be a non-negative integer, got ${o.prefetch}`);
    }
    if (!(o.steps === Infinity || (Number.isInteger(o.steps) && o.steps >= 0))) {
      throw new RangeError(`steps must be a non-negative integer, got ${o.steps}`);
    }
    if (!Number.isInteger(o.concurrency) || o.concurrency < 1) {
      throw new RangeError(`concurrency must be a positive integer, got ${o.concurrency}`);
    }
    records.forEach((r, i) => {
      if (!Number.isInteger(r.label) || r.label < 0) {
        throw new RangeError(`Record ${i} ("${r.key}") has no valid training label: ${r.label}`);
      }
      if (r.path === undefined && r.bytes === undefined) {
        throw new TypeError(`Record ${i} ("${r.key}") has neither path nor bytes`);
      }
    });
    this.records = records;
    this.imageSize = o.imageSize;
    this.#opts = o;
    this.#batcher = new WrapBatcher(records.length, {
      batchSize: o.batchSize,
      seed: o.seed,
      cursor: options.cursor,
    });
    this.#cursor = this.#batcher.cursor;
    this.#stopStep = this.#cursor.step + o.steps;
    this.#pool = new DecodePool({ workers: o.workers });
    this.#sem = new Semaphore(o.concurrency);
  }

  /** Resume point after the last batch returned by `next()`. */
  get cursor(): WrapCursor {
    return { ...this.#cursor };
  }

  #topUp(): void {
    // Keep the batch being taken plus `prefetch` more in preparation.
    while (
      !this.#closed && this.#queue.length < this.#opts.prefetch + 1 &&
      this.#batcher.cursor.step < this.#stopStep
    ) {
      const p = this.#prepare(this.#batcher.next());
      p.catch(() => {}); // surfaced when the consumer reaches this batch
      this.#queue.push(p);
    }
  }

  async #prepare(plan: WrapIndices): Promise<Prepared> {
    const s = this.imageSize;
    const px = s * s * 3;
    const flipRng = new Prng(deriveSeed(this.#opts.seed, plan.step, 0x666c6970));
    const flips = plan.indices.map(() => this.#opts.flip && (flipRng.nextU32() & 1) === 1);
    const skipped: SkippedRecord[] = [];
    const images = await Promise.all(plan.indices.map(async (idx, i) => {
      const r = this.records[idx];
      await this.#sem.acquire();
      try {
        const input = r.bytes ?? r.path!;
        // Decoded, resized, flipped and normalized in a worker: [s, s, 3] float32 in [-1, 1].
        return await this.#pool.trainImage(input, {
          size: s,
          flip: flips[i],
          name: r.key,
          recordOffset: r.bytes ? undefined : recordOffset(r),
        });
      } catch (e) {
        if (this.#opts.onError === "fail" || !(e instanceof DecodeError)) throw e;
        skipped.push({ key: r.key, source: e.source, reason: e.message, step: plan.step });
        return null;
      } finally {
        this.#sem.release();
      }
    }));
    const kept = images.flatMap((img, i) => (img ? [i] : []));
    if (kept.length === 0) {
      throw new Error(`Every image of batch ${plan.step} failed to decode (see skipped list)`);
    }
    // [b, s, s, 3] float32 in [-1, 1]: (x - 127.5) / 128, the same as evaluation.
    const data = new Float32Array(kept.length * px);
    kept.forEach((i, b) => data.set(images[i]!, b * px));
    return {
      plan,
      data,
      labels: Int32Array.from(kept, (i) => this.records[plan.indices[i]].label),
      keys: kept.map((i) => this.records[plan.indices[i]].key),
      sampleEpochs: kept.map((i) => plan.sampleEpochs[i]),
      skipped,
    };
  }

  /** The next batch, or null after `steps` batches. The caller disposes `images` and `labels`. */
  async next(): Promise<TrainBatch | null> {
    if (this.#closed) throw new Error("TrainSource is closed");
    this.#topUp();
    const head = this.#queue.shift();
    if (!head) return null;
    this.#topUp();
    const p = await head;
    this.#cursor = p.plan.cursor;
    this.skipped.push(...p.skipped);
    const s = this.imageSize;
    return {
      images: tf.tensor4d(p.data, [p.keys.length, s, s, 3], "float32"),
      labels: tf.tensor1d(p.labels, "int32"),
      epoch: p.plan.epoch,
      step: p.plan.step,
      keys: p.keys,
      cursor: { ...p.plan.cursor },
      sampleEpochs: p.sampleEpochs,
    };
  }

  async *[Symbol.asyncIterator](): AsyncIterator<TrainBatch> {
    for (;;) {
      const b = await this.next();
      if (!b) return;
      yield b;
    }
  }

  /** The same batches as a ReadableStream (pull-driven: no tensor exists before a read). */
  readable(): ReadableStream<TrainBatch> {
    return new ReadableStream<TrainBatch>({
      pull: async (c) => {
        const b = await this.next();
        if (b) c.enqueue(b);
        else c.close();
      },
      cancel: () => this.close(),
    }, { highWaterMark: 0 });
  }

  /** Stops prefetching and terminates decode workers. */
  close(): void {
    this.#closed = true;
    this.#queue = [];
    this.#pool.close();
  }
}
