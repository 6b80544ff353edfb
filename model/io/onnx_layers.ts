/**
 * Per-layer-class converters from a TF.js (Keras) layer to ONNX nodes, one table entry per class.
 *
 * Layout: the Keras model is NHWC; the ONNX graph is NCHW throughout (what ONNX's Conv wants), so
 * every rank-4 tensor in the graph is NCHW and conv kernels are transposed on the host; shape layers
 * (`onnx_layers_shape.ts`) go back to NHWC where TF's element order matters (Flatten, Reshape).
 * Adding a layer class is one more entry in `LAYER_CONVERTERS`.
 */
import type { ConvertContext, LayerConverter } from "./onnx_context.ts";
import { pair, permute, rank4 } from "./onnx_context.ts";
import { flatten, globalAveragePooling, reshape, zeroPadding } from "./onnx_layers_shape.ts";

/** ONNX pads [top, left, bottom, right] for TF's "same"/"valid" on a known input size. */
export function convPads(
  padding: string,
  inputHW: [number, number],
  kernel: [number, number],
  strides: [number, number],
  dilations: [number, number],
): number[] {
  if (padding === "valid") return [0, 0, 0, 0];
  if (padding !== "same") throw new RangeError(`Unsupported padding "${padding}"`);
  const before: number[] = [];
  const after: number[] = [];
  for (let d = 0; d < 2; d++) {
    const out = Math.ceil(inputHW[d] / strides[d]);
    const k = (kernel[d] - 1) * dilations[d] + 1;
    const total = Math.max((out - 1) * strides[d] + k - inputHW[d], 0);
    // TF puts the odd pixel at the end (bottom/right), as ONNX's SAME_UPPER does.
    before.push(Math.floor(total / 2));
    after.push(total - Math.floor(total / 2));
  }
  return [...before, ...after];
}

/** Activations a layer may carry in its config (`activation`), as ONNX ops. */
const ACTIVATIONS: Record<string, string | null> = {
  linear: null,
  relu: "Relu",
  sigmoid: "Sigmoid",
  tanh: "Tanh",
};

function activate(x: string, ctx: ConvertContext, activation: unknown): string {
  const name = (activation ?? "linear") as string;
  if (!(name in ACTIVATIONS)) {
    throw new RangeError(`Layer "${ctx.layerName}": unsupported activation "${name}"`);
  }
  const op = ACTIVATIONS[name];
  return op ? ctx.node(op, [x]) : x;
}

/** Conv2D / DepthwiseConv2D: kernel [kh, kw, cin, X] -> ONNX [cout, cin/group, kh, kw]. */
function convolution(depthwise: boolean): LayerConverter {
  return ([x], ctx) => {
    const hw = rank4(ctx);
    const c = ctx.config;
    const k = ctx.weight(depthwise ? "depthwise_kernel" : "kernel");
    const [kh, kw, cin, x3] = k.shape;
    const strides = pair(c.strides ?? 1, `${ctx.layerName} strides`);
    const dilations = pair(c.dilation_rate ?? c.dilationRate ?? 1, `${ctx.layerName} dilation`);
    // Conv2D: [kh, kw, cin, cout] -> [cout, cin, kh, kw]. Depthwise: [kh, kw, cin, mult] ->
    // [cin, mult, kh, kw] = [cin * mult, 1, kh, kw]: TF's output channel c * mult + m.
    const w = permute(k.data, k.shape, depthwise ? [2, 3, 0, 1] : [3, 2, 0, 1]);
    const dims = depthwise ? [cin * x3, 1, kh, kw] : [x3, cin, kh, kw];
    const inputs = [x, ctx.constant("kernel", dims, w)];
    if (ctx.hasWeight("bias")) {
      const b = ctx.weight("bias");
      inputs.push(ctx.constant("bias", [b.data.length], b.data));
    }
    const y = ctx.node("Conv", inputs, {
      kernel_shape: [kh, kw],
      strides,
      dilations,
      group: depthwise ? cin : 1,
      pads: convPads(String(c.padding ?? "valid"), hw, [kh, kw], strides, dilations),
    });
    return activate(y, ctx, c.activation);
  };
}

function checkLastAxis(ctx: ConvertContext): void {
  const rank = ctx.inputShapes[0].length;
  const axis = ctx.config.axis;
  const a = Array.isArray(axis) && axis.length === 1 ? axis[0] : axis;
  if (a !== -1 && a !== rank - 1) {
    throw new RangeError(
      `Layer "${ctx.layerName}": only channels-last batch norm is supported, axis ${
        JSON.stringify(axis)
      }`,
    );
  }
}

/** Keras BN (inference: moving statistics) -> BatchNormalization on axis 1. */
const batchNorm: LayerConverter = ([x], ctx) => {
  checkLastAxis(ctx);
  const mean = ctx.weight("moving_mean");
  const n = mean.data.length;
  const ones = new Float32Array(n).fill(1);
  const gamma = ctx.hasWeight("gamma") ? ctx.weight("gamma").data : ones;
  const beta = ctx.hasWeight("beta") ? ctx.weight("beta").data : new Float32Array(n);
  return ctx.node("BatchNormalization", [
    x,
    ctx.constant("gamma", [n], gamma),
    ctx.constant("beta", [n], beta),
    ctx.constant("moving_mean", [n], mean.data),
    ctx.constant("moving_variance", [n], ctx.weight("moving_variance").data),
  ], { epsilon: { float: Number(ctx.config.epsilon ?? 1e-3) } });
};

/** Keras PReLU: alpha [h', w', C] (h', w' = 1 when shared) -> slope [C, h', w'] for NCHW. */
const prelu: LayerConverter = ([x], ctx) => {
  const a = ctx.weight("alpha");
  if (a.shape.length === 3) {
    rank4(ctx);
    const slope = permute(a.data, a.shape, [2, 0, 1]);
    return ctx.node("PRelu", [
      x,
      ctx.constant("alpha", [a.shape[2], a.shape[0], a.shape[1]], slope),
    ]);
  }
  return ctx.node("PRelu", [x, ctx.constant("alpha", a.shape, a.data)]);
};

/**
 * Dense on [N, K]: Gemm with transB=1, B = kernel^T [D, K] and C = bias, as torch.onnx.export writes
 * a Linear (OpenCV's DNN importer wants this form). After an NCHW flatten (`ctx.flatOrder`) the
 * kernel's rows, in Keras's (h, w, c) order, are permuted to the graph's (c, h, w) order.
 */
const dense: LayerConverter = ([x], ctx) => {
  if (ctx.inputShapes[0].length !== 2) {
    throw new RangeError(
      `Layer "${ctx.layerName}": Dense on a rank-${ctx.inputShapes[0].length} input`,
    );
  }
  const k = ctx.weight("kernel");
  const [kIn, units] = k.shape;
  const b = ctx.flatOrder
    ? permute(k.data, [...ctx.flatOrder, units], [3, 2, 0, 1]) // [h, w, c, D] -> [D, c, h, w]
    : permute(k.data, k.shape, [1, 0]);
  const inputs = [x, ctx.constant("kernel", [units, kIn], b)];
  if (ctx.hasWeight("bias")) {
    const bias = ctx.weight("bias");
    inputs.push(ctx.constant("bias", [bias.data.length], bias.data));
  }
  return activate(ctx.node("Gemm", inputs, { transA: 0, transB: 1 }), ctx, ctx.config.activation);
};

/** The converter of each supported Keras layer class. */
export const LAYER_CONVERTERS: Readonly<Record<string, LayerConverter>> = {
  Conv2D: convolution(false),
  DepthwiseConv2D: convolution(true),
  BatchNormalization: batchNorm,
  PReLU: prelu,
  Add: (inputs, ctx) => inputs.slice(1).reduce((acc, y) => ctx.node("Add", [acc, y]), inputs[0]),
  // Inference: dropout is the identity.
  Dropout: ([x]) => x,
  Activation: ([x], ctx) => activate(x, ctx, ctx.config.activation),
  ReLU: ([x], ctx) => {
    if (ctx.config.max_value != null || ctx.config.maxValue != null) {
      throw new RangeError(`Layer "${ctx.layerName}": ReLU with maxValue is not supported`);
    }
    return ctx.node("Relu", [x]);
  },
  Flatten: flatten,
  Reshape: reshape,
  ZeroPadding2D: zeroPadding,
  GlobalAveragePooling2D: globalAveragePooling,
  Dense: dense,
};
