/**
 * The runtime-neutral side of TF.js model files: what a model.json holds, whether it is a graph or
 * layers model, and arcstream's metadata in it. No file access here (that is `model_io.ts`, Deno),
 * so the browser's try-it page reads exports with the same rules as `eval-lfw`.
 */
import type * as tf from "@tensorflow/tfjs";

/** Which TF.js loader a model.json needs. */
export type ModelKind = "graph" | "layers";

/** The parts of a model.json that arcstream reads. */
export interface ModelJsonFile {
  format?: string;
  generatedBy?: string;
  convertedBy?: string | null;
  modelTopology?: unknown;
  weightsManifest: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
  signature?: unknown;
  userDefinedMetadata?: Record<string, unknown>;
  modelInitializer?: unknown;
  initializerSignature?: unknown;
  trainingConfig?: unknown;
}

/** Parses and validates model.json text (no weights); `modelJsonPath` names it in errors. */
export function parseModelJson(text: string, modelJsonPath: string): ModelJsonFile {
  let json: ModelJsonFile;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new SyntaxError(`Cannot parse model "${modelJsonPath}": ${(e as Error).message}`);
  }
  if (json === null || typeof json !== "object" || json.modelTopology == null) {
    throw new SyntaxError(
      `Cannot read model "${modelJsonPath}": no "modelTopology" (not a TF.js model.json)`,
    );
  }
  if (!Array.isArray(json.weightsManifest)) {
    throw new SyntaxError(`Cannot read model "${modelJsonPath}": no "weightsManifest" array`);
  }
  return json;
}

/**
 * Graph or layers: `format` when present ("graph-model" / "layers-model"), else the topology's
 * shape (a GraphDef has `node`, a Keras config has `model_config` or `class_name`).
 */
export function detectModelKind(json: ModelJsonFile): ModelKind {
  if (json.format === "graph-model") return "graph";
  if (json.format === "layers-model") return "layers";
  const topo = json.modelTopology as Record<string, unknown>;
  if (Array.isArray(topo.node)) return "graph";
  if ("model_config" in topo || "class_name" in topo) return "layers";
  throw new SyntaxError(
    `Cannot tell whether this is a graph or layers model: format=${json.format ?? "(none)"}`,
  );
}

/** Key in `userDefinedMetadata` that marks an arcstream export. */
export const ARCSTREAM_METADATA_KEY = "arcstream";

/** What arcstream's exports record about how to feed the model. */
export interface ArcstreamMetadata {
  /**
   * Pixel normalization the model was trained with; arcstream trains with "arcface", models
   * imported from arcface_torch record "arcface_torch" ((x / 255 - 0.5) / 0.5).
   */
  normalize: "arcface" | "raw" | "unit" | "arcface_torch";
  /** Input side in px (square RGB, NHWC). */
  inputSize?: number;
  /** Embedding size. */
  embeddingSize?: number;
  /** Free-form: network name, training step, dataset... */
  [key: string]: unknown;
}

/** The `arcstream` metadata of a model.json, or null for a foreign model. */
export function arcstreamMetadata(json: ModelJsonFile): ArcstreamMetadata | null {
  const m = json.userDefinedMetadata?.[ARCSTREAM_METADATA_KEY];
  return m && typeof m === "object" ? m as ArcstreamMetadata : null;
}
