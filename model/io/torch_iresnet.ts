/**
 * Maps an insightface arcface_torch IResNet state dict (recognition/arcface_torch/backbones/
 * iresnet.py: `conv1`, `bn1`, `prelu`, `layerK.i.{bn1,conv1,bn2,prelu,conv2,bn3,downsample.0,
 * downsample.1}`, `bn2`, `fc`, `features`) onto arcstream's IR-ResNet (`model/nets/iresnet.ts`,
 * ArcFace, arXiv 1801.07698).
 *
 * Layouts: conv OIHW -> HWIO; PReLU [C] -> [1, 1, C]; `fc.weight` [out, in] -> kernel [in, out]
 * with its input columns reordered from torch's C,H,W flatten order to NHWC's H,W,C; BN weight /
 * bias / running_mean / running_var -> gamma / beta / moving_mean / moving_variance. Depth and
 * widths come from the keys and shapes; the imported network uses arcface_torch's BN epsilon 1e-5,
 * PyTorch's symmetric padding of strided convolutions and a fixed output-BN scale.
 */
import type * as tfTypes from "@tensorflow/tfjs";
import {
  buildIResNet,
  IRESNET_UNITS,
  type IResNetConfig,
  iresnetConfig,
  scaledWidth,
} from "../nets/iresnet.ts";
import type { TorchStateDict } from "./torch_checkpoint.ts";

const STAGE_BASE = [64, 128, 256, 512];

/** True when a state dict looks like arcface_torch's IResNet (the dispatch table's test). */
export function isTorchIResNet(sd: TorchStateDict): boolean {
  return sd.has("layer1.0.conv1.weight") && sd.has("features.running_mean") && sd.has("fc.weight");
}

/** The arcstream config an arcface_torch IResNet state dict describes (dropout 0). */
export function torchIResNetConfig(sd: TorchStateDict, name = "<state dict>"): IResNetConfig {
  const fail = (why: string) => new RangeError(`Cannot map "${name}" onto an IR-ResNet: ${why}`);
  const shape = (k: string) => {
    const t = sd.get(k);
    if (!t) throw fail(`missing key "${k}"`);
    return t.shape;
  };
  const stem = shape("conv1.weight")[0];
  const width = stem / 64;
  const units: number[] = [];
  for (let s = 1; s <= 4; s++) {
    let n = 0;
    while (sd.has(`layer${s}.${n}.conv1.weight`)) n++;
    units.push(n);
    const w = shape(`layer${s}.0.conv2.weight`)[0];
    if (w !== scaledWidth(STAGE_BASE[s - 1], width)) {
      throw fail(
        `stage ${s} has ${w} channels; a stem of ${stem} means width ${width}, which gives ` +
          `${scaledWidth(STAGE_BASE[s - 1], width)} (arcstream scales 64/128/256/512 by one width)`,
      );
    }
  }
  const depth = Object.entries(IRESNET_UNITS).find(([, u]) => u.join() === units.join())?.[0];
  if (!depth) throw fail(`units per stage [${units}] are not r18/r34/r50/r100/r200`);
  const [emb, fcIn] = shape("fc.weight");
  const c4 = scaledWidth(512, width);
  const side = Math.round(Math.sqrt(fcIn / c4));
  if (side * side * c4 !== fcIn) {
    throw fail(`fc.weight has ${fcIn} inputs, not ${c4} x side^2 (fc_scale)`);
  }
  return iresnetConfig({
    depth: Number(depth),
    width,
    inputSize: side * 16,
    embeddingSize: emb,
    dropout: 0,
    bnEpsilon: 1e-5,
    stridePadding: "symmetric",
    fixedFeatureScale: true,
  });
}

/** arcstream layer name -> torch module prefix (stem, blocks, output). */
function torchModule(layer: string): string {
  const fixed: Record<string, string> = {
    stem_conv: "conv1",
    stem_bn: "bn1",
    stem_prelu: "prelu",
    out_bn1: "bn2",
    out_fc: "fc",
    out_bn2: "features",
  };
  if (layer in fixed) return fixed[layer];
  const m = /^s(\d)u(\d+)_(.+)$/.exec(layer);
  if (!m) throw new Error(`IR-ResNet layer "${layer}" has no torch name`);
  const part =
    ({ sc_conv: "downsample.0", sc_bn: "downsample.1" } as Record<string, string>)[m[3]] ??
      m[3];
  return `layer${m[1]}.${Number(m[2]) - 1}.${part}`;
}

const PARAM: Record<string, string> = {
  kernel: "weight",
  bias: "bias",
  gamma: "weight",
  beta: "bias",
  moving_mean: "running_mean",
  moving_variance: "running_var",
  alpha: "weight",
};

/**
 * Converts `sd` into arcstream weights "<layer>/<weight>" -> values (in the LayersModel's layout)
 * for `config`. Every weight must be present with its exact shape, and every key used (BN's
 * `num_batches_tracked` aside): otherwise an error names the key and both shapes.
 */
export function mapTorchIResNet(
  sd: TorchStateDict,
  config: IResNetConfig,
  name = "<state dict>",
  built?: tfTypes.LayersModel,
): Map<string, Float32Array> {
  const fail = (why: string) => new RangeError(`Cannot map "${name}" onto an IR-ResNet: ${why}`);
  // The weight names and shapes come from the network itself (built for this when not given).
  const model = built ?? buildIResNet(config);
  const out = new Map<string, Float32Array>();
  const used = new Set<string>();
  try {
    for (const w of model.weights) {
      const [layer, param] = w.originalName.split("/");
      const key = `${torchModule(layer)}.${PARAM[param]}`;
      const t = sd.get(key);
      const want = torchShape(param, w.shape as number[]);
      if (!t) throw fail(`missing key "${key}" (expected shape [${want}])`);
      if (t.shape.join() !== want.join()) {
        throw fail(`key "${key}" has shape [${t.shape}], expected [${want}]`);
      }
      used.add(key);
      const c4 = scaledWidth(512, config.width);
      out.set(w.originalName, convert(layer, param, t.data, w.shape as number[], c4));
    }
  } finally {
    if (!built) model.dispose();
  }
  for (const [k, t] of sd) {
    if (!used.has(k) && !k.endsWith("num_batches_tracked")) {
      throw fail(`unexpected key "${k}" (shape [${t.shape}])`);
    }
  }
  return out;
}

function torchShape(param: string, shape: number[]): number[] {
  if (param === "kernel" && shape.length === 4) return [shape[3], shape[2], shape[0], shape[1]];
  if (param === "kernel") return [shape[1], shape[0]];
  if (param === "alpha") return [shape[shape.length - 1]];
  return shape;
}

/** One weight from torch's layout to the LayersModel's. */
function convert(
  layer: string,
  param: string,
  src: Float32Array,
  shape: number[],
  c4: number,
): Float32Array {
  if (param === "kernel" && shape.length === 4) {
    const [kh, kw, ci, co] = shape; // HWIO from OIHW
    const out = new Float32Array(src.length);
    for (let o = 0; o < co; o++) {
      for (let i = 0; i < ci; i++) {
        for (let h = 0; h < kh; h++) {
          for (let w = 0; w < kw; w++) {
            out[((h * kw + w) * ci + i) * co + o] = src[((o * ci + i) * kh + h) * kw + w];
          }
        }
      }
    }
    return out;
  }
  if (param === "kernel") {
    // fc.weight [E, C*S*S] (columns c*S*S + h*S + w) -> kernel [S*S*C (rows (h*S + w)*C + c), E].
    const [rows, e] = shape;
    if (layer !== "out_fc") throw new Error(`unexpected dense layer ${layer}`);
    return fcKernel(src, rows, e, c4);
  }
  return src.slice();
}

function fcKernel(src: Float32Array, rows: number, e: number, c: number): Float32Array {
  const out = new Float32Array(src.length);
  const ss = rows / c; // S*S positions (49 at 112 px)
  for (let o = 0; o < e; o++) {
    for (let ch = 0; ch < c; ch++) {
      for (let p = 0; p < ss; p++) out[(p * c + ch) * e + o] = src[o * rows + ch * ss + p];
    }
  }
  return out;
}

/**
 * State dict -> a built arcstream IR-ResNet holding its weights (caller disposes) and its config.
 */
export async function importTorchIResNet(
  sd: TorchStateDict,
  name = "<state dict>",
): Promise<{ model: tfTypes.LayersModel; config: IResNetConfig }> {
  const tf = await import("@tensorflow/tfjs");
  const config = torchIResNetConfig(sd, name);
  const model = buildIResNet(config);
  let weights: Map<string, Float32Array>;
  try {
    weights = mapTorchIResNet(sd, config, name, model);
  } catch (e) {
    model.dispose();
    throw e;
  }
  for (const w of model.weights) {
    const t = tf.tensor(weights.get(w.originalName)!, w.shape as number[], "float32");
    w.write(t);
    t.dispose();
  }
  return { model, config };
}
