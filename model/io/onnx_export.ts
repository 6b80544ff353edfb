/**
 * Exports an arcstream backbone (a TF.js LayersModel, e.g. the IR-ResNet "E" of ArcFace,
 * arXiv 1801.07698) as an ONNX model that onnxruntime and insightface's `ArcFaceONNX` run.
 *
 * The ONNX graph: input "data" [N, 3, S, S] float32 NCHW, **RGB pixels 0-255**; its first nodes are
 * "Sub" and "Mul" (`(x - 127.5) * (1/128)` for arcstream's "arcface" normalization), which is what
 * insightface's `ArcFaceONNX` looks for among the first 8 nodes to feed raw pixels (input_mean 0,
 * input_std 1) instead of `(x - 127.5) / 127.5`; output "embedding" [N, D] (not L2-normalized).
 * Layers are converted one by one (`onnx_layers.ts`), NCHW throughout.
 *
 * ```ts
 * import { loadModelFile } from "./model_io.ts";
 * import { convertToOnnx } from "./onnx_export.ts";
 * import { encodeModel } from "./onnx_proto.ts";
 * import type * as tf from "@tensorflow/tfjs";
 *
 * const { model } = await loadModelFile("runs/x/export/model.json");
 * const bytes = encodeModel(convertToOnnx(model as tf.LayersModel, { normalize: "arcface" }));
 * await Deno.writeFile("runs/x/model.onnx", bytes);
 * ```
 */
import type * as tf from "@tensorflow/tfjs";
import { LAYER_CONVERTERS } from "./onnx_layers.ts";
import { restoreKerasOrder } from "./onnx_layers_shape.ts";
import { findGroupedConvs, groupedConvConverter } from "./onnx_grouped_conv.ts";
import {
  type ConvertContext,
  type LayerConverter,
  layerWeights,
  nodeNamer,
} from "./onnx_context.ts";
import {
  encodeModel,
  type OnnxAttribute,
  type OnnxModel,
  type OnnxNode,
  type OnnxTensor,
} from "./onnx_proto.ts";
import { arcstreamMetadata, loadModelFile } from "./model_io.ts";
import { writeFileAtomic } from "../../pipeline/atomic_write.ts";

/** How the exported graph scales its 0-255 input before the backbone. */
export type OnnxInputScaling = "arcface" | "raw" | "unit" | "arcface_torch" | "none";

/** Sub/Mul constants per scaling: model input = (x - sub) * mul. */
const SCALING: Record<Exclude<OnnxInputScaling, "none">, [number, number]> = {
  arcface: [127.5, 1 / 128], // arcstream's training input: (x - 127.5) / 128 in [-1, 1]
  raw: [0, 1],
  unit: [0, 1 / 255],
  arcface_torch: [127.5, 1 / 127.5], // insightface's PyTorch input: (x / 255 - 0.5) / 0.5
};

export interface OnnxExportOptions {
  /**
   * The pixel normalization the model was trained with; the graph takes 0-255 pixels and applies
   * it as its first nodes (Sub, Mul). "none": no such nodes, the input is what the TF.js model
   * takes (then insightface feeds `(x - 127.5) / 127.5`). Default: "arcface".
   */
  normalize?: OnnxInputScaling;
  /** Default-domain opset. Default: 13 (onnxruntime 1.2x runs 7-21). */
  opset?: number;
  /** Graph input name. Default: "data" (as insightface's arcface_torch torch2onnx.py names it). */
  inputName?: string;
  /** Graph output name. Default: "embedding". */
  outputName?: string;
  /** ModelProto.metadata_props. Default: none. */
  metadata?: Record<string, string>;
}

/**
 * Converts a single-input, single-output NHWC LayersModel into an ONNX model description.
 * @example
 * ```ts
 * import { buildIResNet, convertToOnnx } from "../mod.ts";
 *
 * const net = buildIResNet({ depth: 18, width: 0.25, inputSize: 64 });
 * const onnx = convertToOnnx(net, { normalize: "arcface" }); // input [N, 3, 64, 64] RGB 0-255
 * console.log(onnx.graph.nodes.length);
 * net.dispose();
 * ```
 */
export function convertToOnnx(model: tf.LayersModel, options: OnnxExportOptions = {}): OnnxModel {
  const { normalize, opset, h, w, c } = checkExportable(model, options);
  const nodes: GraphNode[] = [];
  const initializers: OnnxTensor[] = [];
  const nameOf = nodeNamer();
  const inputName = options.inputName ?? "data";
  const outputName = options.outputName ?? "embedding";
  const node = (op: string, inputs: string[], attributes: Record<string, OnnxAttribute> = {}) => {
    const name = nameOf(op);
    nodes.push({ opType: op, name, inputs, outputs: [`${name}_out`], attributes });
    return `${name}_out`;
  };
  const tensors = new Map<tf.SymbolicTensor, string>();
  let x = inputName;
  if (normalize !== "none") {
    // [N, 3, S, S] 0-255 -> the model's input range; named "Sub_0", "Mul_0" for insightface.
    const [sub, mul] = SCALING[normalize];
    initializers.push({ name: "input_mean", dims: [], data: new Float32Array([sub]) });
    initializers.push({ name: "input_scale", dims: [], data: new Float32Array([mul]) });
    x = node("Mul", [node("Sub", [x, "input_mean"]), "input_scale"]);
  }
  tensors.set(model.inputs[0], x);

  // MobileFaceNet's grouped convs become one grouped Conv each (no layout Transposes).
  const grouped = findGroupedConvs(model);
  const fusedAway = new Set([...grouped.values()].flatMap((g) => g.fused));
  const flatOrders: FlatOrders = new Map();
  for (const layer of model.layers) {
    if (layer.getClassName() === "InputLayer" || fusedAway.has(layer)) continue;
    const chain = grouped.get(layer);
    const out = convertLayer(
      layer,
      tensors,
      node,
      initializers,
      flatOrders,
      chain && groupedConvConverter(chain),
    );
    tensors.set((chain?.tail ?? layer).output as tf.SymbolicTensor, out);
  }

  let last = tensors.get(model.outputs[0]);
  const order = last === undefined ? undefined : flatOrders.get(last);
  if (last !== undefined && order) {
    const constant = (suffix: string, dims: number[], data: BigInt64Array) => {
      initializers.push({ name: `output/${suffix}`, dims, data });
      return `output/${suffix}`;
    };
    last = restoreKerasOrder(last, order, node, constant);
  }
  nameGraphOutput(model, nodes, last, outputName);
  const outShape = model.outputs[0].shape;
  return {
    graph: {
      name: model.name,
      nodes,
      initializers,
      inputs: [{ name: inputName, dims: ["N", c, h, w] }],
      outputs: [{ name: outputName, dims: ["N", ...outShape.slice(1).map((d) => d ?? "?")] }],
    },
    opset,
    producerName: "arcstream",
    metadata: options.metadata,
  };
}

/** ONNX names of rank-4 maps flattened in NCHW order -> their Keras [h, w, c]. */
type FlatOrders = Map<string, [number, number, number]>;

/** A graph node whose input and output names are set (the converter renames the last output). */
type GraphNode = OnnxNode & { inputs: string[]; outputs: string[] };

/** Validates the options and the model's one NHWC input up front; returns the settings to use. */
function checkExportable(
  model: tf.LayersModel,
  options: OnnxExportOptions,
): { normalize: OnnxInputScaling; opset: number; h: number; w: number; c: number } {
  const normalize = options.normalize ?? "arcface";
  if (normalize !== "none" && !(normalize in SCALING)) {
    throw new RangeError(`Unknown input normalization "${normalize}"`);
  }
  const opset = options.opset ?? 13;
  if (!Number.isInteger(opset) || opset < 11 || opset > 17) {
    throw new RangeError(`ONNX opset ${opset}: expected 11..17`);
  }
  if (model.inputs.length !== 1 || model.outputs.length !== 1) {
    throw new RangeError(
      `Cannot export "${model.name}" to ONNX: expected one input and one output, got ${model.inputs.length} and ${model.outputs.length}`,
    );
  }
  const inShape = model.inputs[0].shape; // [null, S, S, C]
  if (inShape.length !== 4 || inShape.slice(1).some((d) => d == null)) {
    throw new RangeError(
      `Cannot export "${model.name}" to ONNX: input ${JSON.stringify(inShape)} is not [N, H, W, C]`,
    );
  }
  const [, h, w, c] = inShape as number[];
  return { normalize, opset, h, w, c };
}

/**
 * Converts one (non-input) layer with its class's converter (or `override`), adding its nodes through
 * `node` and its weights to `initializers`; returns the name of its output. An input flattened in
 * NCHW order goes to a Dense as it is (the Dense permutes its kernel) and to any other layer in TF's
 * order; a Flatten's output is recorded in `flatOrders`.
 */
function convertLayer(
  layer: tf.layers.Layer,
  tensors: Map<tf.SymbolicTensor, string>,
  node: ConvertContext["node"],
  initializers: OnnxTensor[],
  flatOrders: FlatOrders,
  override?: LayerConverter,
): string {
  const cls = layer.getClassName();
  const convert = override ?? LAYER_CONVERTERS[cls];
  if (!convert) {
    throw new RangeError(
      `Cannot export layer "${layer.name}" to ONNX: no converter for class ${cls} (supported: ${
        Object.keys(LAYER_CONVERTERS).join(", ")
      })`,
    );
  }
  if (layer.inboundNodes.length !== 1) {
    throw new RangeError(`Cannot export layer "${layer.name}": it is applied more than once`);
  }
  const ins = ([] as tf.SymbolicTensor[]).concat(layer.input);
  const constant: ConvertContext["constant"] = (suffix, dims, data) => {
    const name = `${layer.name}/${suffix}`;
    initializers.push({ name, dims, data });
    return name;
  };
  let flatOrder: [number, number, number] | undefined;
  const inputs = ins.map((t, i) => {
    const n = tensors.get(t);
    if (n === undefined) throw new Error(`Layer "${layer.name}": input not converted yet`);
    const order = flatOrders.get(n);
    if (!order) return n;
    if (cls === "Dense" && i === 0) flatOrder = order;
    return flatOrder ? n : restoreKerasOrder(n, order, node, constant);
  });
  const weights = layerWeights(layer);
  const ctx: ConvertContext = {
    node,
    constant,
    weight: (n) => {
      const wt = weights.get(n);
      if (!wt) throw new Error(`Layer "${layer.name}" (${cls}) has no weight "${n}"`);
      return wt;
    },
    hasWeight: (n) => weights.has(n),
    config: layer.getConfig() as Record<string, unknown>,
    inputShapes: ins.map((t) => t.shape as (number | null)[]),
    layerName: layer.name,
    flatOrder,
  };
  const out = convert(inputs, ctx);
  const shape = ins[0].shape;
  if (cls === "Flatten" && shape.length === 4) {
    flatOrders.set(out, shape.slice(1) as [number, number, number]);
  }
  return out;
}

/** Renames the model's last output `last` to `outputName` on the node that makes it. */
function nameGraphOutput(
  model: tf.LayersModel,
  nodes: GraphNode[],
  last: string | undefined,
  outputName: string,
): void {
  const producer = nodes.find((n) => n.outputs[0] === last);
  if (!producer) throw new Error(`Cannot export "${model.name}": its output is its input`);
  // The graph's output is named `outputName`; rename it wherever it is read (nowhere, normally).
  for (const n of nodes) {
    n.inputs = n.inputs.map((i) => i === last ? outputName : i);
  }
  producer.outputs = [outputName];
}

/** What `exportOnnxFile` wrote. */
export interface OnnxExportResult {
  out: string;
  bytes: number;
  inputShape: (number | string)[];
  outputShape: (number | string)[];
  normalize: OnnxInputScaling;
  nodes: number;
}

/**
 * Loads `modelJsonPath` (a layers model), converts it and writes `out` atomically. The input
 * normalization defaults to the one the export records (`userDefinedMetadata.arcstream.normalize`),
 * else "arcface".
 * @example
 * ```ts
 * import { exportOnnxFile } from "../mod.ts";
 *
 * const r = await exportOnnxFile("runs/lfw-small/export/model.json", "runs/lfw-small/model.onnx");
 * console.log(r.inputShape, r.outputShape, r.bytes); // for onnxruntime or insightface
 * ```
 */
export async function exportOnnxFile(
  modelJsonPath: string,
  out: string,
  options: OnnxExportOptions = {},
): Promise<OnnxExportResult> {
  const loaded = await loadModelFile(modelJsonPath);
  if (loaded.kind !== "layers") {
    throw new RangeError(
      `Cannot export "${modelJsonPath}" to ONNX: it is a graph model; only layers models (arcstream exports) are supported`,
    );
  }
  try {
    const meta = arcstreamMetadata(loaded.json);
    const normalize = options.normalize ?? meta?.normalize ?? "arcface";
    const onnx = convertToOnnx(loaded.model, {
      ...options,
      normalize,
      metadata: {
        ...(meta ? { arcstream: JSON.stringify(meta) } : {}),
        input: `RGB 0-255, NCHW; graph applies ${normalize}`,
        ...options.metadata,
      },
    });
    const bytes = encodeModel(onnx);
    await writeFileAtomic(out, bytes);
    return {
      out,
      bytes: bytes.length,
      inputShape: [...onnx.graph.inputs[0].dims],
      outputShape: [...onnx.graph.outputs[0].dims],
      normalize,
      nodes: onnx.graph.nodes.length,
    };
  } finally {
    loaded.model.dispose();
  }
}
