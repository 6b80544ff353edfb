import {
  assert,
  assertEquals,
  assertMatch,
  assertRejects,
  assertStrictEquals,
  assertThrows,
} from "@std/assert";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../model/backend/backend.ts";
import { NonFiniteLossError, Trainer, type TrainerOptions } from "../model/train/trainer.ts";

await initBackend({ backend: "wasm" });

// Width 1/16 r18 on 16x16 inputs: every code path of the real network, milliseconds per step.
const TINY: TrainerOptions = {
  network: { depth: 18, width: 0.0625, inputSize: 16, embeddingSize: 16, dropout: 0 },
  numClasses: 5,
  margin: { type: "arcface", s: 16, m2: 0.2 },
};

function images(n: number, seed: number): tf.Tensor4D {
  return tf.randomUniform([n, 16, 16, 3], -1, 1, "float32", seed) as tf.Tensor4D;
}

async function maxAbsDiff(a: Map<string, tf.Tensor>, b: Map<string, tf.Tensor>) {
  let worst = 0;
  let scale = 0;
  for (const [k, t] of a) {
    const x = await t.data();
    const y = await b.get(k)!.data();
    for (let i = 0; i < x.length; i++) {
      worst = Math.max(worst, Math.abs(x[i] - y[i]));
      scale = Math.max(scale, Math.abs(x[i]));
    }
  }
  return { worst, scale };
}

Deno.test("--micro-batch: accumulated gradient equals the full-batch gradient (BN on)", async () => {
  // The two micro-batches hold the same images, so BN sees the same mean and variance in each
  // micro-batch as in the full batch; the labels differ, so the two gradients differ and only a
  // correct mean of them reproduces the full-batch gradient.
  const trainer = new Trainer({ ...TINY, microBatch: 4 });
  const before = tf.memory().numTensors;
  const half = images(4, 1);
  const x = tf.concat([half, half], 0) as tf.Tensor4D;
  const y = tf.tensor1d([0, 1, 2, 3, 4, 0, 1, 2], "int32");
  const full = trainer.gradients(x, y);
  const acc = trainer.accumulate(x, y);
  const { worst, scale } = await maxAbsDiff(full.grads, acc.grads);
  assert(scale > 0);
  assert(worst <= 1e-4 * scale, `max |diff| ${worst} vs max |g| ${scale}`);
  assert(Math.abs(full.total.dataSync()[0] - acc.total.dataSync()[0]) < 1e-4);
  // The halves' gradients really differ (else the check above proves nothing).
  const ya = tf.tensor1d([0, 1, 2, 3], "int32");
  const yb = tf.tensor1d([4, 0, 1, 2], "int32");
  const a = trainer.gradients(half, ya);
  const b = trainer.gradients(half, yb);
  assert((await maxAbsDiff(a.grads, b.grads)).worst > 1e-3);
  for (const r of [full, acc, a, b]) {
    r.grads.forEach((g) => g.dispose());
    tf.dispose([r.total, r.inference, r.decay, r.correct]);
  }
  tf.dispose([half, x, y, ya, yb]);
  assertStrictEquals(tf.memory().numTensors, before);
  trainer.dispose();
});

Deno.test("Trainer step leaves tf.memory().numTensors the same after step 10 and step 100", async () => {
  const trainer = new Trainer(TINY);
  const x = images(2, 2);
  const y = tf.tensor1d([0, 1], "int32");
  let at10 = -1;
  for (let step = 1; step <= 100; step++) {
    await trainer.trainStep(x, y, 0.01, step);
    if (step === 10) at10 = tf.memory().numTensors;
  }
  assertStrictEquals(tf.memory().numTensors, at10);
  tf.dispose([x, y]);
  trainer.dispose();
});

Deno.test("Trainer.trainStep() lowers the loss on a fixed batch and updates BN moving stats", async () => {
  const trainer = new Trainer(TINY);
  const x = images(8, 3);
  const y = tf.tensor1d([0, 1, 2, 3, 4, 0, 1, 2], "int32");
  const mean0 = trainer.model.getLayer("stem_bn").getWeights()[2].dataSync().slice();
  const first = await trainer.trainStep(x, y, 0.05, 0);
  let last = first;
  for (let i = 1; i < 15; i++) last = await trainer.trainStep(x, y, 0.05, i);
  assert(
    last.inferenceLoss < first.inferenceLoss,
    `${first.inferenceLoss} -> ${last.inferenceLoss}`,
  );
  assert(first.weightDecayLoss > 0);
  assert(Math.abs(first.totalLoss - first.inferenceLoss - first.weightDecayLoss) < 1e-4);
  const mean1 = trainer.model.getLayer("stem_bn").getWeights()[2].dataSync();
  assert(mean1.some((v, i) => v !== mean0[i]), "BN moving mean did not move");
  tf.dispose([x, y]);
  trainer.dispose();
});

Deno.test("a NaN loss raises NonFiniteLossError and leaves the weights untouched", async () => {
  const trainer = new Trainer(TINY);
  const x = tf.fill([4, 16, 16, 3], NaN) as tf.Tensor4D;
  const y = tf.tensor1d([0, 1, 2, 3], "int32");
  const before = trainer.head.weights.dataSync().slice();
  const e = await assertRejects(() => trainer.trainStep(x, y, 0.1, 7), NonFiniteLossError);
  assertMatch(e.message, /(Loss|Gradient norm) is NaN.* at step 7/);
  assertEquals(trainer.head.weights.dataSync(), before);
  tf.dispose([x, y]);
  trainer.dispose();
});

Deno.test("cpu and wasm backends compute the same step (loss and gradients)", async () => {
  const results: { loss: number; grads: Map<string, Float32Array> }[] = [];
  let state: Map<string, Float32Array> | null = null;
  for (const backend of ["wasm", "cpu"] as const) {
    await initBackend({ backend });
    const trainer = new Trainer({ ...TINY, network: { ...TINY.network, dropout: 0 } });
    if (state) {
      // Same starting weights on both backends.
      const s = new Map(
        [...state].map(([k, v]) => [k, tf.tensor(v, trainer.state().get(k)!.shape)]),
      );
      trainer.restore(s);
      s.forEach((t) => t.dispose());
    } else {
      state = new Map();
      for (const [k, t] of trainer.state()) state.set(k, (await t.data()) as Float32Array);
    }
    const x = tf.tensor4d(
      Float32Array.from({ length: 4 * 16 * 16 * 3 }, (_, i) => Math.sin(i * 0.37)),
      [4, 16, 16, 3],
    );
    const y = tf.tensor1d([0, 1, 2, 3], "int32");
    const r = trainer.gradients(x, y);
    const grads = new Map<string, Float32Array>();
    for (const [k, g] of r.grads) grads.set(k, (await g.data()) as Float32Array);
    results.push({ loss: (await r.total.data())[0], grads });
    r.grads.forEach((g) => g.dispose());
    tf.dispose([r.total, r.inference, r.decay, r.correct, x, y]);
    trainer.dispose();
  }
  await initBackend({ backend: "wasm" });
  const [w, c] = results;
  assert(Math.abs(w.loss - c.loss) < 1e-4 * Math.abs(c.loss), `${w.loss} vs ${c.loss}`);
  // Float32 sums in another order: relative 1e-3 per tensor, plus 1e-5 of the largest gradient
  // for the ones that are 0 in exact arithmetic (a BN beta right before another BN).
  const global = Math.max(...[...c.grads.values()].map((g) => Math.max(...g.map(Math.abs))));
  for (const [k, gc] of c.grads) {
    const gw = w.grads.get(k)!;
    const scale = Math.max(...gc.map(Math.abs));
    const diff = Math.max(...gc.map((v, i) => Math.abs(v - gw[i])));
    assert(diff <= 1e-3 * scale + 1e-5 * global, `${k}: max diff ${diff}, max |g| ${scale}`);
  }
});

Deno.test("Trainer rejects a batch that is not a multiple of the micro-batch", () => {
  const trainer = new Trainer({ ...TINY, microBatch: 3 });
  const x = images(4, 4);
  const y = tf.tensor1d([0, 1, 2, 3], "int32");
  assertThrows(
    () => trainer.accumulate(x, y),
    Error,
    "Batch size 4 is not a multiple of the micro-batch size 3",
  );
  tf.dispose([x, y]);
  trainer.dispose();
});

Deno.test("--margin-warmup: steps before it train without the margin, later steps with it", () => {
  // Same initial weights (seeded) in three trainers: a warm-started one must equal the no-margin
  // one at step 0 and the margined one at step 2.
  const warm = new Trainer({ ...TINY, margin: { ...TINY.margin, warmupSteps: 2 } });
  const plain = new Trainer({ ...TINY, margin: { ...TINY.margin, m2: 0 } });
  const margined = new Trainer(TINY);
  const x = images(5, 3);
  const y = tf.tensor1d([0, 1, 2, 3, 4], "int32");
  const loss = (t: Trainer, step: number) => {
    const r = t.accumulate(x, y, step);
    const v = r.inference.dataSync()[0];
    for (const g of r.grads.values()) g.dispose();
    tf.dispose([r.total, r.inference, r.decay, r.correct]);
    return v;
  };
  const [w0, p0, m0] = [loss(warm, 0), loss(plain, 0), loss(margined, 0)];
  assert(m0 - p0 > 0.1, `the margin raises the loss: ${m0} vs ${p0}`);
  assert(Math.abs(w0 - p0) < 1e-5, `step 0: ${w0} vs no margin ${p0}`);
  assert(Math.abs(loss(warm, 1) - p0) < 1e-5);
  assert(Math.abs(loss(warm, 2) - loss(margined, 2)) < 1e-5, "step 2: margined");
  tf.dispose([x, y]);
  for (const t of [warm, plain, margined]) t.dispose();
});

Deno.test("--head-wd: the class weights decay at their own rate, in the gradient and the loss", async () => {
  // Same seeded weights; only the decay differs, so gradients differ by exactly wd * w.
  const none = new Trainer({ ...TINY, weightDecay: 0 });
  const own = new Trainer({ ...TINY, weightDecay: 1e-3, headWeightDecay: 0.5 });
  const x = images(5, 4);
  const y = tf.tensor1d([0, 1, 2, 3, 4], "int32");
  const a = none.gradients(x, y);
  const b = own.gradients(x, y);
  for (const [key, wd] of [["head/weights", 0.5], ["model/stem_conv/kernel", 1e-3]] as const) {
    const w = await own.variables.get(key)!.data();
    const ga = await a.grads.get(key)!.data();
    const gb = await b.grads.get(key)!.data();
    let worst = 0;
    for (let i = 0; i < w.length; i++) worst = Math.max(worst, Math.abs(gb[i] - ga[i] - wd * w[i]));
    assert(worst < 1e-5, `${key}: max |g_b - g_a - wd w| = ${worst}`);
  }
  // 0.5 * wd * sum(w^2), the head at its own wd (float64 formula over the same weights).
  let expected = 0;
  for (const k of own.decayed) {
    const v = await own.variables.get(k)!.data();
    const wd = k === "head/weights" ? 0.5 : 1e-3;
    for (const t of v) expected += 0.5 * wd * t * t;
  }
  const got = b.decay.dataSync()[0];
  assert(Math.abs(got - expected) < 1e-5 * expected, `decay loss ${got} vs ${expected}`);
  for (const r of [a, b]) {
    for (const g of r.grads.values()) g.dispose();
    tf.dispose([r.total, r.inference, r.decay, r.correct]);
  }
  tf.dispose([x, y]);
  none.dispose();
  own.dispose();
  assertThrows(
    () => new Trainer({ ...TINY, headWeightDecay: -1 }),
    RangeError,
    "Head weight decay",
  );
});
