import {
  assert,
  assertEquals,
  assertNotEquals,
  assertStrictEquals,
  assertThrows,
} from "@std/assert";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../model/backend/backend.ts";
import { buildIResNet, IRESNET_UNITS, iresnetConfig, isDecayed } from "../model/nets/iresnet.ts";
import { trainForward } from "../model/nets/iresnet_train.ts";

await initBackend({ backend: "wasm" });

Deno.test("buildIResNet() lays out IR blocks: units per stage, stride on conv2, 112 -> 7 -> 512", () => {
  for (const depth of [18, 34, 50, 100]) {
    const m = buildIResNet({ depth, width: 0.0625, inputSize: 112 });
    const names = m.layers.map((l) => l.name);
    IRESNET_UNITS[depth].forEach((units, s) => {
      assertStrictEquals(
        names.filter((n) => new RegExp(`^s${s + 1}u\\d+_add$`).test(n)).length,
        units,
      );
    });
    // The stage's stride is on the block's second conv; the shortcut conv only on unit 1.
    const conv = (n: string) => m.getLayer(n).getConfig() as { strides: number[] };
    assertEquals(conv("s2u1_conv1").strides, [1, 1]);
    assertEquals(conv("s2u1_conv2").strides, [2, 2]);
    assertEquals(conv("s2u1_sc_conv").strides, [2, 2]);
    assertStrictEquals(names.filter((n) => n.endsWith("_sc_conv")).length, 4);
    assertEquals(m.getLayer("out_bn1").outputShape, [null, 7, 7, 32]);
    assertEquals(m.outputs[0].shape, [null, 512]);
    // No activation after the addition: an add feeds only BNs, a shortcut conv, or the next add
    // (identity shortcut).
    for (const l of m.layers.filter((l) => l.name.endsWith("_add"))) {
      const next = l.outboundNodes.map((n) => n.outboundLayer.name);
      assert(next.every((n) => /_bn1$|_sc_conv$|_add$/.test(n)), `${l.name} feeds ${next}`);
    }
    m.dispose();
  }
});

Deno.test("width multiplier and input size scale the network; bad options are rejected", () => {
  const m = buildIResNet({ depth: 18, width: 0.25, inputSize: 64, embeddingSize: 128 });
  assertEquals(m.getLayer("stem_conv").outputShape, [null, 64, 64, 16]);
  assertEquals(m.getLayer("out_bn1").outputShape, [null, 4, 4, 128]);
  assertEquals(m.outputs[0].shape, [null, 128]);
  m.dispose();
  assertThrows(
    () => iresnetConfig({ depth: 20 }),
    Error,
    "depth 20: expected 18, 34, 50, 100 or 200",
  );
  assertThrows(() => iresnetConfig({ inputSize: 100 }), Error, "multiple of 16");
  assert(isDecayed("s1u1_conv1/kernel") && isDecayed("stem_prelu/alpha"));
  assert(isDecayed("out_bn2/gamma") && !isDecayed("out_bn2/beta") && !isDecayed("out_fc/bias"));
});

Deno.test("weightInit arcface_torch draws convs from normal(0, 0.1) and the FC as torch's nn.Linear", () => {
  const std = (x: Float32Array) => {
    const mean = x.reduce((a, b) => a + b, 0) / x.length;
    return Math.sqrt(x.reduce((a, b) => a + (b - mean) ** 2, 0) / x.length);
  };
  const options = { depth: 18, width: 0.25, inputSize: 64, embeddingSize: 128 };
  const torch = buildIResNet({ ...options, weightInit: "arcface_torch" });
  const kaiming = buildIResNet(options);
  const values = (m: tf.LayersModel, layer: string, i = 0) =>
    m.getLayer(layer).getWeights()[i].dataSync() as Float32Array;
  // [3, 3, 64, 128] (73,728 draws): the sample std of normal(0, 0.1) within 1%.
  assert(Math.abs(std(values(torch, "s4u1_conv1")) - 0.1) < 1e-3);
  // Kaiming over fan-out (3 * 3 * 128) is far smaller: a different rule, not the same draws.
  assert(std(values(kaiming, "s4u1_conv1")) < 0.05);
  // nn.Linear: weight and bias U(+-1/sqrt(fan_in)), fan_in = 128 * 4 * 4; std = bound / sqrt(3).
  const bound = 1 / Math.sqrt(128 * 16);
  for (const [i, n] of [[0, 2048 * 128], [1, 128]]) {
    const w = values(torch, "out_fc", i);
    assertEquals(w.length, n);
    assert(w.every((v) => Math.abs(v) <= bound), `out_fc weight ${i} inside +-${bound}`);
    if (n > 1000) assert(Math.abs(std(w) / (bound / Math.sqrt(3)) - 1) < 0.01);
  }
  assert(
    values(torch, "out_fc", 1).some((v) => v !== 0) &&
      values(kaiming, "out_fc", 1).every((v) => v === 0),
  );
  assertThrows(
    () => iresnetConfig({ weightInit: "xavier" as "kaiming" }),
    RangeError,
    "weight init",
  );
  torch.dispose();
  kaiming.dispose();
});

Deno.test("trainForward() matches the LayersModel in training mode and updates BN moving stats", () => {
  const cfg = iresnetConfig({
    depth: 18,
    width: 0.0625,
    inputSize: 32,
    embeddingSize: 16,
    dropout: 0,
  });
  const m = buildIResNet(cfg);
  const x = tf.randomUniform([4, 32, 32, 3], -1, 1, "float32", 5) as tf.Tensor4D;
  const mean0 = m.getLayer("s2u1_bn2").getWeights()[2].dataSync().slice();
  const ref = tf.tidy(() =>
    (m.apply(x, { training: true }) as tf.Tensor).arraySync() as number[][]
  );
  const meanLayers = m.getLayer("s2u1_bn2").getWeights()[2].dataSync().slice();
  // Put the moving mean back, then let trainForward update it the same way (momentum 0.9).
  m.getLayer("s2u1_bn2").weights[2].write(tf.tensor(mean0));
  const got = tf.tidy(() => trainForward(m, cfg, x).arraySync());
  const meanOurs = m.getLayer("s2u1_bn2").getWeights()[2].dataSync();
  got.forEach((row, i) =>
    row.forEach((v, j) =>
      assert(Math.abs(v - ref[i][j]) < 1e-3, `[${i},${j}] ${v} vs ${ref[i][j]}`)
    )
  );
  meanOurs.forEach((v, i) => assert(Math.abs(v - meanLayers[i]) < 1e-5));
  assert(meanOurs.some((v, i) => v !== mean0[i]));
  // Inference mode uses the moving statistics: two different batches give row-independent output.
  const one = tf.tidy(() => (m.predict(x.slice(0, 1)) as tf.Tensor).arraySync() as number[][]);
  const all = tf.tidy(() => (m.predict(x) as tf.Tensor).arraySync() as number[][]);
  one[0].forEach((v, j) => assert(Math.abs(v - all[0][j]) < 1e-4));
  x.dispose();
  m.dispose();
});

Deno.test("dropout is active only in training and is reproducible from its seed", () => {
  const cfg = iresnetConfig({
    depth: 18,
    width: 0.0625,
    inputSize: 16,
    embeddingSize: 8,
    dropout: 0.4,
  });
  const m = buildIResNet(cfg);
  const x = tf.randomUniform([2, 16, 16, 3], -1, 1, "float32", 6) as tf.Tensor4D;
  const run = (seed: number) =>
    tf.tidy(() => Array.from(trainForward(m, cfg, x, { dropoutSeed: seed }).dataSync()));
  assertEquals(run(11), run(11));
  assertNotEquals(run(11), run(12));
  const p1 = tf.tidy(() => Array.from((m.predict(x) as tf.Tensor).dataSync()));
  const p2 = tf.tidy(() => Array.from((m.predict(x) as tf.Tensor).dataSync()));
  assertEquals(p1, p2);
  x.dispose();
  m.dispose();
});
