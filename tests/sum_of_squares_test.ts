import { assert } from "@std/assert";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../model/backend/backend.ts";
import { sumOfSquares } from "../model/train/sum_of_squares.ts";

await initBackend({ backend: "wasm" });

/** A float64 sum of squares of the same float32 values: the reference. */
function exactSumOfSquares(values: Float32Array): number {
  let s = 0;
  for (const v of values) s += v * v;
  return s;
}

Deno.test("sumOfSquares of a 5,314-class head's weights matches float64 to 1e-5 (a flat wasm Sum was 2.6e-4 off)", async () => {
  const before = tf.memory().numTensors;
  // [D, C] class weights as the margin head draws them: normal(0, 0.01), 680k values.
  const w = tf.randomNormal([128, 5314], 0, 0.01, "float32", 7);
  const exact = exactSumOfSquares(await w.data() as Float32Array);
  const s = sumOfSquares(w);
  const ours = (await s.data())[0];
  tf.dispose([w, s]);
  const rel = (v: number) => Math.abs(v - exact) / exact;
  assert(rel(ours) < 1e-5, `two-level sum off by ${rel(ours)} (exact ${exact}, got ${ours})`);
  assert(tf.memory().numTensors === before);
});

Deno.test("sumOfSquares of a vector and of a 4-D kernel equals the float64 formula", async () => {
  for (const shape of [[1000], [3, 3, 16, 32]]) {
    const x = tf.randomUniform(shape, -1, 1, "float32", 3);
    const exact = exactSumOfSquares(await x.data() as Float32Array);
    const s = sumOfSquares(x);
    const got = (await s.data())[0];
    tf.dispose([x, s]);
    assert(Math.abs(got - exact) / exact < 1e-6, `${shape}: ${got} vs ${exact}`);
  }
});
