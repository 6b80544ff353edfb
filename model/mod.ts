/**
 * The model side's public API: the backbones (IR-ResNet, MobileFaceNet), the ArcFace margin head,
 * the Trainer and the training loop (`runTraining`), the LFW evaluator, and model import/export
 * (TF.js files, ONNX, arcface_torch checkpoints). Re-exports only; the data pipeline is in
 * `pipeline/mod.ts`.
 *
 * @example
 * ```ts
 * import { initBackend, presetConfig, runTraining, withSteps } from "./mod.ts";
 *
 * await initBackend({}); // the best backend this machine has (wasm on a CPU)
 * const config = withSteps(presetConfig("lfw-small"), 20);
 * const summary = await runTraining({ config, out: await Deno.makeTempDir() });
 * console.log(summary);
 * ```
 * @module
 */

// Backend choice (TF.js: tensorflow, webgpu, wasm, cpu).
export { type BackendInfo, type BackendOptions, initBackend } from "./backend/backend.ts";

// Backbones.
export { buildIResNet, iresnetConfig, type IResNetOptions } from "./nets/iresnet.ts";
export { buildMobileFaceNet, mbfConfig, type MbfOptions } from "./nets/mobilefacenet.ts";
export {
  buildNetwork,
  type NetworkConfig,
  networkConfig,
  type NetworkOptions,
} from "./nets/network.ts";

// ArcFace (and the other margins of the combined-margin family).
export { marginConfig, MarginHead, marginLogits, type MarginOptions } from "./loss/arcface.ts";

// Training: the Trainer (one step), the training loop (a run folder), presets, schedule.
export { type StepMetrics, Trainer, type TrainerOptions } from "./train/trainer.ts";
export { runTraining } from "./train/train_loop.ts";
export type { RunOptions, RunSummary } from "./train/run_types.ts";
export {
  DEFAULT_PRESET,
  presetConfig,
  PRESETS,
  type TrainConfig,
  withSteps,
} from "./train/presets.ts";
export { latestCheckpoint, loadCheckpoint } from "./train/checkpoint.ts";

// Evaluation: embeddings and the 10-fold verification protocol.
export {
  Embedder,
  type EmbedderOptions,
  type EmbeddingRecord,
  embedImages,
  EmbedStream,
  type EmbedStreamOptions,
} from "./eval/embed_stream.ts";
export { loadEmbedder } from "./eval/load_embedder.ts";
export {
  evaluateVerification,
  pairDistances,
  type VerificationOptions,
  type VerificationResult,
} from "./eval/verification.ts";

// Import and export: TF.js model files, ONNX, arcface_torch checkpoints.
export { type LoadedModel, loadModelFile } from "./io/model_io.ts";
export { convertToOnnx, exportOnnxFile, type OnnxExportOptions } from "./io/onnx_export.ts";
export { importTorchBackbone, writeImported } from "./io/torch_import.ts";
export { readTorchCheckpoint } from "./io/torch_checkpoint.ts";
