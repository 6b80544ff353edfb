/**
 * Face embeddings as insightface computes them for verification (ArcFace, arXiv 1801.07698, and
 * `eval/verification.py`): embedding = L2-normalize(f(x) + f(flip(x))), with x the aligned face
 * normalized as the model was trained, and flip the horizontal mirror.
 *
 * `Embedder` wraps any TF.js graph or layers model with NHWC RGB input; `EmbedStream` batches
 * `ImageRecord`/`FaceRecord`s through it; `embedImages` is the one-call form for the trainer.
 */
import * as tf from "@tensorflow/tfjs";
import type { ImageRecord, RgbImage } from "../../pipeline/records.ts";
import {
  networkInput,
  NORMALIZE_MODES,
  type NormalizeMode,
} from "../../pipeline/decode/network_input.ts";
import { arcstreamMetadata, type ModelJsonFile } from "../io/model_json.ts";

export { NORMALIZE_MODES, type NormalizeMode, type RgbImage };

/** What `EmbedStream` emits. */
export interface EmbeddingRecord {
  key: string;
  /** L2-normalized, length = the model's embedding size. */
  embedding: Float32Array;
}

/** Options of `Embedder`. */
export interface EmbedderOptions {
  /**
   * Square input side; other sizes are resized by `networkInput()` (area when shrinking, as in
   * training).
   * @default the model's, else 112
   */
  inputSize?: number;
  /**
   * Pixel normalization.
   * @default the model's arcstream metadata, else "arcface"
   */
  normalize?: NormalizeMode;
  /**
   * Output to use (graph node or layer name).
   * @default the only one, else the widest
   */
  output?: string;
  /**
   * Add the embedding of the mirrored image.
   * @default {true}
   */
  flip?: boolean;
}

/** A model output with its shape where the model declares it. */
export interface ModelOutput {
  name: string;
  shape: (number | null)[] | null;
}

type AnyModel = tf.GraphModel | tf.LayersModel;
const isGraph = (m: AnyModel): m is tf.GraphModel => "executeAsync" in m;

/** Outputs of a model (graph: signature shapes when present; layers: output shapes). */
export function listOutputs(model: AnyModel, json?: ModelJsonFile): ModelOutput[] {
  if (isGraph(model)) {
    const sig = (json?.signature as {
      outputs?: Record<string, { name?: string; tensorShape?: { dim?: { size: string }[] } }>;
    })
      ?.outputs ?? {};
    return model.outputNodes.map((name) => {
      const bare = name.replace(/:0$/, "");
      const s = Object.values(sig).find((o) => (o.name ?? "").replace(/:0$/, "") === bare);
      const dims = s?.tensorShape?.dim?.map((d) => (Number(d.size) < 0 ? null : Number(d.size)));
      return { name, shape: dims ?? null };
    });
  }
  return model.outputs.map((o, i) => ({
    name: model.outputNames[i] ?? o.name,
    shape: o.shape.map((d) => d ?? null),
  }));
}

/**
 * Runs a model on faces with the flip test; owns nothing unless created by `Embedder.owning`.
 * @example
 * ```ts
 * import { decodeImage } from "../../pipeline/mod.ts";
 * import { loadEmbedder } from "../mod.ts";
 *
 * const embedder = await loadEmbedder("runs/lfw-small/export/model.json"); // flip test on
 * const face = await decodeImage("fixtures/lfw_faces/train/Adrien_Brody/Adrien_Brody_0001.jpg");
 * const [embedding] = await embedder.embed([face]); // unit length, [embeddingSize]
 * console.log(embedding.length);
 * ```
 */
export class Embedder {
  readonly model: AnyModel;
  readonly inputSize: number;
  readonly normalize: NormalizeMode;
  readonly output: string;
  readonly flip: boolean;
  #owned: boolean;
  #needsAsync = false;
  #outputIndex: number;

  /** `json` (the model.json) supplies output shapes and arcstream metadata when given. */
  constructor(model: AnyModel, options: EmbedderOptions = {}, json?: ModelJsonFile) {
    this.model = model;
    this.#owned = false;
    const inShape = isGraph(model) ? model.inputs[0]?.shape : model.inputs[0]?.shape;
    if (inShape && (inShape.length !== 4 || (inShape[3] !== 3 && inShape[3] !== -1))) {
      throw new RangeError(`The model's input is [${inShape}], not an NHWC RGB image batch`);
    }
    const side = inShape?.[1];
    this.inputSize = options.inputSize ?? (typeof side === "number" && side > 0 ? side : 112);
    if (!Number.isInteger(this.inputSize) || this.inputSize < 1) {
      throw new RangeError(`inputSize must be a positive integer, got ${this.inputSize}`);
    }
    const meta = json ? arcstreamMetadata(json) : null;
    this.normalize = options.normalize ?? meta?.normalize ?? "arcface";
    if (!NORMALIZE_MODES.includes(this.normalize)) {
      throw new RangeError(
        `normalize must be one of ${NORMALIZE_MODES.join(", ")}: "${this.normalize}"`,
      );
    }
    this.flip = options.flip ?? true;
    const outs = listOutputs(model, json);
    const wanted = options.output;
    if (wanted !== undefined) {
      const bare = (n: string) => n.replace(/:0$/, "");
      this.#outputIndex = outs.findIndex((o) => bare(o.name) === bare(wanted));
      if (this.#outputIndex < 0) {
        throw new RangeError(
          `The model has no output "${options.output}"; it has: ${
            outs.map((o) => o.name).join(", ")
          }`,
        );
      }
    } else if (outs.length === 1) {
      this.#outputIndex = 0;
    } else {
      const widths = outs.map((o) => o.shape?.[o.shape.length - 1] ?? -1);
      const best = Math.max(...widths);
      if (best <= 0) {
        throw new RangeError(
          `The model has ${outs.length} outputs (${
            outs.map((o) => o.name).join(", ")
          }): pick one with output`,
        );
      }
      this.#outputIndex = widths.indexOf(best);
    }
    this.output = outs[this.#outputIndex].name;
  }

  /**
   * An embedder that owns an already loaded model (`dispose()` frees it; on a bad option the
   * model is freed and the error thrown). Files: `loadEmbedder()` (load_embedder.ts, Deno); the
   * browser loads over HTTP with `tf.loadLayersModel(url)` and comes here.
   */
  static owning(
    loaded: { model: AnyModel; json?: ModelJsonFile },
    options: EmbedderOptions = {},
  ): Embedder {
    try {
      const e = new Embedder(loaded.model, options, loaded.json);
      e.#owned = true;
      return e;
    } catch (err) {
      loaded.model.dispose();
      throw err;
    }
  }

  /**
   * `images` as one input batch [B, S, S, 3] float32, each made by `networkInput()`: the rule
   * training batches use (pipeline/decode/network_input.ts), so eval sees what training saw.
   */
  inputBatch(images: RgbImage[]): tf.Tensor4D {
    const S = this.inputSize;
    const n = S * S * 3;
    const data = new Float32Array(images.length * n);
    images.forEach((im, i) => {
      if (im.pixels.length !== im.height * im.width * 3) {
        throw new RangeError(
          `Image ${i}: ${im.pixels.length} bytes is not ${im.height}x${im.width}x3`,
        );
      }
      networkInput(im, { size: S, normalize: this.normalize, out: data, offset: i * n });
    });
    return tf.tensor4d(data, [images.length, S, S, 3]);
  }

  /** Embeds a batch: one forward pass on [x; flip(x)], returns L2-normalized embeddings. */
  async embed(images: RgbImage[]): Promise<Float32Array[]> {
    if (images.length === 0) return [];
    const t = tf;
    const B = images.length;
    // [2B, S, S, 3] when flipping (mirror along width), else [B, S, S, 3]
    const x = t.tidy(() => {
      const a = this.inputBatch(images);
      return this.flip ? t.concat([a, t.reverse(a, 2)], 0) : a;
    });
    let out: tf.Tensor | tf.Tensor[] | undefined;
    let data: Float32Array;
    let D: number;
    try {
      if (isGraph(this.model)) {
        // execute() is synchronous; models with control flow need executeAsync().
        if (!this.#needsAsync) {
          try {
            out = this.model.execute(x, this.output);
          } catch (e) {
            if (!/executeAsync/.test((e as Error).message)) throw e;
            this.#needsAsync = true;
          }
        }
        if (this.#needsAsync) out = await this.model.executeAsync(x, this.output);
      } else {
        out = this.model.predict(x) as tf.Tensor | tf.Tensor[];
      }
      const o = out!;
      const y = Array.isArray(o) ? o[o.length > 1 ? this.#outputIndex : 0] : o;
      D = y.size / y.shape[0];
      data = (await y.data()) as Float32Array;
    } finally {
      x.dispose();
      if (out) t.dispose(out);
    }
    const res: Float32Array[] = [];
    for (let i = 0; i < B; i++) {
      const e = new Float64Array(D);
      for (let k = 0; k < D; k++) e[k] = data[i * D + k] + (this.flip ? data[(B + i) * D + k] : 0);
      let n = 0;
      for (let k = 0; k < D; k++) n += e[k] * e[k];
      n = Math.sqrt(n);
      if (!(n > 0) || !Number.isFinite(n)) {
        throw new RangeError(
          `Embedding ${i} of the batch has norm ${n} (model output is degenerate)`,
        );
      }
      res.push(Float32Array.from(e, (v) => v / n));
    }
    return res;
  }

  /** Frees the model if this embedder loaded it. */
  dispose(): void {
    if (this.#owned) this.model.dispose();
    this.#owned = false;
  }
}

/** Options of `EmbedStream`. */
export interface EmbedStreamOptions {
  /**
   * Images per forward pass (twice that with the flip).
   * @default {32}
   */
  batchSize?: number;
}

/**
 * Batches decoded/aligned images through an `Embedder`; emits `{ key, embedding }` in order.
 * @example
 * ```ts
 * import { DecodeStream, ListReaderStream } from "../../pipeline/mod.ts";
 * import { EmbedStream, loadEmbedder } from "../mod.ts";
 *
 * const faces = new ListReaderStream({ root: "fixtures/lfw_faces/train" })
 *   .pipeThrough(new DecodeStream());
 * const embedder = await loadEmbedder("runs/r50/export/model.json");
 * const out = faces.pipeThrough(new EmbedStream(embedder, { batchSize: 32 }));
 * for await (const { key, embedding } of out) console.log(key, embedding.length);
 * ```
 */
export class EmbedStream extends TransformStream<ImageRecord, EmbeddingRecord> {
  constructor(embedder: Embedder, options: EmbedStreamOptions = {}) {
    const batchSize = options.batchSize ?? 32;
    if (!Number.isInteger(batchSize) || batchSize < 1) {
      throw new RangeError(`batchSize must be a positive integer, got ${batchSize}`);
    }
    let buf: ImageRecord[] = [];
    const run = async (controller: TransformStreamDefaultController<EmbeddingRecord>) => {
      const recs = buf;
      buf = [];
      const embs = await embedder.embed(recs);
      recs.forEach((r, i) => controller.enqueue({ key: r.key, embedding: embs[i] }));
    };
    super({
      async transform(rec, controller) {
        buf.push(rec);
        if (buf.length >= batchSize) await run(controller);
      },
      async flush(controller) {
        if (buf.length) await run(controller);
      },
    });
  }
}

/**
 * Embeds aligned images with a model (for the trainer's held-out check): batches of `batchSize`,
 * flip test, L2-normalized. Does not dispose the model.
 * @example
 * ```ts
 * import { decodeImage } from "../../pipeline/mod.ts";
 * import { buildIResNet, embedImages } from "../mod.ts";
 *
 * const model = buildIResNet({ depth: 18, width: 0.25, inputSize: 64 });
 * const face = await decodeImage("fixtures/lfw_faces/train/Adrien_Brody/Adrien_Brody_0001.jpg");
 * const [embedding] = await embedImages(model, [face], { inputSize: 64, batchSize: 16 });
 * console.log(embedding.length); // 512
 * model.dispose();
 * ```
 */
export async function embedImages(
  model: AnyModel,
  images: RgbImage[],
  options: EmbedderOptions & EmbedStreamOptions = {},
): Promise<Float32Array[]> {
  const embedder = new Embedder(model, options);
  const bs = options.batchSize ?? 32;
  const out: Float32Array[] = [];
  for (let i = 0; i < images.length; i += bs) {
    out.push(...await embedder.embed(images.slice(i, i + bs)));
  }
  return out;
}
