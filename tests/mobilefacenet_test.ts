/**
 * MobileFaceNet (arcface_torch's mbf / mbf-large): structure against PyTorch's numbers
 * (fixtures/mobilefacenet/mbf_torch.json, written by make_fixture.py with PyTorch 1.13), the
 * grouped conv against per-group convolutions, the state-dict importer, the lean training forward
 * pass, and a training step's gradients on wasm against the cpu backend.
 */
import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { initBackend } from "../model/backend/backend.ts";
import {
  detectMbfArch,
  loadTorchMbf,
  mbfWeightsFromTorch,
  type TorchStateDict,
} from "../model/io/torch_mbf.ts";
import { buildMobileFaceNet, mbfConfig } from "../model/nets/mobilefacenet.ts";
import { networkConfig } from "../model/nets/network.ts";
import { groupedConv2d, mbfTrainForward } from "../model/nets/mobilefacenet_train.ts";
import { variablesByName } from "../model/nets/train_ops.ts";
import { Trainer } from "../model/train/trainer.ts";
import { configFromFlags } from "../tasks/train/flags.ts";
import { fileLoadHandler, fileSaveHandler } from "../model/io/model_io.ts";

await initBackend({ backend: "wasm" });

interface TorchFixture {
  models: Record<string, {
    parameters: number;
    state_dict: Record<string, number[]>;
    embeddings?: number[][];
  }>;
}
const FIXTURE: TorchFixture = JSON.parse(
  await Deno.readTextFile(new URL("../fixtures/mobilefacenet/mbf_torch.json", import.meta.url)),
);

const size = (s: readonly (number | null)[]) => s.reduce((a: number, b) => a * (b ?? 1), 1);

/** The state dict of make_fixture.py's `fill()`: the same formula, key by key. */
function formulaStateDict(shapes: Record<string, number[]>): TorchStateDict {
  const sd: TorchStateDict = new Map();
  for (const [key, shape] of Object.entries(shapes)) {
    const n = size(shape);
    let phase = 0;
    for (const ch of key) phase += ch.charCodeAt(0);
    phase = (phase % 997) * 0.01;
    const data = new Float32Array(n);
    const bn = shapes[key.replace(/weight$/, "running_mean")] !== undefined;
    for (let i = 0; i < n; i++) {
      const s = Math.sin(0.37 * i + phase);
      if (key.endsWith("running_var")) data[i] = 1 + 0.5 * s * s;
      else if (key.endsWith("running_mean") || key.endsWith(".bias")) data[i] = 0.1 * s;
      else if (shape.length === 1) data[i] = (bn ? 1 : 0.25) + 0.2 * s;
      else data[i] = Math.sqrt(3 / (n / shape[0])) * s;
    }
    sd.set(key, { shape, data });
  }
  return sd;
}

Deno.test("buildMobileFaceNet() has arcface_torch's parameter counts and outputs [N, 512]", () => {
  for (const arch of ["mbf", "mbf-large"] as const) {
    const m = buildMobileFaceNet({ arch });
    const trainable = m.trainableWeights.reduce((a, w) => a + size(w.shape), 0);
    // PyTorch: sum(p.numel() for p in model.parameters()) = 2,059,520 (mbf), 6,314,880 (large).
    assert.equal(trainable, FIXTURE.models[arch].parameters, arch);
    assert.deepEqual(m.outputs[0].shape, [null, 512]);
    m.dispose();
  }
  assert.equal(FIXTURE.models.mbf.parameters, 2059520);
  assert.equal(FIXTURE.models["mbf-large"].parameters, 6314880);
  assert.throws(() => mbfConfig({ inputSize: 100 }), /multiple of 16/);
  assert.throws(() => networkConfig({ arch: "mbf", width: 0.25 }), /no width multiplier/);
  assert.throws(() => networkConfig({ arch: "mbf", dropout: 0.4 }), /no dropout/);
});

Deno.test("groupedConv2d() equals one conv2d per group (k = 2 channels per group)", () => {
  const x = tf.randomNormal([2, 9, 8, 8], 0, 1, "float32", 1) as tf.Tensor4D;
  const w = tf.randomNormal([3, 3, 8, 2], 0, 1, "float32", 2) as tf.Tensor4D; // 4 groups
  for (const stride of [1, 2]) {
    const got = tf.tidy(() => groupedConv2d(x, w, 4, stride, 1));
    // Group g: input channels 2g..2g+1 -> output channels 2g..2g+1, HWIO kernel w[.., 2g:2g+2, :].
    const ref = tf.tidy(() =>
      tf.concat(
        [0, 1, 2, 3].map((g) =>
          tf.conv2d(
            tf.slice(x, [0, 0, 0, 2 * g], [-1, -1, -1, 2]),
            tf.slice(w, [0, 0, 2 * g, 0], [-1, -1, 2, -1]) as tf.Tensor4D,
            stride,
            [[0, 0], [1, 1], [1, 1], [0, 0]],
          )
        ),
        3,
      )
    );
    assert.deepEqual(got.shape, ref.shape);
    const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(got, ref))).dataSync()[0]);
    assert.ok(diff < 1e-4, `stride ${stride}: max diff ${diff}`);
    tf.dispose([got, ref]);
  }
  tf.dispose([x, w]);
});

Deno.test("torch_mbf maps an arcface_torch state dict: layouts, and embeddings equal PyTorch's", () => {
  const shapes = FIXTURE.models.mbf.state_dict;
  const sd = formulaStateDict(shapes);
  assert.equal(detectMbfArch(sd), "mbf");
  assert.equal(
    detectMbfArch(formulaShapesOnly(FIXTURE.models["mbf-large"].state_dict)),
    "mbf-large",
  );
  const c = mbfConfig({ arch: "mbf" });
  const w = mbfWeightsFromTorch(sd, c);
  // OIHW -> HWIO: stem W[o=5, i=2, a=1, b=0] -> kernel[1, 0, 2, 5] ([3, 3, 3, 128]).
  const stem = sd.get("layers.0.layers.0.weight")!.data;
  assert.equal(
    w.get("layers_0_layers_0/kernel")!.data[((1 * 3 + 0) * 3 + 2) * 128 + 5],
    stem[((5 * 3 + 2) * 3 + 1) * 3 + 0],
  );
  // Grouped (64 groups of 2): W[o = 2g+j, i, a, b] -> dw[a, b, 2g+i, j]; g = 7, i = 1, j = 0.
  const grp = sd.get("layers.1.layers.0.weight")!.data; // [128, 2, 3, 3]
  const dw = w.get("layers_1_layers_0/depthwise_kernel")!;
  assert.deepEqual(dw.shape, [3, 3, 128, 2]);
  assert.equal(dw.data[((2 * 3 + 1) * 128 + 15) * 2 + 0], grp[((14 * 2 + 1) * 3 + 2) * 3 + 1]);
  // Linear [512, 512] transposed; PReLU [C] -> [1, 1, C].
  const lin = sd.get("features.layers.2.weight")!.data;
  assert.equal(w.get("features_layers_2/kernel")!.data[3 * 512 + 9], lin[9 * 512 + 3]);
  assert.deepEqual(w.get("layers_0_layers_2/alpha")!.shape, [1, 1, 128]);
  // Embeddings (eval mode) of PyTorch's formula input, NCHW [2, 3, 112, 112] -> NHWC.
  const m = buildMobileFaceNet(c);
  loadTorchMbf(m, sd, c);
  const input = tf.tidy(() =>
    tf.transpose(tf.sin(tf.mul(tf.range(0, 2 * 3 * 112 * 112), 0.01)).reshape([2, 3, 112, 112]), [
      0,
      2,
      3,
      1,
    ])
  );
  const got = tf.tidy(() => (m.predict(input) as tf.Tensor).arraySync() as number[][]);
  const want = FIXTURE.models.mbf.embeddings!;
  let worst = 0, scale = 0;
  got.forEach((row, i) =>
    row.forEach((v, j) => {
      worst = Math.max(worst, Math.abs(v - want[i][j]));
      scale = Math.max(scale, Math.abs(want[i][j]));
    })
  );
  assert.ok(worst / scale < 1e-3, `max |ours - PyTorch| ${worst} (scale ${scale})`);
  // A missing key or one of another shape is an error naming it.
  const broken = new Map(sd);
  broken.delete("layers.5.layers.3.layers.1.layers.0.weight");
  assert.throws(
    () => mbfWeightsFromTorch(broken, c),
    /no "layers\.5\.layers\.3\.layers\.1\.layers\.0\.weight"/,
  );
  assert.throws(() => mbfWeightsFromTorch(sd, mbfConfig({ arch: "mbf-large" })), /shape|no "/);
  tf.dispose(input);
  m.dispose();
});

function formulaShapesOnly(shapes: Record<string, number[]>): TorchStateDict {
  return new Map(
    Object.entries(shapes).map(([k, s]) => [k, { shape: s, data: new Float32Array(0) }]),
  );
}

Deno.test("mbfTrainForward() matches the LayersModel in training mode", () => {
  const c = mbfConfig({ arch: "mbf", inputSize: 32, embeddingSize: 16 });
  const m = buildMobileFaceNet(c);
  const x = tf.randomUniform([3, 32, 32, 3], -1, 1, "float32", 5) as tf.Tensor4D;
  const ref = tf.tidy(() =>
    (m.apply(x, { training: true }) as tf.Tensor).arraySync() as number[][]
  );
  const got = tf.tidy(() => mbfTrainForward(c, x, variablesByName(m)).arraySync());
  got.forEach((row, i) =>
    row.forEach((v, j) =>
      assert.ok(Math.abs(v - ref[i][j]) < 1e-3, `[${i},${j}] ${v} vs ${ref[i][j]}`)
    )
  );
  x.dispose();
  m.dispose();
});

Deno.test("an mbf training step: wasm gradients match cpu; tensors stay flat over steps", async () => {
  const trainer = new Trainer({
    // 32x32 (GDC 2x2), batch 4 keeps the cpu backend's share of the test short; the layers are
    // those of 112 (the 7x7 GDC kernel's gradients are checked in wasm_depthwise_test.ts). Batch 2
    // would make every BN's backward ill-conditioned (x_hat = +-1) and the comparison noise.
    network: { arch: "mbf", inputSize: 32, embeddingSize: 512, dropout: 0, width: 1 },
    numClasses: 4,
    margin: { type: "arcface", s: 32, m2: 0.2 },
  });
  const x = tf.randomUniform([4, 32, 32, 3], -1, 1, "float32", 9) as tf.Tensor4D;
  const y = tf.tensor1d([1, 3, 0, 2], "int32");
  const grads = (backend: string) => {
    tf.setBackend(backend);
    const r = trainer.gradients(x, y, 0);
    const out = new Map([...r.grads].map(([k, g]) => [k, g.dataSync().slice()]));
    tf.dispose([...r.grads.values(), r.total, r.inference, r.decay, r.correct]);
    return out;
  };
  const w = grads("wasm"), c = grads("cpu");
  tf.setBackend("wasm");
  assert.equal(w.size, trainer.variables.size);
  // The betas of BNs whose output only feeds 1x1 convs + BN have a zero gradient in exact
  // arithmetic (the next BN removes any per-channel shift): both backends give ~1e-7 of float
  // noise there, so each key's error is measured against max(its scale, 1e-4 x the largest).
  let global = 0;
  for (const g of c.values()) for (const v of g) global = Math.max(global, Math.abs(v));
  let worst = 0;
  for (const [k, gw] of w) {
    const gc = c.get(k)!;
    let diff = 0, scale = 0;
    for (let i = 0; i < gw.length; i++) {
      assert.ok(Number.isFinite(gw[i]), `${k}: non-finite`);
      diff = Math.max(diff, Math.abs(gw[i] - gc[i]));
      scale = Math.max(scale, Math.abs(gc[i]));
    }
    const rel = diff / Math.max(scale, 1e-4 * global);
    worst = Math.max(worst, rel);
    assert.ok(rel <= 1e-3, `${k}: wasm vs cpu ${diff} (scale ${scale})`);
  }
  console.log(`worst relative gradient difference wasm vs cpu: ${worst.toExponential(2)}`);
  await trainer.trainStep(x, y, 0.01, 0);
  const before = tf.memory().numTensors;
  for (let s = 1; s <= 2; s++) await trainer.trainStep(x, y, 0.01, s);
  assert.equal(tf.memory().numTensors, before);
  tf.dispose([x, y]);
  trainer.dispose();
});

Deno.test("an mbf export (model.json + weights) loads with tf.loadLayersModel and embeds the same", async () => {
  const c = mbfConfig({ arch: "mbf", inputSize: 32, embeddingSize: 16, seed: 3 });
  const m = buildMobileFaceNet(c);
  const dir = await Deno.makeTempDir();
  try {
    await m.save(fileSaveHandler(dir));
    const loaded = await tf.loadLayersModel(fileLoadHandler(`${dir}/model.json`));
    const x = tf.randomUniform([2, 32, 32, 3], -1, 1, "float32", 4);
    const [a, b] = tf.tidy(() =>
      [m.predict(x), loaded.predict(x)].map((t) => Array.from((t as tf.Tensor).dataSync()))
    );
    assert.deepEqual(b, a);
    assert.ok(loaded.getLayer("layers_1_layers_0_groupsum") !== undefined);
    tf.dispose(x);
    loaded.dispose();
  } finally {
    m.dispose();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("--network mbf|mbf-large: any preset's backbone becomes MobileFaceNet; --width is refused", () => {
  const c = configFromFlags({ network: "mbf", "input-size": 112 });
  assert.equal(c.preset, "lfw-small");
  assert.deepEqual(c.network, {
    kind: "mobilefacenet",
    arch: "mbf",
    inputSize: 112,
    embeddingSize: 128,
    seed: 1,
  });
  assert.equal(c.network.inputSize, 112);
  assert.deepEqual(
    configFromFlags({ preset: "r50", network: "mbf-large" }).network,
    { kind: "mobilefacenet", arch: "mbf-large", inputSize: 112, embeddingSize: 512, seed: 1 },
  );
  assert.equal(configFromFlags({ preset: "mbf", network: "r50" }).network.kind, "iresnet");
  assert.throws(() => configFromFlags({ network: "mbf", width: 0.5 }), /no width multiplier/);
  assert.throws(
    () => configFromFlags({ network: "mbf2" }),
    /r18, r34, r50, r100, mbf or mbf-large/,
  );
  const p = configFromFlags({ preset: "mbf" });
  assert.deepEqual([p.network.embeddingSize, p.weightDecay, p.margin.s, p.margin.m2], [
    512,
    1e-4,
    64,
    0.5,
  ]);
});
