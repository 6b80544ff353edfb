/** The options of `deno task align` (parsed in tasks/align.ts, used by align/run.ts). */

/** The parsed command line, every default filled in (`tasks/align.ts` parses it). */
export interface AlignCliOptions {
  input: string;
  output: string;
  minFaceSize: number;
  thresholds: [number, number, number];
  nms: [number, number, number, number];
  border?: "pad" | "clip";
  factor: number;
  channelOrder: "rgb" | "bgr";
  flavor: "original" | "facenet-pytorch";
  onDecodeError: "skip" | "fail";
  /**
   * JPEG DCT scaling ("auto" | "off", as train/decode/eval-lfw take it): no effect on crops, since
   * align decodes every image whole (tasks/align/run.ts, no resize: MTCNN and the warp read every
   * pixel);
   * not part of the settings id.
   */
  dctScale?: "auto" | "off";
  pick: "center" | "largest" | "score";
  onNoFace: "skip" | "center-crop" | "fail";
  centerCropFraction: number;
  size: number;
  quality: number;
  shard: [number, number];
  limit: number;
  backend: string;
  threads?: number;
  quiet: boolean;
  /** Redo a folder made with other settings. */
  overwrite?: boolean;
  /** Take a folder without align_config.json as made with the current settings. */
  adopt?: boolean;
}
