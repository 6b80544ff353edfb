/** MTCNN face detection (P/R/O-Net) and the face choice rule; alignment is in ../similarity.ts. */
export {
  type ChannelOrder,
  type Detection,
  MtcnnDetector,
  type MtcnnOptions,
  resolveMtcnnOptions,
  type RgbImage,
  type StageTimes,
} from "./detect.ts";
export { MtcnnNets, WEIGHTS_DIR } from "./nets.ts";
export { PICK_RULES, pickFace, type PickRule } from "./pick.ts";
