/**
 * Shared by the webgpu kernel tests (not a test file): the adapter probe and its skip rule, fixed
 * inputs, running one kernel on a backend, error measures. Without any WebGPU adapter the tests
 * are ignored with the reason printed, except on CI (CI=true), where they must run and so fail.
 */
import * as tf from "@tensorflow/tfjs";
import { assertStrictEquals } from "@std/assert";
import { probeWebGPU } from "../model/backend/backend.ts";

export { relError } from "./rel_error.ts";

const probe = await probeWebGPU();
const onCI = Boolean(Deno.env.get("CI"));
if (!probe.adapter) {
  console.log(
    `webgpu kernel tests: ${probe.reason}${
      onCI ? " (CI: failing)" : "; ignored (apt-get install mesa-vulkan-drivers gives one)"
    }`,
  );
}
/** True when the webgpu tests must be skipped (no adapter, not on CI). */
export const ignore = !probe.adapter && !onCI;

/** Deterministic values in [-1, 1] (no RNG: the same on every backend). */
export function values(n: number, seed: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.731 + seed * 1.37));
}

/** Runs `kernel` on `backend` from fresh inputs and returns its output values and shape. */
export async function runOn(
  backend: "cpu" | "webgpu",
  kernel: string,
  inputs: Record<string, { shape: number[]; seed: number }>,
  attrs: Record<string, unknown>,
): Promise<{ data: Float32Array; shape: number[] }> {
  await tf.setBackend(backend);
  const named: Record<string, tf.Tensor> = {};
  for (const [k, v] of Object.entries(inputs)) {
    named[k] = tf.tensor(values(v.shape.reduce((a, b) => a * b, 1), v.seed), v.shape);
  }
  const before = tf.memory().numTensors;
  const out = tf.engine().runKernel(kernel, named, attrs as tf.NamedAttrMap) as tf.Tensor;
  try {
    return { data: (await out.data()) as Float32Array, shape: out.shape };
  } finally {
    out.dispose();
    tf.dispose(Object.values(named));
    assertStrictEquals(tf.memory().numTensors, before - Object.keys(named).length);
  }
}

/** Largest |a - b| / max(1, |b|) (relative for large sums, absolute near zero). */
export function maxError(a: Float32Array, b: Float32Array): number {
  assertStrictEquals(a.length, b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    worst = Math.max(worst, Math.abs(a[i] - b[i]) / Math.max(1, Math.abs(b[i])));
  }
  return worst;
}
