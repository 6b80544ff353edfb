/**
 * The file side of `Embedder` (Deno): a model.json path -> an embedder that owns the model. Kept
 * apart from embed_stream.ts so that the embedder itself has no file access and runs in a browser.
 */
import { loadModelFile } from "../io/model_io.ts";
import { Embedder, type EmbedderOptions } from "./embed_stream.ts";

/**
 * Loads a model.json (graph or layers) and returns an embedder owning it; `dispose()` frees it.
 * @example
 * ```ts
 * const embedder = await loadEmbedder("runs/r50/export/model.json", { flip: true });
 * ```
 */
export async function loadEmbedder(
  modelJsonPath: string,
  options: EmbedderOptions = {},
): Promise<Embedder> {
  return Embedder.owning(await loadModelFile(modelJsonPath), options);
}
