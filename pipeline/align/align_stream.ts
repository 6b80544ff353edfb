/**
 * Stage 4: MTCNN-detect the subject's face in each decoded image and align it onto the ArcFace
 * 112x112 template (Deng et al., arXiv 1801.07698, Sec. 4.1: "we employ MTCNN to generate the
 * normalised face crops (112 x 112) by utilising five facial points").
 */
import type { FaceRecord, ImageRecord } from "../records.ts";
import { MtcnnDetector } from "./mtcnn/detect.ts";
import type { MtcnnOptions } from "./mtcnn/options.ts";
import { PICK_RULES, pickFace, type PickRule } from "./mtcnn/pick.ts";
import { alignFace, ARCFACE_SIZE, warpSimilarity } from "./similarity.ts";

/** What to do with an image in which no face is found. */
export type NoFacePolicy = "skip" | "center-crop" | "fail";
export const NO_FACE_POLICIES: readonly NoFacePolicy[] = ["skip", "center-crop", "fail"];

export interface AlignOptions extends MtcnnOptions {
  /**
   * Side of the aligned square crop; the 112 template is scaled to it.
   * @default {ARCFACE_SIZE} (112)
   */
  size?: number;
  /**
   * Which face stands for the subject when several are found.
   * @default {"center"}
   */
  pick?: PickRule;
  /**
   * No face found: "skip" (counted and listed in `report`), "center-crop" (emitted with
   * `policy: "center-crop"`, null box/score/landmarks) or "fail" (the stream errors, naming the
   * image).
   * @default {"skip"}
   */
  onNoFace?: NoFacePolicy;
  /**
   * Side of the square taken by "center-crop", as a fraction of the image's short side; the
   * square is centred horizontally and at `0.465 * height` vertically. On LFW's 250x250 images
   * the aligned crops cover a median 132 px square centred at (125, 116), so a 0.53 centre crop
   * frames an LFW-like photo about as alignment would.
   * @default {0.53}
   */
  centerCropFraction?: number;
  /**
   * Detector to use (not disposed by the stream).
   * @default one created on start, owned
   */
  detector?: MtcnnDetector;
  /**
   * Called with each image dropped by `onNoFace: "skip"` (after it is counted).
   * @default none
   */
  onSkip?: (record: ImageRecord) => void;
}

/** Counts of an `AlignStream` run, readable at any time. */
export interface AlignReport {
  seen: number;
  /** Faces emitted with `policy: "detected"`. */
  detected: number;
  /** Keys emitted with `policy: "center-crop"`. */
  centerCropped: string[];
  /** Keys of images dropped by `onNoFace: "skip"`. */
  skipped: string[];
}

/**
 * Aligns one face per image: `ImageRecord` in, `FaceRecord` (`size x size x 3`) out. The detector
 * runs on TF.js's current backend: initialise it first (`initBackend()` in
 * model/backend/backend.ts). Counts are in `report`.
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { AlignStream, DecodeStream, ListReaderStream } from "../mod.ts";
 *
 * await tf.setBackend("cpu"); // or model/mod.ts's initBackend(): the best this machine has
 * const decoded = new ListReaderStream({ root: "fixtures/pipeline/images" })
 *   .pipeThrough(new DecodeStream());
 * const align = new AlignStream({ onNoFace: "center-crop" });
 * for await (const face of decoded.pipeThrough(align)) console.log(face.key, face.policy);
 * console.log(align.report); // { seen, detected, centerCropped, skipped }
 * ```
 */
export class AlignStream extends TransformStream<ImageRecord, FaceRecord> {
  readonly report: AlignReport;

  constructor(options: AlignOptions = {}) {
    const rules = checkAlignOptions(options);
    const report: AlignReport = { seen: 0, detected: 0, centerCropped: [], skipped: [] };
    let detector = options.detector;
    const owned = !detector;
    const release = () => {
      if (owned) detector?.dispose();
      detector = undefined;
    };
    super({
      async start() {
        // The detector runs on TF.js's current backend: the caller chooses and initialises it
        // (model/backend/backend.ts `initBackend()`); a stage never switches backends.
        detector ??= await MtcnnDetector.create(options);
      },
      transform(rec, controller) {
        let face;
        try {
          face = alignOne(rec, detector!, rules, report);
        } catch (e) {
          release(); // the stream is errored now: flush/cancel will not run
          throw e;
        }
        if (face) controller.enqueue(face);
        else options.onSkip?.(rec);
      },
      flush: release,
      cancel: release,
    });
    this.report = report;
  }
}

/** The options `alignOne` needs, defaults filled in and checked. */
interface AlignRules {
  size: number;
  pick: PickRule;
  onNoFace: NoFacePolicy;
  fraction: number;
}

function checkAlignOptions(options: AlignOptions): AlignRules {
  const size = options.size ?? ARCFACE_SIZE;
  const pick = options.pick ?? "center";
  const onNoFace = options.onNoFace ?? "skip";
  const fraction = options.centerCropFraction ?? 0.53;
  if (!(Number.isInteger(size) && size >= 8)) {
    throw new RangeError(`size must be an integer >= 8, got ${size}`);
  }
  if (!PICK_RULES.includes(pick)) throw new RangeError(`Unknown face pick rule "${pick}"`);
  if (!NO_FACE_POLICIES.includes(onNoFace)) {
    throw new RangeError(`onNoFace must be one of ${NO_FACE_POLICIES.join(", ")}: "${onNoFace}"`);
  }
  if (!(fraction > 0 && fraction <= 1)) {
    throw new RangeError(`centerCropFraction must be in (0, 1], got ${fraction}`);
  }
  return { size, pick, onNoFace, fraction };
}

/** Detects, picks and aligns the subject of one image; null when it is skipped (no face). */
function alignOne(
  rec: ImageRecord,
  detector: MtcnnDetector,
  { size, pick, onNoFace, fraction }: AlignRules,
  report: AlignReport,
): FaceRecord | null {
  report.seen++;
  if (rec.pixels.length !== rec.width * rec.height * 3) {
    throw new RangeError(
      `Cannot align "${rec.key}": ${rec.pixels.length} bytes for ${rec.width}x${rec.height}x3`,
    );
  }
  let faces;
  try {
    faces = detector.detect(rec);
  } catch (e) {
    throw new Error(`Cannot detect faces in "${rec.path ?? rec.key}": ${(e as Error).message}`);
  }
  const i = pickFace(faces, rec.width, rec.height, pick);
  const { bytes: _b, pixels: _p, width: _w, height: _h, ...meta } = rec;
  if (i >= 0) {
    const f = faces[i];
    report.detected++;
    return {
      ...meta,
      pixels: alignFace(rec, f.landmarks, size).pixels,
      width: size,
      height: size,
      box: f.box,
      score: f.score,
      landmarks: f.landmarks,
      policy: "detected",
    };
  }
  if (onNoFace === "fail") {
    throw new Error(`No face found in "${rec.path ?? rec.key}" (onNoFace: "fail")`);
  }
  if (onNoFace === "skip") {
    report.skipped.push(rec.key);
    return null;
  }
  report.centerCropped.push(rec.key);
  return {
    ...meta,
    pixels: centerCrop(rec, size, fraction),
    width: size,
    height: size,
    box: null,
    score: null,
    landmarks: null,
    policy: "center-crop",
  };
}

/**
 * The square of side `fraction * min(width, height)` centred at (0.5 W, 0.465 H) (where aligned
 * LFW faces sit), resized to `size` bilinearly.
 */
export function centerCrop(image: ImageRecord, size: number, fraction: number): Uint8Array {
  const side = fraction * Math.min(image.width, image.height);
  const a = size / side;
  // Source point -> crop centre (pixel centres at integers).
  const tx = (size - 1) / 2 - a * (image.width - 1) * 0.5;
  const ty = (size - 1) / 2 - a * (image.height - 1) * 0.465;
  return warpSimilarity(image.pixels, image.width, image.height, { a, b: 0, tx, ty }, size);
}
