/**
 * The MTCNN detector's public face: detection (P/R/O-Net), its weights and the rule that picks the
 * subject among several faces. Alignment onto the ArcFace template is `../similarity.ts`; the
 * stage that does both is `../align_stream.ts` (`AlignStream`).
 * @module
 */
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
