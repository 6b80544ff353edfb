/**
 * The MTCNN cascade (Zhang et al., IEEE SPL 2016), following facenet's `detect_face.py` port of
 * the original MATLAB code: image pyramid -> P-Net (per scale, fully convolutional) -> R-Net on
 * 24x24 crops -> O-Net on 48x48 crops with landmarks. Box math stays in JS on typed arrays; each
 * stage runs its crops as one batched tensor.
 */
import * as tf from "@tensorflow/tfjs";
import * as B from "./boxes.ts";
import { MtcnnNets } from "./nets.ts";
import { type MtcnnOptions, resolveMtcnnOptions } from "./options.ts";
import { IntegralImage, type RgbImage } from "./resample.ts";

export type { RgbImage } from "./resample.ts";

/** One detected face; all coordinates in source pixels. */
export interface Detection {
  /** [x, y, width, height] of the regressed O-Net box (not squared), facenet-pytorch convention. */
  box: [number, number, number, number];
  score: number;
  /** Left eye, right eye, nose, left mouth corner, right mouth corner ("left" = image left). */
  landmarks: [number, number][];
}

/** Per-stage wall time of the last `detect()` call, in ms (for the benchmark). */
export interface StageTimes {
  pyramid: number;
  pnet: number;
  rnet: number;
  onet: number;
}

/**
 * MTCNN face detector; owns its weights, call `dispose()` when done.
 * @example
 * ```ts
 * import { decodeImage, MtcnnDetector } from "../../mod.ts";
 *
 * const image = await decodeImage("fixtures/pipeline/images/Adrien_Brody/Adrien_Brody_0001.jpg");
 * const detector = await MtcnnDetector.create({ minFaceSize: 20 });
 * for (const d of detector.detect(image)) console.log(d.box, d.score, d.landmarks);
 * detector.dispose();
 * ```
 */
export class MtcnnDetector {
  readonly options: Required<MtcnnOptions>;
  readonly times: StageTimes = { pyramid: 0, pnet: 0, rnet: 0, onet: 0 };
  private readonly nets: MtcnnNets;

  private constructor(nets: MtcnnNets, options: Required<MtcnnOptions>) {
    this.nets = nets;
    this.options = options;
  }

  /** Loads the bundled weights (or `weightsDir`). The TF.js backend must be initialized. */
  static async create(
    options: MtcnnOptions = {},
    weightsDir?: URL | string,
  ): Promise<MtcnnDetector> {
    const resolved = resolveMtcnnOptions(options);
    return new MtcnnDetector(await MtcnnNets.load(weightsDir), resolved);
  }

  /** Detects faces in an RGB image; faces sorted by score, best first. */
  detect(image: RgbImage): Detection[] {
    const t0 = performance.now();
    const ii = new IntegralImage(image, this.options.channelOrder === "bgr");
    const boxes = this.#pnetStage(ii, image.width, image.height, performance.now() - t0);
    const t3 = performance.now();
    const refined = B.count(boxes) > 0 ? this.#rnetStage(ii, boxes) : boxes;
    const t4 = performance.now();
    this.times.rnet = t4 - t3;
    const faces = B.count(refined) > 0 ? this.#onetStage(ii, refined) : [];
    this.times.onet = performance.now() - t4;
    return faces;
  }

  /**
   * Stage 1: P-Net over the pyramid 12/minFaceSize * factor^k while the short side >= 12; NMS per
   * scale and across scales, regression, squaring. Returns candidate boxes (`B.STRIDE` a row).
   */
  #pnetStage(ii: IntegralImage, w: number, h: number, tSetup: number): Float64Array {
    const o = this.options;
    const perScale: Float64Array[] = [];
    let tPyr = tSetup, tP = 0;
    const m = 12 / o.minFaceSize;
    const orig = o.flavor === "original";
    for (
      let scale = m, minl = Math.min(h, w) * m;
      minl >= 12;
      scale *= o.factor, minl *= o.factor
    ) {
      const t1 = performance.now();
      const hs = orig ? Math.ceil(h * scale) : Math.trunc(h * scale + 1);
      const ws = orig ? Math.ceil(w * scale) : Math.trunc(w * scale + 1);
      const input = new Float32Array(ws * hs * 3);
      ii.cropTo(0, 0, w, h, ws, hs, input, 0); // [ws, hs, 3] (transposed)
      const t2 = performance.now();
      const x = tf.tensor4d(input, [1, ws, hs, 3]);
      let out: Float32Array, shape: number[];
      try {
        const y = this.nets.pnet(x);
        shape = y.shape;
        out = y.dataSync() as Float32Array;
        y.dispose();
      } finally {
        x.dispose();
      }
      const c = B.pnetCandidates(out, shape[1], shape[2], scale, o.thresholds[0]);
      perScale.push(B.select(c, B.nms(c, o.nmsThresholds[0], "Union", orig)));
      tPyr += t2 - t1;
      tP += performance.now() - t2;
    }
    let boxes = B.concat(perScale);
    boxes = B.select(boxes, B.nms(boxes, o.nmsThresholds[1], "Union", orig));
    B.regress(boxes, false);
    B.square(boxes);
    if (orig) B.fix(boxes);
    this.times.pyramid = tPyr;
    this.times.pnet = tP;
    return boxes;
  }

  /** Stage 2: R-Net on 24x24 crops: score threshold, NMS, regression, squaring. */
  #rnetStage(ii: IntegralImage, candidates: Float64Array): Float64Array {
    const o = this.options;
    const orig = o.flavor === "original";
    let boxes = candidates;
    const out = this.runCrops(ii, boxes, 24, 6, (x) => this.nets.rnet(x));
    const keep: number[] = [];
    for (let i = 0; i < B.count(boxes); i++) {
      const s = softmax1(out[i * 6], out[i * 6 + 1]);
      if (s > o.thresholds[1]) {
        keep.push(i);
        const r = i * B.STRIDE;
        boxes[r + 4] = s;
        for (let k = 0; k < 4; k++) boxes[r + 5 + k] = out[i * 6 + 2 + k];
      }
    }
    boxes = B.select(boxes, keep);
    boxes = B.select(boxes, B.nms(boxes, o.nmsThresholds[2], "Union", orig));
    B.regress(boxes, true);
    B.square(boxes);
    if (orig) B.fix(boxes);
    return boxes;
  }

  /** Stage 3: O-Net on 48x48 crops: score, regression, landmarks; then 'Min' NMS. */
  #onetStage(ii: IntegralImage, boxes: Float64Array): Detection[] {
    const o = this.options;
    const faces: Detection[] = [];
    const n = B.count(boxes);
    const out = this.runCrops(ii, boxes, 48, 16, (x) => this.nets.onet(x));
    const kept: number[] = [];
    const points: [number, number][][] = [];
    for (let i = 0; i < n; i++) {
      const q = i * 16, r = i * B.STRIDE;
      const s = softmax1(out[q], out[q + 1]);
      if (!(s > o.thresholds[2])) continue;
      boxes[r + 4] = s;
      for (let k = 0; k < 4; k++) boxes[r + 5 + k] = out[q + 2 + k];
      const bw = boxes[r + 2] - boxes[r] + 1, bh = boxes[r + 3] - boxes[r + 1] + 1;
      const pts: [number, number][] = [];
      for (let k = 0; k < 5; k++) {
        // x1..x5 then y1..y5, relative to the (1-based) box: to 0-based source pixels.
        pts.push([bw * out[q + 6 + k] + boxes[r] - 1, bh * out[q + 11 + k] + boxes[r + 1] - 1]);
      }
      kept.push(i);
      points.push(pts);
    }
    const sel = B.select(boxes, kept);
    B.regress(sel, true);
    for (const i of B.nms(sel, o.nmsThresholds[3], "Min")) {
      const r = i * B.STRIDE;
      faces.push({
        box: [sel[r], sel[r + 1], sel[r + 2] - sel[r], sel[r + 3] - sel[r + 1]],
        score: sel[r + 4],
        landmarks: points[i],
      });
    }
    return faces;
  }

  /** Crops every box to `size`, runs `net` in batches of `maxBatch`, returns `[N, width]` flat. */
  private runCrops(
    ii: IntegralImage,
    boxes: Float64Array,
    size: number,
    width: number,
    net: (x: tf.Tensor4D) => tf.Tensor2D,
  ): Float32Array {
    const n = B.count(boxes);
    const result = new Float32Array(n * width);
    const per = size * size * 3;
    for (let start = 0; start < n; start += this.options.maxBatch) {
      const m = Math.min(this.options.maxBatch, n - start);
      const input = new Float32Array(m * per);
      for (let i = 0; i < m; i++) {
        const r = (start + i) * B.STRIDE;
        // 1-based inclusive corners -> 0-based origin, (x2 - x1 + 1) pixels wide.
        const x1 = Math.trunc(boxes[r]), y1 = Math.trunc(boxes[r + 1]);
        const bw = Math.trunc(boxes[r + 2]) - x1 + 1, bh = Math.trunc(boxes[r + 3]) - y1 + 1;
        if (this.options.border === "clip") {
          // facenet-pytorch: the part inside the image, stretched to the full input.
          const ax = Math.max(x1 - 1, 0), ay = Math.max(y1 - 1, 0);
          const bx = Math.min(x1 - 1 + bw, ii.width), by = Math.min(y1 - 1 + bh, ii.height);
          ii.cropTo(ax, ay, Math.max(bx - ax, 1), Math.max(by - ay, 1), size, size, input, i * per);
        } else {
          ii.cropTo(x1 - 1, y1 - 1, Math.max(bw, 1), Math.max(bh, 1), size, size, input, i * per);
        }
      }
      const x = tf.tensor4d(input, [m, size, size, 3]);
      try {
        const y = net(x);
        result.set(y.dataSync() as Float32Array, start * width);
        y.dispose();
      } finally {
        x.dispose();
      }
    }
    return result;
  }

  dispose(): void {
    this.nets.dispose();
  }
}

/** P(class 1) of a 2-way softmax. */
function softmax1(l0: number, l1: number): number {
  return 1 / (1 + Math.exp(l0 - l1));
}
