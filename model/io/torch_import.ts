/**
 * Imports a PyTorch backbone (insightface arcface_torch) as an arcstream TF.js export + checkpoint.
 *
 * Which network a state dict is comes from a small table of key patterns: adding a backbone
 * (e.g. MobileFaceNet, `torch_mbf.ts`) is one entry in `TORCH_IMPORTERS`.
 */
import type * as tfTypes from "@tensorflow/tfjs";
import { join } from "node:path";
import { saveCheckpoint } from "../train/checkpoint.ts";
import { ARCSTREAM_METADATA_KEY, fileSaveHandler } from "./model_io.ts";
import { readTorchCheckpoint, type TorchStateDict } from "./torch_checkpoint.ts";
import { importTorchIResNet, isTorchIResNet } from "./torch_iresnet.ts";
import { detectMbfArch, loadTorchMbf } from "./torch_mbf.ts";

/** What an importer returns: a built backbone holding the weights (caller disposes). */
export interface ImportedBackbone {
  model: tfTypes.LayersModel;
  /** The backbone's arcstream config (saved in the export and the checkpoint). */
  config: { inputSize: number; embeddingSize: number } & Record<string, unknown>;
}

export interface TorchImporter {
  /** Network family, e.g. "iresnet" (recorded in the metadata). */
  family: string;
  /** True when the state dict's keys are this network's. */
  matches(sd: TorchStateDict): boolean;
  load(sd: TorchStateDict, name: string): Promise<ImportedBackbone>;
}

/** The dispatch table, tried in order. */
export const TORCH_IMPORTERS: TorchImporter[] = [
  { family: "iresnet", matches: isTorchIResNet, load: importTorchIResNet },
  { family: "mbf", matches: (sd) => detectMbfArch(sd) !== null, load: importTorchMbf },
];

/** arcface_torch's MobileFaceNet (get_mbf / get_mbf_large): arch and embedding from the keys. */
async function importTorchMbf(sd: TorchStateDict): Promise<ImportedBackbone> {
  const { buildMobileFaceNet, mbfConfig } = await import("../nets/mobilefacenet.ts");
  const { networkConfig } = await import("../nets/network.ts");
  const arch = detectMbfArch(sd)!;
  const lin = sd.get("features.layers.2.weight") ?? sd.get("module.features.layers.2.weight");
  const config = mbfConfig({ arch, embeddingSize: lin?.shape[0] ?? 512 });
  const model = buildMobileFaceNet(config);
  try {
    loadTorchMbf(model, sd, config);
  } catch (e) {
    model.dispose();
    throw e;
  }
  const network = networkConfig({ arch, embeddingSize: config.embeddingSize, dropout: 0 });
  return { model, config: { ...network } };
}

/**
 * Reads `path` and builds the backbone it holds, or says why not.
 * @example
 * ```ts
 * import { importTorchBackbone } from "../mod.ts";
 *
 * const backbone = await importTorchBackbone("fixtures/torch/iresnet_tiny.pth");
 * console.log(backbone.family, backbone.config);
 * backbone.model.dispose();
 * ```
 */
export async function importTorchBackbone(
  path: string,
): Promise<ImportedBackbone & { family: string }> {
  const sd = await readTorchCheckpoint(path);
  const imp = TORCH_IMPORTERS.find((i) => i.matches(sd));
  if (!imp) {
    const keys = [...sd.keys()].slice(0, 6).join(", ");
    throw new RangeError(
      `Cannot import "${path}": its keys (${keys}, ...) match no known arcface_torch backbone ` +
        `(${TORCH_IMPORTERS.map((i) => i.family).join(", ")})`,
    );
  }
  return { ...(await imp.load(sd, path)), family: imp.family };
}

/** Files written by `writeImported`. */
export interface ImportOutput {
  modelJson: string;
  checkpoint: string;
}

/**
 * Writes `dir/model.json` + `weights.bin` (TF.js LayersModel; metadata: arcface_torch's input,
 * RGB `(x / 255 - 0.5) / 0.5`) and `dir/ckpt-00000000.arcs` (the backbone as `model/<layer>/<w>`
 * tensors, `meta.config.network` = the config), both atomically.
 * @example
 * ```ts
 * import { importTorchBackbone, writeImported } from "../mod.ts";
 *
 * const backbone = await importTorchBackbone("fixtures/torch/iresnet_tiny.pth");
 * const out = await writeImported(backbone, await Deno.makeTempDir(), "iresnet_tiny.pth");
 * console.log(out.modelJson, out.checkpoint);
 * backbone.model.dispose();
 * ```
 */
export async function writeImported(
  b: ImportedBackbone & { family: string },
  dir: string,
  source: string,
): Promise<ImportOutput> {
  const name = `${b.family}${b.config.depth ?? ""}`;
  b.model.setUserDefinedMetadata({
    [ARCSTREAM_METADATA_KEY]: {
      normalize: "arcface_torch",
      inputSize: b.config.inputSize,
      embeddingSize: b.config.embeddingSize,
      network: name,
      width: b.config.width,
      source,
      importedFrom: "arcface_torch",
      networkConfig: b.config,
    },
  });
  await b.model.save(fileSaveHandler(dir));
  const tensors = new Map<string, tfTypes.Tensor>();
  for (const w of b.model.weights) tensors.set(`model/${w.originalName}`, w.read());
  const checkpoint = await saveCheckpoint(
    dir,
    {
      step: 0,
      epoch: 0,
      cursor: null,
      seeds: {},
      config: { network: b.config, family: b.family, source, normalize: "arcface_torch" },
    },
    tensors,
    1,
  );
  return { modelJson: join(dir, "model.json"), checkpoint };
}
