/**
 * Maps an insightface arcface_torch MobileFaceNet state dict (`backbones/mobilefacenet.py`,
 * get_mbf / get_mbf_large; MobileFaceNets, arXiv 1804.07573) onto the network built by
 * `nets/mobilefacenet.ts`, whose layers are named after the PyTorch modules
 * (`layers.2.layers.1.layers.0` -> `layers_2_layers_1_layers_0`).
 *
 * - conv `<m>.weight` [O, I, kh, kw] (OIHW) -> `<m>/kernel` [kh, kw, I, O] (HWIO);
 * - grouped / depthwise conv [G*k, k, kh, kw] (k channels per group; 1 for depthwise) ->
 *   `<m>/depthwise_kernel` [kh, kw, G*k, k]: dw[a, b, g*k + i, j] = W[g*k + j, i, a, b];
 * - BatchNorm weight/bias/running_mean/running_var -> gamma/beta/moving_mean/moving_variance
 *   (num_batches_tracked is dropped);
 * - PReLU weight [C] -> alpha [1, 1, C];
 * - Linear `features.layers.2.weight` [D, 512] -> dense kernel [512, D] (the flattened GDC output is
 *   1x1 spatially, so NCHW and NHWC flatten orders agree).
 */
import type * as tfTypes from "@tensorflow/tfjs";
import * as tf from "@tensorflow/tfjs";
import {
  MBF_ARCHS,
  type MbfArch,
  type MbfConfig,
  type MbfConv,
  mbfGdc,
  mbfPlan,
  tfName,
} from "../nets/mobilefacenet.ts";

/** A PyTorch state dict as read from a .pth file (same shape as `torch_checkpoint.ts`'s). */
export type TorchStateDict = Map<string, { shape: number[]; data: Float32Array }>;

/** A TF.js weight (by its original name) with its data in TF.js layout. */
export type TfWeights = Map<string, { shape: number[]; data: Float32Array }>;

const sameShape = (a: number[], b: number[]) =>
  a.length === b.length && a.every((v, i) => v === b[i]);

/** Without a DataParallel / DDP `module.` prefix. */
function stripModule(sd: TorchStateDict): TorchStateDict {
  if (![...sd.keys()].every((k) => k.startsWith("module."))) return sd;
  return new Map([...sd].map(([k, v]) => [k.slice("module.".length), v]));
}

/**
 * Which arcface_torch MobileFaceNet a state dict holds (scale from the stem's channels, blocks
 * from the residual keys), or null when it is not one of get_mbf / get_mbf_large.
 */
export function detectMbfArch(stateDict: TorchStateDict): MbfArch | null {
  const sd = stripModule(stateDict);
  const stem = sd.get("layers.0.layers.0.weight");
  if (!stem || !sd.has("features.layers.2.weight")) return null;
  const scale = stem.shape[0] / 64;
  const count = (stage: number) => {
    if (stage === 1 && sd.has("layers.1.layers.0.weight")) return 1;
    let n = 0;
    while (sd.has(`layers.${stage}.layers.${n}.layers.0.layers.0.weight`)) n++;
    return n;
  };
  const blocks = [count(1), count(3), count(5), count(7)];
  for (const [arch, spec] of Object.entries(MBF_ARCHS)) {
    if (spec.scale === scale && sameShape(spec.blocks, blocks)) return arch as MbfArch;
  }
  return null;
}

/** TF.js weights of one conv unit (conv, BN, PReLU) from the state dict; marks the keys used. */
function unitWeights(
  u: MbfConv,
  take: (k: string, s: number[]) => Float32Array,
  out: TfWeights,
) {
  const conv = `${u.path}.layers.0`, bn = `${u.path}.layers.1`, act = `${u.path}.layers.2`;
  const k = u.inC / u.groups; // input (and output) channels per group
  const kk = u.kernel;
  if (u.groups === 1) {
    const w = take(`${conv}.weight`, [u.outC, u.inC, kk, kk]);
    const hwio = new Float32Array(w.length);
    for (let o = 0; o < u.outC; o++) {
      for (let i = 0; i < u.inC; i++) {
        for (let a = 0; a < kk; a++) {
          for (let b = 0; b < kk; b++) {
            hwio[((a * kk + b) * u.inC + i) * u.outC + o] = w[((o * u.inC + i) * kk + a) * kk + b];
          }
        }
      }
    }
    out.set(`${tfName(conv)}/kernel`, { shape: [kk, kk, u.inC, u.outC], data: hwio });
  } else {
    const w = take(`${conv}.weight`, [u.outC, k, kk, kk]);
    const dw = new Float32Array(w.length);
    for (let g = 0; g < u.groups; g++) {
      for (let i = 0; i < k; i++) {
        for (let j = 0; j < k; j++) {
          for (let a = 0; a < kk; a++) {
            for (let b = 0; b < kk; b++) {
              dw[((a * kk + b) * u.inC + g * k + i) * k + j] =
                w[(((g * k + j) * k + i) * kk + a) * kk + b];
            }
          }
        }
      }
    }
    out.set(`${tfName(conv)}/depthwise_kernel`, { shape: [kk, kk, u.inC, k], data: dw });
  }
  bnWeights(bn, u.outC, take, out);
  if (u.prelu) {
    out.set(`${tfName(act)}/alpha`, {
      shape: [1, 1, u.outC],
      data: take(`${act}.weight`, [u.outC]),
    });
  }
}

function bnWeights(
  path: string,
  c: number,
  take: (k: string, s: number[]) => Float32Array,
  out: TfWeights,
) {
  const name = tfName(path);
  out.set(`${name}/gamma`, { shape: [c], data: take(`${path}.weight`, [c]) });
  out.set(`${name}/beta`, { shape: [c], data: take(`${path}.bias`, [c]) });
  out.set(`${name}/moving_mean`, { shape: [c], data: take(`${path}.running_mean`, [c]) });
  out.set(`${name}/moving_variance`, { shape: [c], data: take(`${path}.running_var`, [c]) });
}

/**
 * The TF.js weights (original names, TF.js layouts) of `config`'s MobileFaceNet from an
 * arcface_torch state dict. Throws a RangeError naming the first missing, misshapen or unused key.
 */
export function mbfWeightsFromTorch(stateDict: TorchStateDict, config: MbfConfig): TfWeights {
  const sd = stripModule(stateDict);
  const used = new Set<string>();
  const take = (key: string, shape: number[]) => {
    const t = sd.get(key);
    if (!t) {
      throw new RangeError(`The state dict has no "${key}" (not an arcface_torch ${config.arch}?)`);
    }
    if (!sameShape(t.shape, shape)) {
      throw new RangeError(
        `State-dict tensor "${key}" has shape [${t.shape}], expected [${shape}]`,
      );
    }
    used.add(key);
    return t.data;
  };
  const out: TfWeights = new Map();
  for (const block of mbfPlan(config)) for (const u of block.convs) unitWeights(u, take, out);
  unitWeights(mbfGdc(config), take, out);
  const lin = take("features.layers.2.weight", [config.embeddingSize, 512]); // [D, 512]
  const kernel = new Float32Array(lin.length);
  for (let d = 0; d < config.embeddingSize; d++) {
    for (let i = 0; i < 512; i++) kernel[i * config.embeddingSize + d] = lin[d * 512 + i];
  }
  out.set("features_layers_2/kernel", { shape: [512, config.embeddingSize], data: kernel });
  bnWeights("features.layers.3", config.embeddingSize, take, out);
  const unused = [...sd.keys()].filter((k) => !used.has(k) && !k.endsWith("num_batches_tracked"));
  if (unused.length > 0) {
    throw new RangeError(
      `The state dict has ${unused.length} key(s) a ${config.arch} does not, e.g. "${unused[0]}"`,
    );
  }
  return out;
}

/**
 * Writes an arcface_torch state dict into `model` (built by `buildMobileFaceNet(config)`); every
 * weight but the fixed group-sum kernels must come from it.
 */
export function loadTorchMbf(
  model: tfTypes.LayersModel,
  stateDict: TorchStateDict,
  config: MbfConfig,
): void {
  const weights = mbfWeightsFromTorch(stateDict, config);
  for (const w of model.weights) {
    const src = weights.get(w.originalName);
    if (!src) {
      if (w.originalName.endsWith("_groupsum/depthwise_kernel")) continue;
      throw new RangeError(`No PyTorch weight maps onto "${w.originalName}" (other network?)`);
    }
    if (!sameShape(src.shape, w.shape as number[])) {
      throw new RangeError(
        `"${w.originalName}" is [${w.shape}], the state dict gives [${src.shape}]`,
      );
    }
    const t = tf.tensor(src.data, src.shape);
    w.write(t);
    t.dispose();
    weights.delete(w.originalName);
  }
  if (weights.size > 0) {
    throw new RangeError(`The model has no weight "${[...weights.keys()][0]}" (other network?)`);
  }
}
