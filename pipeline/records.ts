/**
 * The records that travel between pipeline stages (docs/formats.md, "Wire format between
 * shell stages").
 *
 * A record grows as it moves down the pipeline: the list reader emits a
 * `ListRecord`, the decoder adds pixels (`ImageRecord`), the aligner replaces
 * them with a 112x112 face and adds detection metadata (`FaceRecord`).
 */
import type * as tf from "@tensorflow/tfjs-core";

/** One entry of a training or evaluation list. */
export interface ListRecord {
  /** Unique, stable id of the sample (relative path without extension, or RecordIO index). */
  key: string;
  /** Dense integer class label (identity); -1 when unknown (evaluation images). */
  label: number;
  /** Absolute or cwd-relative file path, for file-backed records. */
  path?: string;
  /** Encoded image bytes (JPEG/PNG), for RecordIO or tar-backed records. */
  bytes?: Uint8Array;
}

/**
 * Records read by position: an array, or a compact table that makes each record when asked
 * (`RecordIOTable`: MS1M's 5.8 M records as typed arrays rather than 5.8 M objects).
 */
export interface RecordList<T extends ListRecord = ListRecord> {
  readonly length: number;
  /** Record `index` (0 <= index < length), a fresh object each call for a table. */
  at(index: number): T | undefined;
}

/** An RGB image: `[height, width, 3]` uint8, row-major (the one image type of the project). */
export interface RgbImage {
  pixels: Uint8Array;
  height: number;
  width: number;
}

/** A decoded image record: RGB, HWC, uint8. */
export interface ImageRecord extends ListRecord, RgbImage {}

/** What travels on the wire between stages: a list record, with or without image data. */
export type AnyRecord = ListRecord | ImageRecord;

/** Which rule produced an aligned face. */
export type AlignPolicy = "detected" | "center-crop";

/** An aligned face; `pixels` is 112x112x3 (or the configured size), metadata in source pixels. */
export interface FaceRecord extends ImageRecord {
  /** Detection box [x, y, width, height] in source pixels; null for a centre crop. */
  box: [number, number, number, number] | null;
  /** Detection score in [0, 1]; null for a centre crop. */
  score: number | null;
  /** 5 landmarks [x, y] in source pixels: left eye, right eye, nose, left mouth, right mouth. */
  landmarks: [number, number][] | null;
  policy: AlignPolicy;
}

/** A training batch as tensors; the consumer owns (and disposes) the tensors. */
export interface Batch {
  /** [B, S, S, 3] float32 in [-1, 1]: `networkInput()` (pipeline/decode/network_input.ts). */
  images: tf.Tensor4D;
  /** [B] int32 class labels. */
  labels: tf.Tensor1D;
  /** Epoch of the batch's first sample (0-based). */
  epoch: number;
  /** Global step index (0-based). */
  step: number;
  /** Keys of the samples, in batch order. */
  keys: string[];
}
