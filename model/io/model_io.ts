/**
 * File-system IOHandlers for TF.js models (tfjs without tfjs-node has no `file://` scheme).
 *
 * Usage:
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { fileLoadHandler, fileSaveHandler, loadModelFile } from "./model_io.ts";
 * import { buildIResNet } from "../nets/iresnet.ts";
 *
 * const model = buildIResNet({ depth: 18, width: 0.25, inputSize: 64 });
 * await model.save(fileSaveHandler("runs/r18/export")); // model.json + weights.bin, atomic
 * await model.save(fileSaveHandler("runs/r18/export", { // an arcstream export:
 *   userDefinedMetadata: { arcstream: { normalize: "arcface", inputSize: 64 } },
 * }));
 * const layers = await tf.loadLayersModel(fileLoadHandler("runs/r18/export/model.json"));
 * const graph = await tf.loadGraphModel(fileLoadHandler("../shared/models/faceres/faceres.json"));
 * const { kind } = await loadModelFile("runs/r18/export/model.json"); // detects graph vs layers
 * console.log(layers.name, graph.inputs, kind);
 * ```
 *
 * The loader reads every shard named in `weightsManifest` (paths relative to model.json) and works
 * for graph and layers models alike; the saver writes one `weights.bin` shard and `model.json`, each
 * to a temp file renamed into place (weights first, so a model.json on disk always names complete
 * weights).
 */
import type * as tf from "@tensorflow/tfjs";
import { basename, dirname, join } from "node:path";
import { writeFileAtomic } from "../../pipeline/atomic_write.ts";
import { detectModelKind, type ModelJsonFile, parseModelJson } from "./model_json.ts";

export {
  ARCSTREAM_METADATA_KEY,
  type ArcstreamMetadata,
  arcstreamMetadata,
  detectModelKind,
  type ModelJsonFile,
  type ModelKind,
  parseModelJson,
} from "./model_json.ts";

/** Reads and validates a model.json (no weights). */
export async function readModelJson(modelJsonPath: string): Promise<ModelJsonFile> {
  let text: string;
  try {
    text = await Deno.readTextFile(modelJsonPath);
  } catch (e) {
    throw new Error(`Cannot read model "${modelJsonPath}": ${(e as Error).message}`);
  }
  return parseModelJson(text, modelJsonPath);
}

/** An IOHandler that loads model.json and its weight shards from the file system. */
export function fileLoadHandler(modelJsonPath: string): tf.io.IOHandler {
  if (typeof modelJsonPath !== "string" || modelJsonPath === "") {
    throw new TypeError("fileLoadHandler() needs the path of a model.json");
  }
  return {
    load: async (): Promise<tf.io.ModelArtifacts> => {
      const json = await readModelJson(modelJsonPath);
      const dir = dirname(modelJsonPath);
      const weightSpecs: tf.io.WeightsManifestEntry[] = [];
      const buffers: ArrayBuffer[] = [];
      for (const group of json.weightsManifest) {
        weightSpecs.push(...group.weights);
        for (const p of group.paths) {
          const file = join(dir, p);
          let bytes: Uint8Array;
          try {
            bytes = await Deno.readFile(file);
          } catch (e) {
            throw new Error(
              `Cannot read weight shard "${file}" of model "${modelJsonPath}": ${
                (e as Error).message
              }`,
            );
          }
          buffers.push(
            bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength
              ? bytes.buffer as ArrayBuffer
              : bytes.slice().buffer as ArrayBuffer,
          );
        }
      }
      return {
        modelTopology: json.modelTopology as tf.io.ModelArtifacts["modelTopology"],
        format: json.format,
        generatedBy: json.generatedBy,
        convertedBy: json.convertedBy ?? undefined,
        weightSpecs,
        weightData: concat(buffers),
        signature: json.signature as tf.io.ModelArtifacts["signature"],
        userDefinedMetadata: json
          .userDefinedMetadata as tf.io.ModelArtifacts["userDefinedMetadata"],
        modelInitializer: json.modelInitializer as tf.io.ModelArtifacts["modelInitializer"],
        initializerSignature: json.initializerSignature as tf.io.ModelArtifacts[
          "initializerSignature"
        ],
        trainingConfig: json.trainingConfig as tf.io.ModelArtifacts["trainingConfig"],
      };
    },
  };
}

function concat(buffers: ArrayBuffer[]): ArrayBuffer {
  if (buffers.length === 1) return buffers[0];
  const total = buffers.reduce((s, b) => s + b.byteLength, 0);
  const out = new Uint8Array(total);
  let off = 0;
  for (const b of buffers) {
    out.set(new Uint8Array(b), off);
    off += b.byteLength;
  }
  return out.buffer;
}

/** Options of `fileSaveHandler`. */
export interface FileSaveOptions {
  /** Name of model.json inside the directory. Default: "model.json". */
  modelFileName?: string;
  /** Name of the single weight shard. Default: "weights.bin". */
  weightsFileName?: string;
  /**
   * Merged into model.json's `userDefinedMetadata`. arcstream's exports put
   * `{ arcstream: ArcstreamMetadata }` here (see `ARCSTREAM_METADATA_KEY`). Default: none.
   */
  userDefinedMetadata?: Record<string, unknown>;
}

/**
 * An IOHandler that writes `dir/model.json` + `dir/weights.bin` (dir created if missing), each
 * via a temp file and rename, so a crash never leaves a torn file.
 */
export function fileSaveHandler(dir: string, options: FileSaveOptions = {}): tf.io.IOHandler {
  if (typeof dir !== "string" || dir === "") {
    throw new TypeError("fileSaveHandler() needs a directory path");
  }
  const modelFileName = options.modelFileName ?? "model.json";
  const weightsFileName = options.weightsFileName ?? "weights.bin";
  for (const n of [modelFileName, weightsFileName]) {
    if (n !== basename(n) || n === "") {
      throw new RangeError(`fileSaveHandler(): "${n}" must be a plain file name`);
    }
  }
  return {
    save: async (artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> => {
      if (artifacts.modelTopology instanceof ArrayBuffer) {
        throw new TypeError("fileSaveHandler() cannot save a binary (protobuf) model topology");
      }
      await Deno.mkdir(dir, { recursive: true });
      const data = artifacts.weightData === undefined
        ? new ArrayBuffer(0)
        : Array.isArray(artifacts.weightData)
        ? concat(artifacts.weightData)
        : artifacts.weightData;
      const json: ModelJsonFile = {
        format: artifacts.format,
        generatedBy: artifacts.generatedBy,
        convertedBy: artifacts.convertedBy ?? null,
        modelTopology: artifacts.modelTopology,
        weightsManifest: [{ paths: [weightsFileName], weights: artifacts.weightSpecs ?? [] }],
      };
      if (artifacts.signature != null) json.signature = artifacts.signature;
      if (artifacts.userDefinedMetadata != null || options.userDefinedMetadata) {
        json.userDefinedMetadata = {
          ...artifacts.userDefinedMetadata as Record<string, unknown> | undefined,
          ...options.userDefinedMetadata,
        };
      }
      if (artifacts.modelInitializer != null) json.modelInitializer = artifacts.modelInitializer;
      if (artifacts.initializerSignature != null) {
        json.initializerSignature = artifacts.initializerSignature;
      }
      if (artifacts.trainingConfig != null) json.trainingConfig = artifacts.trainingConfig;
      const jsonText = JSON.stringify(json);
      await writeFileAtomic(join(dir, weightsFileName), new Uint8Array(data));
      await writeFileAtomic(join(dir, modelFileName), new TextEncoder().encode(jsonText));
      return {
        modelArtifactsInfo: {
          dateSaved: new Date(),
          modelTopologyType: "JSON",
          modelTopologyBytes: jsonText.length,
          weightSpecsBytes: JSON.stringify(artifacts.weightSpecs ?? []).length,
          weightDataBytes: data.byteLength,
        },
      };
    },
  };
}

/** A loaded model of either kind, with its model.json. */
export type LoadedModel =
  | { kind: "graph"; model: tf.GraphModel; json: ModelJsonFile }
  | { kind: "layers"; model: tf.LayersModel; json: ModelJsonFile };

/**
 * Loads a graph or layers model from a model.json path, choosing the loader by `detectModelKind`.
 * @example
 * ```ts
 * import { loadModelFile } from "../mod.ts";
 *
 * const loaded = await loadModelFile("runs/lfw-small/export/model.json");
 * console.log(loaded.kind, loaded.json.userDefinedMetadata); // "layers" for arcstream exports
 * loaded.model.dispose();
 * ```
 */
export async function loadModelFile(modelJsonPath: string): Promise<LoadedModel> {
  const json = await readModelJson(modelJsonPath);
  const kind = detectModelKind(json);
  const tfjs = await import("@tensorflow/tfjs");
  const handler = fileLoadHandler(modelJsonPath);
  if (kind === "graph") return { kind, model: await tfjs.loadGraphModel(handler), json };
  return { kind, model: await tfjs.loadLayersModel(handler), json };
}
