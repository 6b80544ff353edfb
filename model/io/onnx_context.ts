/**
 * What a per-layer ONNX converter works with (`onnx_layers.ts`, `onnx_layers_shape.ts`): the graph
 * being built, the layer's weights copied to the host, and host-side tensor helpers.
 *
 * Layout rule shared by every converter: a rank-4 tensor in the ONNX graph is NCHW (the Keras model's
 * NHWC, transposed); tensors of any other rank keep the Keras layout.
 */
import type * as tf from "@tensorflow/tfjs";
import type { OnnxAttribute } from "./onnx_proto.ts";

/** A host-side copy of a weight: data and Keras shape. */
export interface HostWeight {
  shape: number[];
  data: Float32Array;
}

/** What a converter gets: the graph being built and the layer's weights by short name. */
export interface ConvertContext {
  /** Adds a node; its name is `<opType>_<n>` unless given. Returns the output name. */
  node(opType: string, inputs: string[], attributes?: Record<string, OnnxAttribute>): string;
  /** Adds a float32 initializer named `<layer>/<suffix>`; returns its name. */
  constant(suffix: string, dims: number[], data: Float32Array | BigInt64Array): string;
  /** The layer's weights by short name ("kernel", "gamma", "moving_mean", ...). */
  weight(name: string): HostWeight;
  hasWeight(name: string): boolean;
  /** The layer's Keras config. */
  config: Record<string, unknown>;
  /** Static input shapes, Keras layout with the batch dim (null). */
  inputShapes: (number | null)[][];
  layerName: string;
  /**
   * Set when input 0 is a rank-4 map flattened in ONNX's NCHW order (as torch.flatten does): its
   * Keras [h, w, c]. Its elements run (c, h, w), not Keras's (h, w, c); Dense permutes its kernel
   * rows to match instead of the graph transposing activations.
   */
  flatOrder?: [number, number, number];
}

/** Converts one layer: ONNX input names in, ONNX output name out. */
export type LayerConverter = (inputs: string[], ctx: ConvertContext) => string;

/** Permutes a row-major tensor: out[i_perm[0], ...] = in[i_0, ...]. */
export function permute(data: Float32Array, shape: number[], perm: number[]): Float32Array {
  const rank = shape.length;
  const outShape = perm.map((p) => shape[p]);
  const inStrides = new Array<number>(rank);
  let s = 1;
  for (let d = rank - 1; d >= 0; d--) {
    inStrides[d] = s;
    s *= shape[d];
  }
  const stride = perm.map((p) => inStrides[p]); // input stride of each output dim
  const out = new Float32Array(data.length);
  const idx = new Array<number>(rank).fill(0);
  for (let o = 0; o < out.length; o++) {
    let src = 0;
    for (let d = 0; d < rank; d++) src += idx[d] * stride[d];
    out[o] = data[src];
    for (let d = rank - 1; d >= 0; d--) {
      if (++idx[d] < outShape[d]) break;
      idx[d] = 0;
    }
  }
  return out;
}

/** The host copy of a layer's weights by short name ("stem_bn/gamma" -> "gamma"). */
export function layerWeights(layer: tf.layers.Layer): Map<string, HostWeight> {
  const out = new Map<string, HostWeight>();
  const values = layer.getWeights();
  layer.weights.forEach((v, i) => {
    const short = v.originalName.split("/").pop()!.replace(/_\d+$/, "");
    out.set(short, { shape: values[i].shape, data: Float32Array.from(values[i].dataSync()) });
  });
  return out;
}

/** A deterministic name counter for nodes and tensors. */
export function nodeNamer(): (opType: string) => string {
  const counts = new Map<string, number>();
  return (op) => {
    const n = counts.get(op) ?? 0;
    counts.set(op, n + 1);
    return `${op}_${n}`;
  };
}

/** An integer or a pair of integers (Keras kernel sizes, strides) as a pair. */
export function pair(v: unknown, what: string): [number, number] {
  const a = Array.isArray(v) ? v : [v, v];
  if (a.length !== 2 || !a.every((x) => Number.isInteger(x))) {
    throw new TypeError(`${what}: expected an integer or a pair, got ${JSON.stringify(v)}`);
  }
  return [a[0], a[1]];
}

/** [H, W] of the layer's NHWC input of known size; throws for other ranks or channels_first. */
export function rank4(ctx: ConvertContext): [number, number] {
  const s = ctx.inputShapes[0];
  if (s.length !== 4 || s[1] == null || s[2] == null) {
    throw new RangeError(
      `Layer "${ctx.layerName}": expected a [N, H, W, C] input of known size, got ${
        JSON.stringify(s)
      }`,
    );
  }
  if (ctx.config.data_format === "channels_first" || ctx.config.dataFormat === "channels_first") {
    throw new RangeError(`Layer "${ctx.layerName}": channels_first is not supported`);
  }
  return [s[1], s[2]];
}
