/**
 * arcstream's fused training-mode batch norm (+ PReLU) and short-run Sum kernels on the webgpu
 * backend against the cpu backend (tf ops there): see tests/webgpu_kernels_test.ts for the setup.
 */
import * as tf from "@tensorflow/tfjs";
import { assert, assertStrictEquals } from "@std/assert";
import { initBackend } from "../model/backend/backend.ts";
import { batchNormTrainFused } from "../model/backend/wasm_batch_norm_train.ts";
import { batchNormTrain } from "../model/nets/train_ops.ts";
import { ignore, maxError, relError, runOn, values } from "./webgpu_test_util.ts";

/**
 * batchNormTrain's output, its gradients (x, gamma, beta, alpha) and the moving statistics on one
 * backend, from fixed inputs (x with mean 10 and spread 3: the two-pass variance must not cancel).
 */
async function batchNormOn(
  backend: "cpu" | "webgpu",
  shape: number[],
  eps: number,
  alphaShape: number[] | null,
): Promise<{ fused: boolean; outs: Float32Array[] }> {
  await tf.setBackend(backend);
  const c = shape[shape.length - 1];
  const n = shape.reduce((a, b) => a * b, 1);
  const before = tf.memory().numTensors;
  const x = tf.tidy(() => tf.tensor(values(n, 5), shape).mul(3).add(10));
  const dy = tf.tensor(values(n, 6), shape);
  // tidy: a variable keeps its own copy; the initial tensor goes.
  const vec = (seed: number, f = (v: number) => v) =>
    tf.tidy(() => tf.variable(tf.tensor1d(values(c, seed).map(f))));
  const gamma = vec(7), beta = vec(8);
  const alpha = alphaShape ? tf.tensor(values(c, 9).map((v) => 0.3 * v), alphaShape) : undefined;
  const movingMean = vec(10), movingVar = vec(11, Math.abs);
  const fused = batchNormTrainFused(x, gamma, beta, alpha);
  const f = (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor, a?: tf.Tensor) =>
    batchNormTrain(x, g as tf.Variable, b as tf.Variable, movingMean, movingVar, eps, a);
  const outs = tf.tidy(() => {
    const y = f(x, gamma, beta, alpha);
    const grads = alpha
      ? tf.grads((x, g, b, a) => f(x, g, b, a).mul(dy).sum())([x, gamma, beta, alpha])
      : tf.grads((x, g, b) => f(x, g, b).mul(dy).sum())([x, gamma, beta]);
    return [y, ...grads, movingMean.clone(), movingVar.clone()];
  });
  const data = await Promise.all(outs.map((t) => t.data() as Promise<Float32Array>));
  tf.dispose([...outs, x, dy, gamma, beta, movingMean, movingVar, ...(alpha ? [alpha] : [])]);
  assertStrictEquals(tf.memory().numTensors, before, `${backend}: tensors leaked`);
  return { fused, outs: data };
}

Deno.test({
  name: "webgpu fused training-mode batch norm (+ PReLU) matches cpu's tf ops to 2e-4",
  ignore,
  fn: async () => {
    await initBackend({ backend: "webgpu", warn: () => {} });
    // [shape, epsilon, alpha shape or null]: odd sizes, channels past one 64-wide group, enough
    // rows for several row chunks.
    const cases: [number[], number, number[] | null][] = [
      [[2, 5, 7, 12], 1e-5, null],
      [[2, 3, 3, 130], 1e-3, null],
      [[2, 5, 7, 12], 1e-5, [1, 1, 12]],
      [[4, 3, 5, 9], 2e-5, [9]],
      [[4, 20, 20, 16], 2e-5, [1, 1, 16]],
    ];
    for (const [shape, eps, alphaShape] of cases) {
      const label = `${JSON.stringify(shape)} alpha ${alphaShape}`;
      const want = await batchNormOn("cpu", shape, eps, alphaShape);
      const got = await batchNormOn("webgpu", shape, eps, alphaShape);
      assert(got.fused && !want.fused, `${label}: webgpu fused, cpu tf ops`);
      got.outs.forEach((v, i) => {
        const err = relError(v, want.outs[i]);
        assert(err <= 2e-4, `${label} output ${i}: relative error ${err.toExponential(2)}`);
      });
    }
  },
});

Deno.test({
  name: "webgpu Sum (short runs of axes: the grouped conv's group sums) matches cpu to 1e-5",
  ignore,
  fn: async () => {
    await initBackend({ backend: "webgpu", warn: () => {} });
    // [shape, axis, keepDims]: the grouped conv's [N, k, k] over 1, a run of two axes, the last
    // axis, and two cases tfjs's own kernel keeps (axes not contiguous, a run longer than 64).
    const cases: [number[], number | number[], boolean][] = [
      [[300, 2, 2], 1, false],
      [[7, 4, 5, 3], [1, 2], false],
      [[90, 6], -1, true],
      [[5, 3, 4], [0, 2], false],
      [[3, 100], 1, false],
    ];
    for (const [shape, axis, keepDims] of cases) {
      const inputs = { x: { shape, seed: 12 } };
      const attrs = { axis, keepDims };
      const want = await runOn("cpu", "Sum", inputs, attrs);
      const got = await runOn("webgpu", "Sum", inputs, attrs);
      const label = `Sum ${JSON.stringify(shape)} axis ${axis}`;
      assertStrictEquals(got.shape.join(), want.shape.join(), label);
      const err = maxError(got.data, want.data);
      assert(err <= 1e-5, `${label}: max error ${err}`);
    }
  },
});
