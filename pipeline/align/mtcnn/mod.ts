/**
 * The MTCNN detector's public face: detection (P/R/O-Net), its weights and the rule that picks the
 * subject among several faces. Alignment onto the ArcFace template is `../similarity.ts`; the
 * stage that does both is `../align_stream.ts` (`AlignStream`).
 * @module
 */
export { type Detection, MtcnnDetector, type RgbImage, type StageTimes } from "./detect.ts";
export { type ChannelOrder, type MtcnnOptions, resolveMtcnnOptions } from "./options.ts";
export { MtcnnNets, WEIGHTS_DIR } from "./nets.ts";
export { PICK_RULES, pickFace, type PickRule } from "./pick.ts";
