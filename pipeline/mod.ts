/**
 * The data pipeline's public API: the stages (each a `TransformStream`, also a `deno task`), the
 * records they pass, the list readers and the file formats. Re-exports only; see
 * docs/pipeline.md for how the stages fit together.
 *
 * @example
 * ```ts
 * import { DecodeStream, ListReaderStream, ShuffleStream } from "./mod.ts";
 *
 * const images = new ListReaderStream({ root: "fixtures/pipeline/images" })
 *   .pipeThrough(new ShuffleStream({ seed: 7 }))
 *   .pipeThrough(new DecodeStream({ resize: 112 }));
 * for await (const image of images) console.log(image.key, image.width, image.height);
 * ```
 * @module
 */

// Records that travel between the stages.
export type {
  AlignPolicy,
  AnyRecord,
  Batch,
  FaceRecord,
  ImageRecord,
  ListRecord,
  RecordList,
  RgbImage,
} from "./records.ts";

// Stage 1: list reader.
export {
  type ListReaderOptions,
  ListReaderStream,
  type ListResult,
  parseCleanList,
  readCleanList,
  readImageFolder,
  readImageTree,
  readPathList,
  readRecordIO,
  readRecordIOLazy,
} from "./list/list_reader.ts";
export { RecordIOWriter } from "./list/record_io.ts";
export { RecordIOReader, type RecordIORecord } from "./list/record_io_reader.ts";

// Stage 2: seeded shuffle.
export { type ShuffleOptions, ShuffleStream } from "./shuffle/shuffle_stream.ts";
export { epochPermutation, Prng } from "./shuffle/prng.ts";

// Stage 3: decoder and the one network-input rule.
export {
  type DecodeOptions,
  type DecodeReport,
  DecodeStream,
  type SkippedImage,
} from "./decode/decode_stream.ts";
export {
  DecodeError,
  decodeImage,
  type DecodeImageOptions,
  type ResizeSpec,
} from "./decode/decode_image.ts";
export { resizeRgb } from "./decode/resize.ts";
export {
  networkInput,
  type NetworkInputOptions,
  NORMALIZE_MODES,
  type NormalizeMode,
} from "./decode/network_input.ts";
export {
  type AugmentOptions,
  batchAugments,
  checkAugment,
  cropRgb,
  type ImageAugment,
} from "./decode/augment.ts";

// Stage 4: MTCNN aligner.
export {
  type AlignOptions,
  type AlignReport,
  AlignStream,
  NO_FACE_POLICIES,
} from "./align/align_stream.ts";
export { type Detection, MtcnnDetector, type MtcnnOptions } from "./align/mtcnn/mod.ts";
export { alignFace, ARCFACE_SIZE, arcfaceTemplate } from "./align/similarity.ts";

// Stage 5: wraparound batcher, and the trainer's batch chain.
export {
  type RecordBatch,
  WrapBatcher,
  type WrapBatcherOptions,
  wrapBatches,
  type WrapBatchOptions,
  WrapBatchStream,
  type WrapBatchStreamOptions,
  type WrapCursor,
} from "./batch/wrap_batch_stream.ts";
export {
  type DecodeBatchOptions,
  DecodeBatchStream,
  type ImageBatch,
} from "./batch/decode_batch_stream.ts";
export { TensorBatchStream, type TrainBatch } from "./batch/tensor_batch_stream.ts";
export { trainBatches, type TrainBatchesOptions } from "./batch/train_batches.ts";

// Wire formats between shell stages (NDJSON, WebDataset tar).
export {
  detectFormat,
  NdjsonDecodeStream,
  NdjsonEncodeStream,
  readRecords,
  recordsToNdjson,
  recordsToTar,
  type WireFormat,
} from "./formats/wire.ts";
export { TarDecodeStream, TarEncodeStream, type TarEntry } from "./formats/tar.ts";
export { WdsDecodeStream, WdsEncodeStream } from "./formats/webdataset.ts";

// Evaluation and array formats.
export { type Pair, type PairList, parsePairs, readPairs } from "./formats/pairs_reader.ts";
export { parseBin, readBin, type VerificationBin } from "./formats/insightface_bin.ts";
export { encodeBin, writeBin } from "./formats/pickle_writer.ts";
export { type NpyArray, parseNpy, readNpy, writeNpy } from "./formats/npy.ts";
export { type LfwFold, lfwFold } from "./formats/lfw_folds.ts";

// Files and folders.
export { writeFileAtomic } from "./atomic_write.ts";
export { FolderInUseError, FolderLock, type FolderLockOptions } from "./folder_lock.ts";
