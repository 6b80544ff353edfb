/**
 * The MTCNN detector's settings (Zhang et al., IEEE SPL 2016; arithmetic of facenet's
 * `detect_face.py` or of facenet-pytorch): what can be set, the defaults and their validation.
 */

/** Channel order the nets are fed. */
export type ChannelOrder = "rgb" | "bgr";

export interface MtcnnOptions {
  /** Smallest face side to look for, in pixels; sets the first pyramid scale 12 / minFaceSize. Default: 20. */
  minFaceSize?: number;
  /** Score thresholds of P-Net, R-Net, O-Net. Default: [0.6, 0.7, 0.7]. */
  thresholds?: [number, number, number];
  /** Pyramid scale factor. Default: 0.709. */
  factor?: number;
  /** NMS IoU thresholds: P-Net per scale, P-Net across scales, R-Net, O-Net ('Min'). Default: [0.5, 0.7, 0.7, 0.7]. */
  nmsThresholds?: [number, number, number, number];
  /**
   * Channel order fed to the nets. Default: "rgb" (on LFW it finds more faces and places the
   * landmarks closer to facenet-pytorch than "bgr", which face-api.js uses; see docs/alignment.md,
   * "Channel order").
   */
  channelOrder?: ChannelOrder;
  /**
   * Which port's arithmetic to follow. "original": the MATLAB code and facenet's detect_face.py
   * (pyramid sides ceil(side * scale), boxes truncated to integers between stages, NMS areas with
   * the +1 pixel convention, out-of-border crops zero-padded). "facenet-pytorch": its variant
   * (sides int(side * scale + 1), float boxes truncated only to cut crops, torchvision's IoU
   * without +1, out-of-border crops clipped to the image and stretched); with it this detector
   * reproduces facenet-pytorch's landmarks to a median 0.0001 px on LFW. Default: "original".
   */
  flavor?: "original" | "facenet-pytorch";
  /**
   * R/O-Net crops that cross the image border: "pad" with zeros (original) or "clip" to the part
   * inside the image, stretched to the net input (facenet-pytorch; finds more faces cut by the
   * border). Default: "pad" for the original flavor, "clip" for facenet-pytorch.
   */
  border?: "pad" | "clip";
  /** Largest number of crops per R/O-Net batch (bounds memory on huge images). Default: 512. */
  maxBatch?: number;
}

const DEFAULTS: Required<MtcnnOptions> = {
  minFaceSize: 20,
  thresholds: [0.6, 0.7, 0.7],
  factor: 0.709,
  nmsThresholds: [0.5, 0.7, 0.7, 0.7],
  channelOrder: "rgb",
  flavor: "original",
  border: "pad",
  maxBatch: 512,
};

/** Validates MTCNN options and fills in the defaults. */
export function resolveMtcnnOptions(o: MtcnnOptions = {}): Required<MtcnnOptions> {
  // Options given as undefined take the default too; keys of wider option objects are dropped.
  const given = Object.fromEntries(
    Object.entries(o).filter(([k, v]) => v !== undefined && k in DEFAULTS),
  );
  const r: Required<MtcnnOptions> = {
    ...DEFAULTS,
    border: o.flavor === "facenet-pytorch" ? "clip" : "pad",
    ...given,
  };
  if (r.flavor !== "original" && r.flavor !== "facenet-pytorch") {
    throw new RangeError(`flavor must be "original" or "facenet-pytorch", got "${r.flavor}"`);
  }
  if (!(r.minFaceSize >= 1)) throw new RangeError(`minFaceSize must be >= 1, got ${r.minFaceSize}`);
  if (!(r.factor > 0 && r.factor < 1)) {
    throw new RangeError(`factor must be in (0, 1), got ${r.factor}`);
  }
  for (
    const [name, arr, n] of [["thresholds", r.thresholds, 3], [
      "nmsThresholds",
      r.nmsThresholds,
      4,
    ]] as const
  ) {
    if (arr.length !== n || !arr.every((t) => t >= 0 && t <= 1)) {
      throw new RangeError(`${name} must be ${n} numbers in [0, 1], got [${arr.join(", ")}]`);
    }
  }
  if (r.channelOrder !== "rgb" && r.channelOrder !== "bgr") {
    throw new RangeError(`channelOrder must be "rgb" or "bgr", got "${r.channelOrder}"`);
  }
  if (r.border !== "pad" && r.border !== "clip") {
    throw new RangeError(`border must be "pad" or "clip", got "${r.border}"`);
  }
  if (!(Number.isInteger(r.maxBatch) && r.maxBatch >= 1)) {
    throw new RangeError(`maxBatch must be a positive integer, got ${r.maxBatch}`);
  }
  return r;
}
