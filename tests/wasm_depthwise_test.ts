/**
 * arcstream's wasm depthwise-conv gradient kernels (and the stock wasm forward kernel on the shapes
 * MobileFaceNet uses) against the cpu backend on random inputs; no tensor or wasm heap leaks.
 */
import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { initBackend } from "../model/backend/backend.ts";
import { relError } from "./rel_error.ts";

await initBackend({ backend: "wasm" });

/** Runs `f` on a backend and returns its outputs' values; checks that nothing leaks. */
function on(backend: "wasm" | "cpu", f: () => tf.Tensor | tf.Tensor[]): Float32Array[] {
  tf.setBackend(backend);
  tf.dispose(tf.tidy(f)); // moves the inputs' data to this backend first
  const before = tf.memory().numTensors;
  const dataIds = tf.backend().numDataIds();
  const out = tf.tidy(f);
  const outs = Array.isArray(out) ? out : [out];
  const values = outs.map((t) => Float32Array.from(t.dataSync()));
  tf.dispose(outs);
  assert.equal(tf.memory().numTensors, before, `${backend}: tensors leaked`);
  assert.equal(tf.backend().numDataIds(), dataIds, `${backend}: backend data leaked`);
  tf.setBackend("wasm");
  return values;
}

function assertSame(f: () => tf.Tensor | tf.Tensor[], label: string, tol = 1e-4) {
  const w = on("wasm", f), c = on("cpu", f);
  w.forEach((v, i) => {
    const e = relError(v, c[i]);
    assert.ok(e <= tol, `${label} output ${i}: relative error ${e.toExponential(2)} > ${tol}`);
  });
}

const rand = (shape: number[], seed: number) => tf.randomNormal(shape, 0, 1, "float32", seed);

type Pad = "same" | "valid" | [[0, 0], [number, number], [number, number], [0, 0]];
const P1: Pad = [[0, 0], [1, 1], [1, 1], [0, 0]]; // PyTorch's padding=1
/** [x shape, filter shape [kh, kw, C, M], stride, padding] */
const CASES: [number[], number[], number, Pad][] = [
  [[2, 9, 9, 3], [3, 3, 3, 1], 1, "same"],
  [[2, 9, 9, 3], [3, 3, 3, 1], 2, "same"],
  [[2, 9, 9, 3], [3, 3, 3, 1], 2, "valid"],
  [[2, 9, 8, 4], [3, 3, 4, 2], 1, "same"],
  [[2, 9, 8, 4], [3, 3, 4, 2], 2, "same"],
  [[1, 10, 11, 5], [3, 3, 5, 2], 2, "valid"],
  [[2, 8, 8, 6], [3, 3, 6, 1], 2, P1],
  [[2, 7, 9, 6], [3, 3, 6, 2], 2, P1],
  [[2, 8, 8, 6], [3, 3, 6, 2], 1, P1],
  [[2, 7, 7, 8], [7, 7, 8, 1], 1, "valid"], // the GDC layer: 7x7 -> 1x1
  [[1, 11, 11, 3], [7, 7, 3, 2], 2, "same"],
  [[1, 13, 12, 4], [7, 7, 4, 1], 1, "same"],
  [[1, 6, 6, 3], [3, 3, 3, 1], 1, [[0, 0], [2, 0], [0, 2], [0, 0]]],
  [[2, 14, 14, 16], [3, 3, 16, 1], 2, P1],
  [[1, 12, 2, 2], [1, 2, 2, 1], 1, "valid"], // the pair sum of the grouped conv
];

const label = (xs: number[], fs: number[], s: number, pad: Pad) =>
  `x${JSON.stringify(xs)} f${JSON.stringify(fs)} s${s} ${JSON.stringify(pad)}`;

Deno.test("DepthwiseConv2dNative forward on wasm matches cpu: multiplier 1/2, 3x3/7x7, explicit pads", () => {
  for (const [xs, fs, s, pad] of CASES) {
    const x = rand(xs, 1), filter = rand(fs, 2);
    assertSame(
      () => tf.depthwiseConv2d(x as tf.Tensor4D, filter as tf.Tensor4D, s, pad),
      label(xs, fs, s, pad),
    );
    tf.dispose([x, filter]);
  }
});

for (const kind of ["DepthwiseConv2dNativeBackpropFilter", "DepthwiseConv2dNativeBackpropInput"]) {
  Deno.test(`${kind} on wasm matches cpu: stride 1/2, same/valid/explicit, odd sizes, multiplier 1/2, 3x3/7x7`, () => {
    for (const [xs, fs, s, pad] of CASES) {
      const x = rand(xs, 1), filter = rand(fs, 2);
      const dyShape = tf.depthwiseConv2d(x as tf.Tensor4D, filter as tf.Tensor4D, s, pad).shape;
      const dy = rand(dyShape, 3);
      const attrs = { strides: s, pad, dilations: 1 };
      assertSame(
        () =>
          kind === "DepthwiseConv2dNativeBackpropFilter"
            ? tf.engine().runKernel(kind, { x, dy }, { ...attrs, filterShape: fs })
            : tf.engine().runKernel(kind, { dy, filter }, { ...attrs, inputShape: xs }),
        `${kind} ${label(xs, fs, s, pad)}`,
      );
      tf.dispose([x, filter, dy]);
    }
  });
}

Deno.test("gradients of depthwise conv + BN + PReLU through tf.grads match cpu", () => {
  const x = rand([2, 12, 12, 4], 4);
  const params = [
    rand([3, 3, 4, 2], 5).mul(0.3),
    rand([3, 3, 8, 1], 6).mul(0.3),
    rand([8], 7).add(1), // BN gamma
    rand([8], 8).mul(0.1), // BN beta
  ];
  const net = (w: tf.Tensor[]) => {
    let h = tf.depthwiseConv2d(x as tf.Tensor4D, w[0] as tf.Tensor4D, 2, P1);
    const { mean, variance } = tf.moments(h, [0, 1, 2]);
    h = tf.prelu(tf.batchNorm(h, mean, variance, w[3], w[2], 1e-5), tf.scalar(0.25)) as tf.Tensor4D;
    h = tf.depthwiseConv2d(h, w[1] as tf.Tensor4D, 1, "same");
    return tf.sum(tf.square(h));
  };
  assertSame(() => tf.grads((...w: tf.Tensor[]) => net(w))(params), "net", 2e-4);
  tf.dispose([x, ...params]);
});
