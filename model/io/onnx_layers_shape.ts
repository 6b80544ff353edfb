/**
 * ONNX converters for Keras shape layers. Rank-4 tensors are NCHW in the graph, so where TF's
 * element order matters (Flatten, Reshape) the tensor goes back to NHWC first, and a rank-4 result
 * comes back to NCHW.
 */
import type { ConvertContext, LayerConverter } from "./onnx_context.ts";
import { rank4 } from "./onnx_context.ts";

/** NCHW -> NHWC for a rank-4 input, else the input unchanged. */
function toKerasLayout(x: string, ctx: ConvertContext): string {
  return ctx.inputShapes[0].length === 4 ? ctx.node("Transpose", [x], { perm: [0, 2, 3, 1] }) : x;
}

/**
 * Flatten. A rank-4 map is flattened as it lies, NCHW, as torch.flatten does (no Transpose): the
 * elements run (c, h, w), and the export tags the output (`ConvertContext.flatOrder`) so a Dense
 * reading it permutes its kernel rows; any other reader gets TF's (h, w, c) order restored.
 */
export const flatten: LayerConverter = ([x], ctx) => ctx.node("Flatten", [x], { axis: 1 });

/**
 * [N, c*h*w] in (c, h, w) order -> [N, h*w*c] in TF's (h, w, c) order, for a reader of an NCHW
 * flatten that is not a Dense.
 */
export function restoreKerasOrder(
  x: string,
  [h, w, c]: [number, number, number],
  node: ConvertContext["node"],
  constant: ConvertContext["constant"],
): string {
  const shape = constant("nchw_shape", [4], BigInt64Array.from([0, c, h, w], BigInt));
  const nchw = node("Reshape", [x, shape]);
  return node("Flatten", [node("Transpose", [nchw], { perm: [0, 2, 3, 1] })], { axis: 1 });
}

/** Reshape with TF's element order; the batch dim is kept (ONNX shape 0 = copy). */
export const reshape: LayerConverter = ([x], ctx) => {
  const target = (ctx.config.target_shape ?? ctx.config.targetShape) as number[];
  if (!Array.isArray(target) || !target.every(Number.isInteger)) {
    throw new RangeError(`Layer "${ctx.layerName}": target shape ${JSON.stringify(target)}`);
  }
  const shape = ctx.constant(
    "shape",
    [target.length + 1],
    BigInt64Array.from([0, ...target], BigInt),
  );
  const y = ctx.node("Reshape", [toKerasLayout(x, ctx), shape]);
  return target.length === 3 ? ctx.node("Transpose", [y], { perm: [0, 3, 1, 2] }) : y;
};

/** ZeroPadding2D -> Pad (constant 0) on H and W of the NCHW tensor. */
export const zeroPadding: LayerConverter = ([x], ctx) => {
  rank4(ctx);
  const p = ctx.config.padding;
  // Keras: n | [h, w] | [[top, bottom], [left, right]].
  const [[top, bottom], [left, right]] = typeof p === "number"
    ? [[p, p], [p, p]]
    : (p as (number | number[])[]).map((v) => Array.isArray(v) ? v : [v, v]);
  // ONNX pads: begins of N, C, H, W, then ends.
  const pads = BigInt64Array.from([0, 0, top, left, 0, 0, bottom, right], BigInt);
  return ctx.node("Pad", [x, ctx.constant("pads", [8], pads)], { mode: "constant" });
};

/** GlobalAveragePooling2D: [N, C, H, W] -> [N, C]. */
export const globalAveragePooling: LayerConverter = ([x], ctx) => {
  rank4(ctx);
  if (ctx.config.keepdims === true || ctx.config.keepDims === true) {
    throw new RangeError(`Layer "${ctx.layerName}": keepdims is not supported`);
  }
  return ctx.node("Flatten", [ctx.node("GlobalAveragePool", [x])], { axis: 1 });
};
