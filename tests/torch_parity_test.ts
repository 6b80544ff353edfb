/**
 * arcstream against PyTorch on arcface_torch's IResNet + ArcFace: the fixtures (a width-1/16 r18
 * with calibrated BN statistics, 4 aligned LFW faces, PyTorch's outputs) come from
 * fixtures/torch/make_parity.py; no torch needed here.
 */
import { assert, assertEquals } from "@std/assert";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../model/backend/backend.ts";
import { readTorchCheckpoint } from "../model/io/torch_checkpoint.ts";
import { importTorchIResNet, mapTorchIResNet } from "../model/io/torch_iresnet.ts";
import { Trainer } from "../model/train/trainer.ts";
import { loadEmbedder } from "../model/eval/load_embedder.ts";
import { importTorchBackbone, writeImported } from "../model/io/torch_import.ts";
import {
  expectedStepState,
  type ParityManifest,
  readFaces,
  readManifest,
  TORCH_FIXTURES,
} from "./torch_fixture.ts";

await initBackend({ backend: "wasm" });

/** arcface_torch's input: (x / 255 - 0.5) / 0.5, NHWC. [4, 112, 112, 3] */
function torchInput(u8: Uint8Array, shape: number[]): tf.Tensor4D {
  return tf.tidy(() =>
    tf.div(tf.sub(tf.div(tf.tensor(u8, shape, "float32"), 255), 0.5), 0.5) as tf.Tensor4D
  );
}

function normalizeRows(rows: number[][]): number[][] {
  return rows.map((r) => {
    const n = Math.hypot(...r);
    return r.map((v) => v / n);
  });
}

Deno.test("imported arcface_torch IResNet embeds like PyTorch in eval mode (1e-5 on normalized rows; README: 1.0e-6)", async () => {
  const m = await readManifest();
  const sd = await readTorchCheckpoint(`${TORCH_FIXTURES}iresnet_tiny.pth`);
  const before = tf.memory().numTensors;
  const { model, config } = await importTorchIResNet(sd, "iresnet_tiny.pth");
  assertEquals([config.depth, config.width, config.inputSize, config.embeddingSize], [
    18,
    0.0625,
    112,
    16,
  ]);
  const x = torchInput(await readFaces(), m.faces_shape);
  const y = tf.tidy(() => model.predict(x) as tf.Tensor);
  const got = normalizeRows(y.arraySync() as number[][]);
  const want = normalizeRows(m.embeddings_eval);
  let worst = 0;
  got.forEach((r, i) => r.forEach((v, j) => (worst = Math.max(worst, Math.abs(v - want[i][j])))));
  assert(worst < 1e-5, `max abs diff of normalized embeddings ${worst}`);
  tf.dispose([x, y]);
  model.dispose();
  assertEquals(tf.memory().numTensors, before);
});

/** The fixture's name for each decay set (make_parity.py wrote "seed" for no-bias). */
const FIXTURE_KEY = { "no-bias": "seed", all: "all" } as const;

/** One arcstream step from the fixture's weights and head; returns per-tensor relative errors. */
async function stepAgainstTorch(m: ParityManifest, decayOn: "no-bias" | "all") {
  const mode = FIXTURE_KEY[decayOn];
  const sd = await readTorchCheckpoint(`${TORCH_FIXTURES}iresnet_tiny.pth`);
  const { model, config } = await importTorchIResNet(sd);
  const trainer = new Trainer({
    network: config,
    numClasses: m.classes,
    margin: { type: "arcface", s: m.s, m2: m.m },
    weightDecay: m.wd,
    momentum: m.momentum,
    decayOn,
  });
  trainer.model.setWeights(model.getWeights());
  model.dispose();
  // PyTorch's head is [C, D]; arcstream's [D, C].
  tf.tidy(() => trainer.head.weights.assign(tf.transpose(tf.tensor2d(m.head_weight))));
  const x = torchInput(await readFaces(), m.faces_shape);
  const labels = tf.tensor1d(m.labels, "int32");
  const metrics = await trainer.trainStep(x, labels, m.lr, 0);
  tf.dispose([x, labels]);
  const expected = mapTorchIResNet(await expectedStepState(m, mode), config);
  const errors = new Map<string, { rel: number; relUpdate: number }>();
  const initial = mapTorchIResNet(sd, config);
  for (const w of trainer.model.weights) {
    const got = w.read().dataSync() as Float32Array;
    const want = expected.get(w.originalName)!;
    const w0 = initial.get(w.originalName)!;
    let diff = 0, scale = 0, update = 0;
    for (let i = 0; i < got.length; i++) {
      diff = Math.max(diff, Math.abs(got[i] - want[i]));
      scale = Math.max(scale, Math.abs(want[i]));
      update = Math.max(update, Math.abs(want[i] - w0[i]));
    }
    errors.set(w.originalName, { rel: diff / scale, relUpdate: update ? diff / update : 0 });
  }
  const head = tf.tidy(() => tf.transpose(trainer.head.weights).arraySync() as number[][]);
  let headDiff = 0, headScale = 0;
  head.forEach((r, i) =>
    r.forEach((v, j) => {
      headDiff = Math.max(headDiff, Math.abs(v - m.steps[mode].head_weight[i][j]));
      headScale = Math.max(headScale, Math.abs(m.steps[mode].head_weight[i][j]));
    })
  );
  errors.set("head/weights", { rel: headDiff / headScale, relUpdate: NaN });
  trainer.dispose();
  return { loss: metrics.inferenceLoss, errors };
}

for (const mode of ["no-bias", "all"] as const) {
  Deno.test(`one training step matches PyTorch SGD (ArcFace s=64 m=0.5, wd on ${mode}): loss and every weight to 1.2e-4 (README: 1.2e-5)`, async () => {
    const m = await readManifest();
    const before = tf.memory().numTensors;
    const { loss, errors } = await stepAgainstTorch(m, mode);
    assert(
      Math.abs(loss - m.steps[FIXTURE_KEY[mode]].loss) <
        1.2e-4 * Math.abs(m.steps[FIXTURE_KEY[mode]].loss),
      `loss ${loss}`,
    );
    for (const [key, e] of errors) assert(e.rel < 1.2e-4, `${key}: relative error ${e.rel}`);
    assertEquals(tf.memory().numTensors, before);
    if (Deno.env.get("ARCSTREAM_PARITY_REPORT")) {
      const byRel = [...errors].sort((a, b) => b[1].rel - a[1].rel);
      const notBeta = byRel.filter(([k]) => !k.endsWith("/beta"));
      console.log(
        mode,
        { loss, torch: m.steps[FIXTURE_KEY[mode]].loss },
        byRel.slice(0, 2),
        notBeta.slice(0, 3),
      );
    }
  });
}

Deno.test("an import-torch export is embedded by eval's Embedder with arcface_torch's (x / 255 - 0.5) / 0.5 input", async () => {
  const m = await readManifest();
  const dir = await Deno.makeTempDir({ prefix: "parity_embed_" });
  try {
    const b = await importTorchBackbone(`${TORCH_FIXTURES}iresnet_tiny.pth`);
    const { modelJson } = await writeImported(b, dir, "iresnet_tiny.pth");
    b.model.dispose();
    const embedder = await loadEmbedder(modelJson, { flip: false });
    assertEquals(embedder.normalize, "arcface_torch");
    const faces = await readFaces();
    const n = 112 * 112 * 3;
    const images = [0, 1, 2, 3].map((i) => ({
      pixels: faces.subarray(i * n, (i + 1) * n),
      height: 112,
      width: 112,
    }));
    const got = await embedder.embed(images);
    const want = normalizeRows(m.embeddings_eval);
    let worst = 0;
    got.forEach((r, i) => r.forEach((v, j) => (worst = Math.max(worst, Math.abs(v - want[i][j])))));
    assert(worst < 1e-5, `max abs diff ${worst}`);
    embedder.dispose();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
