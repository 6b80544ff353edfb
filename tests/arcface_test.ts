import { assert, assertEquals, assertStrictEquals, assertThrows } from "@std/assert";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../model/backend/backend.ts";
import {
  l2Normalize,
  marginConfig,
  MarginHead,
  marginLogits,
  softmaxCrossEntropy,
} from "../model/loss/arcface.ts";

await initBackend({ backend: "wasm" });

// Hand-picked angles between an embedding and its class centre, including both sides of the
// ArcFace fallback at theta = pi - m (= 2.6416 for m = 0.5) and theta near 0 and pi.
const ANGLES = [0, 0.1, 0.7, 1.2, Math.PI / 2, 2.0, 2.6, 2.7, 3.0, Math.PI - 1e-3];

/** Direct formula of the target logit, in float64. */
function expected(theta: number, s: number, m1: number, m2: number, m3: number): number {
  const cos = Math.cos(theta);
  if (m1 * theta + m2 <= Math.PI) return s * (Math.cos(m1 * theta + m2) - m3);
  return s * (cos - Math.sin(Math.PI - m2) * m2 - m3);
}

/** cos [N, 2]: column 0 = cos(angle) (the label), column 1 = an unrelated class cos(1.0). */
function cosines(): tf.Tensor2D {
  return tf.tensor2d(ANGLES.flatMap((a) => [Math.cos(a), Math.cos(1.0)]), [ANGLES.length, 2]);
}

const cases = [
  { name: "ArcFace s=64 m=0.5", opts: { type: "arcface" as const }, m: [1, 0.5, 0] },
  { name: "CosFace s=64 m=0.35", opts: { type: "cosface" as const }, m: [1, 0, 0.35] },
  {
    name: "combined (1, 0.3, 0.2)",
    opts: { type: "combined" as const, m1: 1, m2: 0.3, m3: 0.2 },
    m: [1, 0.3, 0.2],
  },
  {
    name: "combined (1.2, 0.4, 0.1)",
    opts: { type: "combined" as const, m1: 1.2, m2: 0.4, m3: 0.1 },
    m: [1.2, 0.4, 0.1],
  },
];

for (const c of cases) {
  Deno.test(`marginLogits() ${c.name} matches s*(cos(m1*theta+m2)-m3) with the pi fallback`, () => {
    const before = tf.memory().numTensors;
    const cfg = marginConfig(c.opts);
    const cos = cosines();
    const labels = tf.zeros([ANGLES.length], "int32") as tf.Tensor1D;
    const logits = marginLogits(cos, labels, cfg);
    const got = logits.arraySync();
    ANGLES.forEach((a, i) => {
      const want = expected(a, cfg.s, c.m[0], c.m[1], c.m[2]);
      // float32 cos near pi loses ~1e-4 in acos; the logit is scaled by 64.
      const tol = c.m[0] === 1 ? 2e-3 : 2e-2;
      assert(Math.abs(got[i][0] - want) < tol, `theta ${a}: got ${got[i][0]}, want ${want}`);
      // Non-target logits are s * cos(theta_j), untouched.
      assert(Math.abs(got[i][1] - cfg.s * Math.cos(1.0)) < 1e-3);
    });
    tf.dispose([cos, labels, logits]);
    assertStrictEquals(tf.memory().numTensors, before);
  });
}

Deno.test("ArcFace logit is monotonic in theta across the fallback at theta = pi - m", () => {
  const cfg = marginConfig({ type: "arcface", s: 64, m2: 0.5 });
  const thetas = Array.from({ length: 64 }, (_, i) => (i / 63) * (Math.PI - 1e-3));
  const cos = tf.tensor2d(thetas.flatMap((t) => [Math.cos(t), 0]), [64, 2]);
  const labels = tf.zeros([64], "int32") as tf.Tensor1D;
  const out = marginLogits(cos, labels, cfg);
  const col = (out.arraySync() as number[][]).map((r) => r[0]);
  for (let i = 1; i < col.length; i++) assert(col[i] < col[i - 1], `not decreasing at ${i}`);
  tf.dispose([cos, labels, out]);
});

Deno.test("MarginHead gradients are finite for theta near 0 and near pi (step() mask)", () => {
  const head = new MarginHead(2, 3, { type: "arcface" });
  // Class 0 points along +x, class 1 along -x, class 2 along +y.
  head.weights.assign(tf.tensor2d([[1, -1, 0], [0, 0, 1]]));
  // Embeddings at theta ~ 0 and ~ pi from class 0, and at pi - m exactly.
  const a = Math.PI - 0.5;
  const x = tf.tensor2d([[1, 1e-7], [-1, 1e-7], [Math.cos(a), Math.sin(a)]]);
  const y = tf.tensor1d([0, 0, 0], "int32");
  const { value, grads } = tf.variableGrads(
    () => softmaxCrossEntropy(head.logits(x, y), y),
    [head.weights],
  );
  const g = grads[head.weights.name].dataSync();
  assert(Number.isFinite(value.dataSync()[0]));
  assert(g.every(Number.isFinite), `gradient has NaN/Inf: ${g}`);
  assert(g.some((v) => v !== 0));
  tf.dispose([x, y, value, ...Object.values(grads)]);
  head.dispose();
});

Deno.test("l2Normalize() gives unit rows and leaves zero rows at zero", () => {
  const x = tf.tensor2d([[3, 4], [0, 0]]);
  const n = l2Normalize(x, 1);
  assertEquals(Array.from(n.dataSync()).map((v) => +v.toFixed(6)), [0.6, 0.8, 0, 0]);
  tf.dispose([x, n]);
});

Deno.test("marginConfig() rejects bad margins with a clear error", () => {
  assertThrows(() => marginConfig({ type: "arcface", m2: 2 }), Error, "Angular margin");
  assertThrows(() => marginConfig({ s: 0 }), Error, "scale s");
  assertThrows(
    () => marginConfig({ type: "sphere" as "arcface" }),
    Error,
    'Unknown margin "sphere"',
  );
  assertThrows(() => new MarginHead(4, 1), Error, "needs >= 2 classes");
});

Deno.test("softmax warm start: before warmupSteps the logits are s * cos, from then on margined", () => {
  const head = new MarginHead(2, 2, { s: 64, m2: 0.5, warmupSteps: 3 });
  // Unit embeddings at angle 0.7 and 2.0 from class 0's centre (the head normalizes both sides).
  const w = tf.tensor2d([[1, 0], [0, 1]]); // [D, C]: class 0 along x, class 1 along y
  head.weights.assign(w);
  const x = tf.tensor2d([[Math.cos(0.7), Math.sin(0.7)], [Math.cos(2.0), Math.sin(2.0)]]);
  const y = tf.tensor1d([0, 0], "int32");
  const at = (step: number) => Array.from(head.logits(x, y, step).dataSync());
  const plain = [0.7, 2.0].flatMap((a) => [64 * Math.cos(a), 64 * Math.sin(a)]);
  const margined = [0.7, 2.0].flatMap((a) => [expected(a, 64, 1, 0.5, 0), 64 * Math.sin(a)]);
  for (const step of [0, 2]) {
    at(step).forEach((v, i) => assert(Math.abs(v - plain[i]) < 1e-4, `step ${step}: ${v}`));
  }
  for (const step of [3, 100, Infinity]) {
    at(step).forEach((v, i) => assert(Math.abs(v - margined[i]) < 1e-4, `step ${step}: ${v}`));
  }
  assertThrows(() => marginConfig({ warmupSteps: -1 }), RangeError, "Margin warm-up");
  assertThrows(() => marginConfig({ warmupSteps: 1.5 }), RangeError, "Margin warm-up");
  tf.dispose([w, x, y]);
  head.dispose();
});
