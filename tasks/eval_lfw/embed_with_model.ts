/**
 * eval-lfw's `--model` path: loads the model on a TF.js backend and embeds the images (MTCNN
 * alignment unless aligned, an optional embedding cache), logging progress every 5 s.
 */
import { basename } from "node:path";
import { arcstreamMetadata, readModelJson } from "../../model/io/model_io.ts";
import type { NoFacePolicy } from "../../pipeline/align/align_stream.ts";
import type { NormalizeMode } from "../../model/eval/embed_stream.ts";
import type { EmbedAllResult, EvalImage } from "../../model/eval/embed_images.ts";
import { UsageError } from "../cli.ts";

/** What embedding with a model needs (a subset of eval-lfw's options). */
export interface ModelEmbedOptions {
  model: string;
  inputSize?: number;
  normalize?: NormalizeMode;
  output?: string;
  /** The images are aligned faces: skip MTCNN. */
  aligned: boolean;
  /** Aligned JPEGs: decode at the DCT scale covering the input ("auto") or whole ("off"). */
  dctScale?: "auto" | "off";
  onMissing: NoFacePolicy;
  batchSize: number;
  backend: string;
  cache?: string;
}

export interface ModelEmbeddings {
  result: EmbedAllResult;
  /** The report's `model` entry. */
  model: Record<string, unknown>;
  /** The TF.js backend used. */
  backend: string;
}

/** Embeds `images` (used by `pairCount` pairs) with the model `o.model`. */
export async function embedWithModel(
  o: ModelEmbedOptions,
  images: EvalImage[],
  pairCount: number,
  log: (line: string) => void,
): Promise<ModelEmbeddings> {
  const json = await readModelJson(o.model);
  const meta = arcstreamMetadata(json);
  if (!meta && !o.normalize) {
    throw new UsageError(
      `"${o.model}" is not an arcstream export: say how it wants its pixels, --normalize arcface|raw|unit|arcface_torch`,
    );
  }
  const { initBackend } = await import("../../model/backend/backend.ts");
  const backend = (await initBackend({ backend: o.backend as "auto" })).name;
  const { loadEmbedder } = await import("../../model/eval/load_embedder.ts");
  const { embedAll } = await import("../../model/eval/embed_images.ts");
  const embedder = await loadEmbedder(o.model, {
    inputSize: o.inputSize ?? meta?.inputSize,
    normalize: o.normalize,
    output: o.output,
  });
  const model = {
    path: o.model,
    inputSize: embedder.inputSize,
    normalize: embedder.normalize,
    output: embedder.output,
    flip: embedder.flip,
    arcstream: meta,
  };
  log(
    `eval-lfw: ${images.length} images for ${pairCount} pairs; model ${basename(o.model)} ` +
      `(input ${embedder.inputSize}, ${embedder.normalize}, output ${embedder.output}) on ${backend}`,
  );
  const { EmbeddingCache } = await import("../../model/eval/embedding_cache.ts");
  const cache = o.cache
    ? await EmbeddingCache.open(o.cache, {
      model: model,
      aligned: o.aligned,
      ...(o.aligned && o.dctScale === "off" ? { dctScale: "off" } : {}),
    })
    : undefined;
  if (cache) log(`  cache ${o.cache}: ${cache.done.size} embeddings already there`);
  try {
    const result = await embedAll(images, embedder, {
      aligned: o.aligned,
      dctScale: o.dctScale,
      onMissing: o.onMissing,
      batchSize: o.batchSize,
      cache,
      progress: progressLog(log),
    });
    return { result, model, backend };
  } finally {
    await cache?.close();
    embedder.dispose();
  }
}

/** A progress callback logging done/total, images/s and the ETA at most every 5 s. */
function progressLog(log: (line: string) => void): (done: number, total: number) => void {
  let last = performance.now();
  const t0 = last;
  return (done, total) => {
    const now = performance.now();
    if (total === 0 || (now - last < 5000 && done < total)) return;
    last = now;
    const rate = done / ((now - t0) / 1000);
    log(
      `  ${done}/${total} images, ${rate.toFixed(2)} img/s, ETA ${
        ((total - done) / rate / 60).toFixed(1)
      } min`,
    );
  };
}
