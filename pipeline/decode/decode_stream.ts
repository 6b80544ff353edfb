/**
 * Stage 3, JPEG/PNG decoder: `ListRecord` (path or bytes) -> `ImageRecord` (RGB HxWx3 uint8),
 * optionally resized, with bounded concurrency and output in input order.
 * Errors: `onError: "fail"` rejects the stream with a `DecodeError` naming the file;
 * `onError: "skip"` (default) drops the record, counts it and lists it in `report` (never silent).
 */
import type { ImageRecord, ListRecord } from "../records.ts";
import {
  checkDctScale,
  type DctScale,
  type DecodedImage,
  DecodeError,
  resizeSize,
  type ResizeSpec,
} from "./decode_image.ts";
import { DecodePool } from "./decode_pool.ts";
import { orderedTransformer } from "./ordered_transformer.ts";

export interface DecodeOptions {
  /**
   * Resize every image to this size.
   * @default {undefined} (keep the size)
   */
  resize?: ResizeSpec;
  /**
   * Decode for a network input of this side: the DCT-scale reduction of `decodeImage`'s
   * `reduceTo`, as training batches decode (`networkInput` does the rest). Ignored with `resize`.
   * @default {undefined} (full size)
   */
  reduceTo?: number;
  /**
   * "auto": with `resize` or `reduceTo`, decode a JPEG at the DCT scale covering the target first
   * (OpenCV's `IMREAD_REDUCED_COLOR_k` + `INTER_AREA`); "off": decode whole, then resize
   * (`imread` + `INTER_AREA`).
   * @default {"auto"}
   */
  dctScale?: DctScale;
  /**
   * Images in flight at once.
   * @default {8}
   */
  concurrency?: number;
  /**
   * "skip" (count + list) or "fail" (error naming the file).
   * @default {"skip"}
   */
  onError?: "skip" | "fail";
  /**
   * Decode workers (Deno Workers, each with sharp); 0 decodes in this thread.
   * @default {DEFAULT_DECODE_WORKERS} (2)
   */
  workers?: number;
  /**
   * Records that already carry pixels (a decoded tar on stdin) pass through unchanged.
   * @default {false} (every record is decoded from its path or bytes)
   */
  passDecoded?: boolean;
  /**
   * Called once per skipped record, as it happens.
   * @default none
   */
  onSkip?: (s: SkippedImage) => void;
}

export interface SkippedImage {
  key: string;
  source: string;
  reason: string;
}

/** What a DecodeStream did; complete once the stream has flushed. */
export interface DecodeReport {
  decoded: number;
  skipped: SkippedImage[];
}

/** The RecordIO byte offset of a lazy `.rec` record (`RecordIORecord`), else undefined. */
export function recordOffset(r: ListRecord): number | undefined {
  const o = (r as { offset?: unknown }).offset;
  return typeof o === "number" && Number.isSafeInteger(o) && o >= 0 ? o : undefined;
}

/**
 * Decodes (and optionally resizes) each record's image, in input order, `concurrency` at a time
 * over `workers` Deno Workers. Call nothing at the end: the pool closes when the stream does.
 * @example
 * ```ts
 * import { DecodeStream, ListReaderStream } from "../mod.ts";
 *
 * const records = new ListReaderStream({ root: "fixtures/pipeline/images" });
 * const decode = new DecodeStream({ resize: 112, onError: "skip" });
 * for await (const img of records.pipeThrough(decode)) console.log(img.key, img.width);
 * console.log(decode.report.skipped); // [{ key, source, reason }]
 * ```
 */
export class DecodeStream extends TransformStream<ListRecord, ImageRecord> {
  readonly report: DecodeReport;

  constructor(options: DecodeOptions = {}) {
    const concurrency = options.concurrency ?? 8;
    const onError = options.onError ?? "skip";
    const resize = options.resize;
    resizeSize(resize);
    checkDctScale(options.dctScale);
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      throw new RangeError(`concurrency must be a positive integer, got ${concurrency}`);
    }
    if (onError !== "skip" && onError !== "fail") {
      throw new RangeError(`onError must be "skip" or "fail", got "${onError}"`);
    }
    const pool = new DecodePool({ workers: options.workers });
    const report: DecodeReport = { decoded: 0, skipped: [] };
    type Item = { r: ListRecord; p: Promise<DecodedImage> | null };
    super(orderedTransformer<ListRecord, Item, ImageRecord>({
      // Ordered output: wait for the oldest once `concurrency` are in flight.
      ahead: concurrency - 1,
      start(r) {
        if (options.passDecoded && "pixels" in r) return { r, p: null };
        if (r.path === undefined && r.bytes === undefined) {
          throw new TypeError(`Record "${r.key}" has neither path nor bytes to decode`);
        }
        const p = pool.decode(r.bytes ?? r.path!, {
          resize,
          reduceTo: options.reduceTo,
          dctScale: options.dctScale,
          name: r.path ?? r.key,
          recordOffset: r.bytes ? undefined : recordOffset(r),
        });
        p.catch(() => {}); // handled in order by settle()
        return { r, p };
      },
      async settle({ r, p }, c) {
        if (p === null) {
          c.enqueue(r as ImageRecord);
          report.decoded++;
          return;
        }
        try {
          const img = await p;
          const { bytes: _drop, ...rest } = r;
          c.enqueue({ ...rest, pixels: img.pixels, height: img.height, width: img.width });
          report.decoded++;
        } catch (e) {
          if (onError === "fail" || !(e instanceof DecodeError)) throw e;
          const s = { key: r.key, source: e.source, reason: e.message };
          report.skipped.push(s);
          options.onSkip?.(s);
        }
      },
      close: () => pool.close(),
    }));
    this.report = report;
  }
}
