/**
 * `deno task train --init-from FILE`: start a run from a backbone's weights (fine-tuning) with a
 * fresh margin head sized to the new data. FILE is an arcface_torch `.pth`, an arcstream `.arcs`
 * checkpoint (a training run's or `import-torch`'s) or an arcstream `model.json` export.
 */
import type * as tfTypes from "@tensorflow/tfjs";
import { asNetworkConfig, type NetworkConfig } from "../nets/network.ts";
import type { IResNetOptions } from "../nets/iresnet.ts";
import { loadCheckpoint } from "../train/checkpoint.ts";
import { arcstreamMetadata, loadModelFile } from "./model_io.ts";
import { importTorchBackbone } from "./torch_import.ts";

/** A backbone read from a file: its network options and weights by "<layer>/<weight>". */
export interface InitBackbone {
  path: string;
  /** The source's network (depth, width, input, embedding, BN epsilon, padding...). */
  network: IResNetOptions;
  weights: Map<string, { shape: number[]; data: Float32Array }>;
}

/** Reads the backbone of `path` (by extension: .pth/.pt, .arcs, .json). */
export async function readInitBackbone(path: string): Promise<InitBackbone> {
  const weights = new Map<string, { shape: number[]; data: Float32Array }>();
  const take = (name: string, t: tfTypes.Tensor) =>
    weights.set(name, { shape: [...t.shape], data: Float32Array.from(t.dataSync()) });
  if (/\.(pth|pt)$/i.test(path)) {
    const b = await importTorchBackbone(path);
    for (const w of b.model.weights) take(w.originalName, w.read());
    b.model.dispose();
    return { path, network: b.config as IResNetOptions, weights };
  }
  if (/\.arcs$/i.test(path)) {
    const ck = await loadCheckpoint(path);
    try {
      const network = (ck.meta.config as { network?: IResNetOptions })?.network;
      if (!network) throw new Error(`Cannot init from "${path}": its config has no network`);
      for (const [k, t] of ck.tensors) if (k.startsWith("model/")) take(k.slice(6), t);
      return { path, network, weights };
    } finally {
      ck.tensors.forEach((t) => t.dispose());
    }
  }
  if (/\.json$/i.test(path)) {
    const loaded = await loadModelFile(path);
    if (loaded.kind !== "layers") throw new Error(`Cannot init from "${path}": a graph model`);
    try {
      for (const w of loaded.model.weights) take(w.originalName, w.read());
      return { path, network: exportNetwork(path, loaded.model, loaded.json), weights };
    } finally {
      loaded.model.dispose();
    }
  }
  throw new RangeError(`Cannot init from "${path}": expected a .pth, .arcs or model.json`);
}

/** The network options of an arcstream export, from its metadata and layers. */
function exportNetwork(
  path: string,
  model: tfTypes.LayersModel,
  json: Parameters<typeof arcstreamMetadata>[0],
): IResNetOptions {
  const meta = arcstreamMetadata(json);
  if (meta?.networkConfig) return meta.networkConfig as IResNetOptions;
  const depth = Number(/^iresnet(\d+)$/.exec(String(meta?.network ?? ""))?.[1]);
  if (!meta || !depth) {
    throw new Error(`Cannot init from "${path}": not an arcstream IR-ResNet export (no metadata)`);
  }
  const bn = model.getLayer("stem_bn").getConfig() as { epsilon?: number };
  const padded = model.layers.some((l) => l.name.endsWith("_pad"));
  return {
    depth,
    width: Number(meta.width ?? 1),
    inputSize: meta.inputSize,
    embeddingSize: meta.embeddingSize,
    bnEpsilon: bn.epsilon,
    stridePadding: padded ? "symmetric" : "same",
  };
}

/**
 * The training config's network with the source's architecture (dropout and seed stay the run's).
 */
export function initNetwork(network: NetworkConfig, src: InitBackbone): NetworkConfig {
  const from = asNetworkConfig(src.network);
  // The source's family wins; a MobileFaceNet has no dropout layer, an IR-ResNet source keeps the
  // run's dropout (0 when the run was a MobileFaceNet).
  if (from.kind === "mobilefacenet") return { ...from, seed: network.seed };
  const { dropout: _d, seed: _s, ...arch } = from;
  const dropout = network.kind === "iresnet" ? network.dropout : 0;
  return { ...(network.kind === "iresnet" ? network : {}), ...arch, dropout, seed: network.seed };
}

/** Writes `src`'s weights into `model`; a missing or mis-shaped weight is an error naming it. */
export async function initBackboneFrom(src: InitBackbone, model: tfTypes.LayersModel) {
  const tf = await import("@tensorflow/tfjs");
  for (const w of model.weights) {
    const s = src.weights.get(w.originalName);
    if (!s) throw new RangeError(`Cannot init from "${src.path}": no weight "${w.originalName}"`);
    if (s.shape.join() !== w.shape.join()) {
      throw new RangeError(
        `Cannot init from "${src.path}": weight "${w.originalName}" has shape [${s.shape}], ` +
          `the network wants [${w.shape}]`,
      );
    }
    const t = tf.tensor(s.data, s.shape, "float32");
    w.write(t);
    t.dispose();
  }
}
