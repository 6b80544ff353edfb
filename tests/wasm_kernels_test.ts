/**
 * Every kernel arcstream registers for the wasm backend, against the cpu backend on random inputs,
 * plus the full gradients of a small conv + batch-norm + PReLU net. No tensor or wasm heap leaks.
 */
import * as tf from "@tensorflow/tfjs";
import { assert, assertEquals, assertStrictEquals } from "@std/assert";
import { initBackend } from "../model/backend/backend.ts";
import { batchNormTrainFused } from "../model/backend/wasm_batch_norm_train.ts";
import { FILTER_GRAD_ROWS } from "../model/backend/wasm_conv_grads.ts";
import { batchNormTrain } from "../model/nets/train_ops.ts";
import { relError } from "./rel_error.ts";

await initBackend({ backend: "wasm" });

/** Runs `f` on a backend and returns its outputs' values; checks that nothing leaks. */
function on(backend: "wasm" | "cpu", f: () => tf.Tensor | tf.Tensor[]): Float32Array[] {
  tf.setBackend(backend);
  // A first run moves the inputs' data to this backend, so the counts below see only f's own.
  tf.dispose(tf.tidy(f));
  const before = tf.memory().numTensors;
  const dataIds = tf.backend().numDataIds();
  const out = tf.tidy(f);
  const outs = Array.isArray(out) ? out : [out];
  const values = outs.map((t) => Float32Array.from(t.dataSync()));
  tf.dispose(outs);
  assertStrictEquals(tf.memory().numTensors, before, `${backend}: tensors leaked`);
  assertStrictEquals(tf.backend().numDataIds(), dataIds, `${backend}: backend data leaked`);
  tf.setBackend("wasm");
  return values;
}

function assertSame(f: () => tf.Tensor | tf.Tensor[], label: string, tol = 1e-4) {
  const w = on("wasm", f), c = on("cpu", f);
  w.forEach((v, i) => {
    const e = relError(v, c[i]);
    assert(e <= tol, `${label} output ${i}: relative error ${e.toExponential(2)} > ${tol}`);
  });
}

const rand = (shape: number[], seed: number) => tf.randomNormal(shape, 0, 1, "float32", seed);

type Pad = "same" | "valid" | [[0, 0], [number, number], [number, number], [0, 0]];
const CONV_CASES: [number[], number[], number, Pad][] = [
  [[2, 9, 9, 3], [3, 3, 3, 5], 1, "same"],
  [[2, 9, 9, 3], [3, 3, 3, 5], 2, "same"],
  [[2, 9, 9, 3], [3, 3, 3, 5], 2, "valid"],
  [[2, 8, 8, 16], [3, 3, 16, 8], 2, "same"],
  [[2, 8, 10, 4], [3, 3, 4, 6], 2, "valid"],
  [[1, 7, 6, 2], [1, 1, 2, 3], 2, "same"],
  [[1, 7, 6, 2], [1, 1, 2, 3], 1, "valid"],
  // 1x1 stride 1 unpadded: the filter gradient uses x itself as the patch matrix.
  [[2, 5, 3, 9], [1, 1, 9, 4], 1, "same"],
  [[3, 4, 4, 16], [1, 1, 16, 8], 1, [[0, 0], [0, 0], [0, 0], [0, 0]]],
  [[2, 4, 5, 3], [1, 1, 3, 2], 1, [[0, 0], [1, 0], [0, 1], [0, 0]]], // padded 1x1: patches
  [[2, 10, 10, 3], [3, 3, 3, 4], 1, [[0, 0], [1, 2], [0, 1], [0, 0]]],
  [[2, 10, 11, 3], [3, 3, 3, 4], 2, [[0, 0], [1, 1], [1, 1], [0, 0]]],
  [[1, 11, 11, 2], [5, 5, 2, 3], 2, "same"],
  [[1, 5, 5, 2], [3, 3, 2, 2], 1, [[0, 0], [4, 4], [3, 3], [0, 0]]],
  [[2, 12, 12, 16], [3, 3, 16, 24], 1, "same"],
  // Rows wider than the patch copy's short-row cutoff (32 floats) take copyWithin/fill instead.
  [[1, 4, 40, 2], [3, 3, 2, 3], 1, "same"],
  // Stride 1 with rows as wide as the image: the whole patch plane is copied as one block.
  [[2, 7, 9, 3], [5, 5, 3, 4], 1, "same"],
  [[1, 3, 3, 2], [5, 5, 2, 2], 1, "same"], // taps entirely outside the 3x3 image
  [[2, 6, 5, 3], [3, 3, 3, 2], 1, [[0, 0], [1, 1], [1, 1], [0, 0]]],
  [[2, 6, 5, 3], [3, 1, 3, 2], 1, [[0, 0], [2, 0], [0, 0], [0, 0]]],
];

for (const kind of ["Conv2DBackpropFilter", "Conv2DBackpropInput"] as const) {
  Deno.test(`${kind} on wasm matches cpu: stride 1/2, same/valid/explicit, odd sizes`, () => {
    for (const [xs, fs, s, pad] of CONV_CASES) {
      const x = rand(xs, 1), filter = rand(fs, 2);
      const dyShape = tf.conv2d(x as tf.Tensor4D, filter as tf.Tensor4D, s, pad).shape;
      const dy = rand(dyShape, 3);
      const attrs = { strides: s, pad, dataFormat: "NHWC" };
      assertSame(
        () =>
          kind === "Conv2DBackpropFilter"
            ? tf.engine().runKernel(kind, { x, dy }, { ...attrs, filterShape: fs })
            : tf.engine().runKernel(kind, { dy, filter }, { ...attrs, inputShape: xs }),
        `${kind} x${JSON.stringify(xs)} f${JSON.stringify(fs)} s${s} ${JSON.stringify(pad)}`,
      );
      tf.dispose([x, filter, dy]);
    }
  });
}

Deno.test("Conv2DBackpropFilter summed over image slices (FILTER_GRAD_ROWS) matches cpu", () => {
  const saved = FILTER_GRAD_ROWS.value;
  try {
    for (const rows of [1, 40]) {
      FILTER_GRAD_ROWS.value = rows; // 1: one image per GEMM; 40: a few images each, uneven
      for (const [xs, fs, s, pad] of CONV_CASES) {
        const x = rand([5, ...xs.slice(1)], 1), filter = rand(fs, 2);
        const dy = rand(tf.conv2d(x as tf.Tensor4D, filter as tf.Tensor4D, s, pad).shape, 3);
        const attrs = { strides: s, pad, dataFormat: "NHWC", filterShape: fs };
        assertSame(
          () => tf.engine().runKernel("Conv2DBackpropFilter", { x, dy }, attrs),
          `rows ${rows} x${JSON.stringify(x.shape)} f${JSON.stringify(fs)} s${s}`,
        );
        tf.dispose([x, filter, dy]);
      }
    }
  } finally {
    FILTER_GRAD_ROWS.value = saved;
  }
});

Deno.test("FusedBatchNorm on wasm matches cpu, with and without scale/offset", () => {
  const x = rand([2, 5, 7, 12], 4).mul(3).add(10);
  const mean = rand([12], 5).add(10), variance = rand([12], 6).abs().add(0.5);
  const scale = rand([12], 7), offset = rand([12], 8);
  assertSame(() => tf.batchNorm(x, mean, variance, offset, scale, 1e-3), "full");
  assertSame(() => tf.batchNorm(x, mean, variance), "no scale/offset");
  // Statistics broadcast over the last axis as [1, 1, 1, C] take the same path.
  assertSame(
    () =>
      tf.batchNorm(
        x,
        mean.reshape([1, 1, 1, 12]),
        variance.reshape([1, 1, 1, 12]),
        offset.reshape([1, 1, 1, 12]),
      ),
    "rank-4 statistics",
  );
  // Per-position statistics fall back to the wasm backend's kernel.
  assertSame(() => tf.batchNorm(x, x.mean(0), x.sub(x.mean(0)).square().mean(0)), "fallback");
  tf.dispose([x, mean, variance, scale, offset]);
});

Deno.test("Sum and Mean over any axes match cpu (outer/middle runs fast, others fall back)", () => {
  const x = rand([3, 6, 5, 7], 9);
  for (const keep of [false, true]) {
    assertSame(() => [tf.sum(x, [0, 1, 2], keep), tf.mean(x, [0, 1, 2], keep)], `leading ${keep}`);
    assertSame(() => [tf.sum(x, 0, keep), tf.mean(x, [1, 0], keep)], `first axes ${keep}`);
    assertSame(() => [tf.sum(x, [1, 2], keep), tf.mean(x, [2, 1], keep)], `middle axes ${keep}`);
    assertSame(() => [tf.sum(x, [2, 3], keep), tf.mean(x, -1, keep)], `innermost axes ${keep}`);
    assertSame(() => [tf.sum(x, [0, 2], keep), tf.mean(x, [1, 3], keep)], `gaps ${keep}`);
    assertSame(() => [tf.sum(x), tf.mean(x)], "all axes");
  }
  assertSame(() => tf.sum(tf.cast(x.greater(0), "int32"), [0, 1]), "int32 falls back");
  x.dispose();
});

Deno.test("Tile and broadcastTo match cpu for any repeats; int32 falls back", () => {
  const v = rand([1, 1, 1, 9], 10), m = rand([2, 3], 11);
  assertSame(() => tf.tile(v, [3, 4, 5, 1]), "leading");
  assertSame(() => tf.broadcastTo(v, [2, 3, 4, 9]), "broadcastTo");
  assertSame(() => tf.tile(m, [2, 3]), "inner reps");
  assertSame(() => tf.tile(rand([2, 1, 3, 1, 2], 26), [1, 4, 2, 3, 2]), "mixed reps, rank 5");
  assertSame(() => tf.broadcastTo(rand([3, 1, 1, 5], 27), [3, 4, 6, 5]), "batch-wise broadcast");
  // One repeated axis, any block size: [P, 1, k] -> [P, k, k] (a grouped conv's sum gradient).
  assertSame(() => tf.tile(rand([70001, 1, 2], 28), [1, 2, 1]), "one axis, tiny blocks");
  assertSame(() => tf.tile(rand([5, 3, 7], 29), [4, 1, 1]), "one axis, leading");
  assertSame(() => tf.tile(rand([3, 5, 40], 30), [1, 3, 1]), "one axis, long blocks");
  assertSame(() => tf.tile(rand([3, 5], 31), [1, 3]), "one axis, innermost");
  assertSame(() => tf.broadcastTo(rand([7, 1, 3], 32), [7, 3, 3]), "broadcastTo, middle axis");
  assertSame(() => tf.tile(tf.range(0, 6, 1, "int32"), [3]), "int32 falls back");
  tf.dispose([v, m]);
});

Deno.test("Slice copies runs of the wasm heap: contiguous, cropped, strided; any dtype", () => {
  const x = rand([5, 6, 7, 3], 40), v = rand([11], 41);
  assertSame(() => tf.slice(x, [1, 0, 0, 0], [2, -1, -1, -1]), "leading axis (one block)");
  assertSame(() => tf.slice(x, [2, 1, 0, 0], [1, 4, 7, 3]), "one image, some rows");
  assertSame(() => tf.slice(x, [0, 1, 2, 0], [-1, 3, 4, -1]), "H/W crop (runs of W*C)");
  assertSame(() => tf.slice(x, [1, 2, 3, 1], [3, 2, 2, 2]), "channel crop (short runs)");
  assertSame(() => tf.slice(rand([2, 50, 40], 42), [1, 3, 0], [1, 20, 40]), "long runs");
  assertSame(() => tf.slice(v, [3], [5]), "rank 1");
  assertSame(() => tf.slice(x, [0, 0, 0, 0], [0, -1, -1, -1]), "empty");
  assertSame(
    () =>
      tf.cast(tf.slice(tf.range(0, 60, 1, "int32").reshape([6, 10]), [2, 3], [3, 4]), "float32"),
    "int32",
  );
  assertSame(
    () => tf.cast(tf.slice(x.greater(0), [1, 0, 0, 0], [2, -1, -1, -1]), "float32"),
    "bool falls back",
  );
  tf.dispose([x, v]);
});

Deno.test("BatchMatMul with transposeA/transposeB matches cpu", () => {
  const a = rand([2, 7, 5], 12), b = rand([2, 7, 6], 13), c = rand([6, 5], 14);
  assertSame(() => tf.matMul(a, b, true, false), "A^T B");
  assertSame(() => tf.matMul(a.reshape([14, 5]), c, false, true), "A B^T");
  assertSame(() => tf.matMul(b, a.transpose([0, 2, 1]), true, true), "A^T B^T");
  tf.dispose([a, b, c]);
});

Deno.test("Identity and same-dtype Cast share data; the copy outlives its source", () => {
  tf.setBackend("wasm");
  const dataIds = tf.backend().numDataIds();
  const x = rand([4, 4], 15);
  const expected = x.dataSync().slice();
  const y = tf.clone(x), z = tf.cast(x, "float32");
  x.dispose();
  assertEquals(y.dataSync(), expected);
  assertEquals(z.dataSync(), expected);
  tf.dispose([y, z]);
  assertStrictEquals(tf.backend().numDataIds(), dataIds);
});

Deno.test("batch-norm (moments + batchNorm) and PReLU gradients match cpu", () => {
  const x = rand([2, 6, 5, 8], 16).mul(2).add(1);
  const gamma = rand([8], 17), beta = rand([8], 18), alpha = rand([1, 1, 8], 19).mul(0.3);
  const dy = rand([2, 6, 5, 8], 20);
  const bn = (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
    const { mean, variance } = tf.moments(x, [0, 1, 2]);
    return tf.batchNorm(x, mean, variance, b, g, 2e-5);
  };
  assertSame(() => tf.grads((x, g, b) => bn(x, g, b).mul(dy).sum())([x, gamma, beta]), "bn");
  assertSame(() => tf.grads((x, a) => tf.prelu(x, a).mul(dy).sum())([x, alpha]), "prelu");
  tf.dispose([x, gamma, beta, alpha, dy]);
});

Deno.test("full gradients of a small conv + BN + PReLU net match cpu (tf.grads)", () => {
  const x = rand([2, 16, 16, 3], 21);
  const params = [
    rand([3, 3, 3, 8], 22).mul(0.3), // stem conv
    rand([3, 3, 8, 16], 23).mul(0.2), // stride-2 conv
    rand([1, 1, 8, 16], 24).mul(0.3), // stride-2 shortcut
    tf.ones([8]), // bn gamma
    tf.zeros([8]), // bn beta
    tf.fill([1, 1, 8], 0.25), // prelu alpha
    rand([8 * 8 * 16, 10], 25).mul(0.05), // dense
  ];
  const net = (w: tf.Tensor[]) => {
    let h = tf.conv2d(x as tf.Tensor4D, w[0] as tf.Tensor4D, 1, "same");
    const { mean, variance } = tf.moments(h, [0, 1, 2]);
    h = tf.prelu(tf.batchNorm(h, mean, variance, w[4], w[3], 2e-5), w[5]) as tf.Tensor4D;
    const y = tf.add(
      tf.conv2d(h, w[1] as tf.Tensor4D, 2, "same"),
      tf.conv2d(h, w[2] as tf.Tensor4D, 2, "same"),
    );
    const logits = tf.matMul(tf.reshape(y, [2, -1]), w[6]);
    return tf.losses.softmaxCrossEntropy(tf.oneHot([3, 7], 10), logits);
  };
  assertSame(() => tf.grads((...w: tf.Tensor[]) => net(w))(params), "net", 2e-4);
  tf.dispose([x, ...params]);
});

Deno.test("training-mode batchNormTrain (+ PReLU; fused on wasm) matches cpu: output, grads, moving stats", () => {
  // [shape, epsilon, alpha shape or null (no PReLU)]
  const cases: [number[], number, number[] | null][] = [
    [[2, 5, 7, 12], 1e-5, null],
    [[3, 16], 2e-5, null],
    [[2, 3, 3, 130], 1e-3, null],
    [[2, 5, 7, 12], 1e-5, [1, 1, 12]],
    [[4, 3, 5, 9], 2e-5, [9]],
    [[3, 16], 1e-5, [16]],
  ];
  for (const [shape, eps, alphaShape] of cases) {
    const c = shape[shape.length - 1];
    const x = rand(shape, 33).mul(3).add(10), dy = rand(shape, 34);
    const gamma = tf.variable(rand([c], 35)), beta = tf.variable(rand([c], 36));
    const alpha = tf.variable(alphaShape ? rand(alphaShape, 39).mul(0.3) : tf.zeros([c]));
    const movingMean = tf.variable(tf.zeros([c])), movingVar = tf.variable(tf.ones([c]));
    const a = alphaShape ? alpha : undefined;
    tf.setBackend("wasm");
    assert(batchNormTrainFused(x, gamma, beta, a), `wasm takes the fused kernels for ${shape}`);
    const run = () => {
      movingMean.assign(rand([c], 37));
      movingVar.assign(rand([c], 38).abs());
      const f = (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor, a?: tf.Tensor) =>
        batchNormTrain(x, g as tf.Variable, b as tf.Variable, movingMean, movingVar, eps, a);
      const y = f(x, gamma, beta, a);
      const grads = a
        ? tf.grads((x, g, b, a) => f(x, g, b, a).mul(dy).sum())([x, gamma, beta, a])
        : tf.grads((x, g, b) => f(x, g, b).mul(dy).sum())([x, gamma, beta]);
      return [y, ...grads, movingMean.clone(), movingVar.clone()];
    };
    assertSame(run, `batchNormTrain ${JSON.stringify(shape)} alpha ${alphaShape}`, 2e-4);
    tf.dispose([x, dy, gamma, beta, alpha, movingMean, movingVar]);
  }
});
