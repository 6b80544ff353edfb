import { assert, assertEquals, assertStrictEquals, assertThrows } from "@std/assert";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../model/backend/backend.ts";
import { MomentumSGD } from "../model/train/optimizer.ts";

await initBackend({ backend: "wasm" });

Deno.test("MomentumSGD follows v = mu*v + g, w -= lr*v over several steps", () => {
  const before = tf.memory().numTensors;
  const w = tf.tidy(() => tf.variable(tf.tensor1d([1, -2])));
  const vars = new Map([["w", w]]);
  const opt = new MomentumSGD({ momentum: 0.9 });
  let ref = [1, -2];
  let vel = [0, 0];
  const gs = [[0.5, 1], [-1, 2], [0.25, -0.5]];
  const lrs = [0.1, 0.05, 0.2];
  gs.forEach((gv, i) => {
    const g = tf.tensor1d(gv);
    opt.apply(vars, new Map([["w", g]]), lrs[i]);
    g.dispose();
    vel = vel.map((v, k) => 0.9 * v + gv[k]);
    ref = ref.map((x, k) => x - lrs[i] * vel[k]);
  });
  const got = Array.from(w.dataSync());
  ref.forEach((r, k) => assert(Math.abs(got[k] - r) < 1e-6, `${got} vs ${ref}`));
  // The slot round-trips through state()/restore() (what a checkpoint does).
  const copy = new MomentumSGD({ momentum: 0.9 });
  copy.restore(opt.state());
  assertEquals(
    Array.from(copy.slots.get("w")!.dataSync()),
    Array.from(opt.slots.get("w")!.dataSync()),
  );
  copy.dispose();
  opt.dispose();
  w.dispose();
  assertStrictEquals(tf.memory().numTensors, before);
});

Deno.test("MomentumSGD rejects a bad momentum, a bad lr and an unknown gradient key", () => {
  assertThrows(() => new MomentumSGD({ momentum: 1 }), Error, "Momentum must be in [0, 1)");
  const opt = new MomentumSGD();
  const w = tf.variable(tf.scalar(1));
  const g = tf.scalar(1);
  assertThrows(
    () => opt.apply(new Map([["w", w]]), new Map([["w", g]]), NaN),
    Error,
    "Learning rate",
  );
  assertThrows(
    () => opt.apply(new Map([["w", w]]), new Map([["x", g]]), 0.1),
    Error,
    'No variable "x"',
  );
  tf.dispose([w, g]);
  opt.dispose();
});
