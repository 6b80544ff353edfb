/**
 * Periodic verification during training: embeds the images of an LFW-format pairs.txt (aligned
 * faces in `<pairs dir>/<Name>/<Name>_NNNN.jpg`) with the flip test and runs the 10-fold protocol
 * of `model/eval/verification.ts` (the ArcFace paper's LFW protocol, arXiv 1801.07698, section 4).
 */
import type * as tfTypes from "@tensorflow/tfjs";
import { dirname } from "node:path";
import { lfwPath, readPairs } from "../../pipeline/formats/pairs_reader.ts";
import type { PairList } from "../../pipeline/formats/pairs_reader.ts";
import { type DctScale, decodeImage } from "../../pipeline/decode/decode_image.ts";
import { embedImages, type RgbImage } from "../eval/embed_stream.ts";
import { scorePairs } from "../eval/score_pairs.ts";
import type { VerificationResult } from "../eval/verification.ts";

/** A pairs set decoded once and scored as often as needed. */
export class HeldoutPairs {
  readonly path: string;
  readonly pairs: PairList;
  readonly images: Map<string, RgbImage>;

  private constructor(path: string, pairs: PairList, images: Map<string, RgbImage>) {
    this.path = path;
    this.pairs = pairs;
    this.images = images;
  }

  /** Reads pairs.txt and decodes every image it names (a missing image is an error naming it). */
  static async load(
    pairsPath: string,
    imageDir?: string,
    inputSize?: number,
    options: { dctScale?: DctScale } = {},
  ): Promise<HeldoutPairs> {
    const pairs = await readPairs(pairsPath);
    const dir = imageDir || dirname(pairsPath);
    const images = new Map<string, RgbImage>();
    for (const key of pairs.images) {
      // Decoded as training decodes for this input side (networkInput's rule), when given.
      images.set(
        key,
        await decodeImage(lfwPath(dir, key), {
          reduceTo: inputSize,
          dctScale: options.dctScale,
        }),
      );
    }
    return new HeldoutPairs(pairsPath, pairs, images);
  }

  /** 10-fold verification of `model` (inference mode, flip test, L2-normalized embeddings). */
  async evaluate(model: tfTypes.LayersModel, batchSize = 32): Promise<VerificationResult> {
    const keys = this.pairs.images;
    const embeddings = await embedImages(model, keys.map((k) => this.images.get(k)!), {
      normalize: "arcface",
      flip: true,
      batchSize,
    });
    // Every image was decoded in load() (a missing one is an error), so no pair is skipped.
    return scorePairs(
      this.pairs.pairs,
      new Map(keys.map((k, i) => [k, embeddings[i]])),
      this.pairs.foldSizes,
    ).result;
  }
}
