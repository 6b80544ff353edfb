/**
 * What the try-it page does with one photo, runtime-neutral (no DOM, no Deno): arcstream's own MTCNN
 * detector (pipeline/align/mtcnn/) -> the largest face -> the ArcFace 112x112 alignment
 * (pipeline/align/similarity.ts) -> the embedder eval-lfw uses (model/eval/embed_stream.ts: the
 * flip test, L2-normalized). The page only decodes pixels and draws.
 */
import * as tf from "@tensorflow/tfjs";
import { type Detection, MtcnnDetector, pickFace } from "../../pipeline/align/mtcnn/mod.ts";
import { alignFace, ARCFACE_SIZE } from "../../pipeline/align/similarity.ts";
import type { RgbImage } from "../../pipeline/records.ts";
import { Embedder } from "../../model/eval/embed_stream.ts";
import { detectModelKind, type ModelJsonFile, parseModelJson } from "../../model/io/model_json.ts";

/** One photo's result: every face found, the one used, its aligned face and embedding. */
export interface FaceResult {
  faces: Detection[];
  /** Index in `faces` of the face used (the largest). */
  chosen: number;
  aligned: RgbImage;
  embedding: Float32Array;
}

/** A photo in which MTCNN found no face (the page says so). */
export class NoFaceError extends Error {
  override name = "NoFaceError";
}

/** Loads an export's model.json from `url` (graph or layers), checked by eval-lfw's rules. */
export async function loadExport(url: string): Promise<Embedder> {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`Cannot load model "${url}": HTTP ${r.status}`);
  const json: ModelJsonFile = parseModelJson(await r.text(), url);
  const kind = detectModelKind(json);
  const model = kind === "graph" ? await tf.loadGraphModel(url) : await tf.loadLayersModel(url);
  return Embedder.owning({ model, json });
}

/** Detects, aligns and embeds the largest face of `image`; throws `NoFaceError` when none. */
export async function embedLargestFace(
  image: RgbImage,
  detector: MtcnnDetector,
  embedder: Embedder,
): Promise<FaceResult> {
  const faces = detector.detect(image);
  const chosen = pickFace(faces, image.width, image.height, "largest");
  if (chosen < 0) throw new NoFaceError("No face found in this photo");
  const aligned = {
    pixels: alignFace(image, faces[chosen].landmarks, ARCFACE_SIZE).pixels,
    width: ARCFACE_SIZE,
    height: ARCFACE_SIZE,
  };
  const [embedding] = await embedder.embed([aligned]);
  return { faces, chosen, aligned, embedding };
}

/** Cosine of two unit embeddings. */
export function cosine(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) throw new RangeError(`Embeddings of ${a.length} and ${b.length}`);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/**
 * Same person when the squared L2 distance of the unit embeddings, 2 - 2 cos, is below the
 * verification threshold (insightface's rule, as eval-lfw and the held-out check apply it).
 */
export function samePerson(cos: number, distanceThreshold: number): boolean {
  return 2 - 2 * cos < distanceThreshold;
}

export { MtcnnDetector };
