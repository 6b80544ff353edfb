import {
  assert,
  assertEquals,
  assertMatch,
  assertNotMatch,
  assertStrictEquals,
  assertThrows,
} from "@std/assert";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import * as ort from "onnxruntime-node";
import { initBackend } from "../model/backend/backend.ts";
import { buildIResNet } from "../model/nets/iresnet.ts";
import { convertToOnnx, type OnnxExportOptions } from "../model/io/onnx_export.ts";
import { convPads } from "../model/io/onnx_layers.ts";
import { permute } from "../model/io/onnx_context.ts";
import { encodeModel, type OnnxModel } from "../model/io/onnx_proto.ts";
import { buildMobileFaceNet } from "../model/nets/mobilefacenet.ts";
import { ARCSTREAM_METADATA_KEY, fileSaveHandler } from "../model/io/model_io.ts";
import { runTask } from "./run_task.ts";
import { randomizeStats, uniform } from "./random_stats.ts";

await initBackend({ backend: "cpu" });

/** uint8-valued RGB pixels [N, S, S, 3] as float32 0-255. */
function pixels(n: number, size: number, seed: number): Float32Array {
  return uniform(n * size * size * 3, seed, 0, 256).map(Math.floor);
}

/** TF.js embeddings of 0-255 pixels fed as the model was trained: (x - 127.5) / 128. */
function tfEmbed(model: tf.LayersModel, px: Float32Array, n: number, size: number): Float32Array {
  return tf.tidy(() => {
    const x = tf.tensor4d(px, [n, size, size, 3]).sub(127.5).div(128);
    return (model.predict(x) as tf.Tensor).dataSync() as Float32Array;
  });
}

/** The same pixels through onnxruntime: NHWC -> NCHW, raw 0-255. */
async function ortEmbed(
  bytes: Uint8Array,
  px: Float32Array,
  n: number,
  size: number,
): Promise<{ data: Float32Array; dims: readonly number[] }> {
  const session = await ort.InferenceSession.create(bytes);
  try {
    const nchw = permute(px, [n, size, size, 3], [0, 3, 1, 2]);
    const out = await session.run({
      [session.inputNames[0]]: new ort.Tensor("float32", nchw, [n, 3, size, size]),
    });
    const t = out[session.outputNames[0]];
    return { data: t.data as Float32Array, dims: t.dims };
  } finally {
    await session.release();
  }
}

/** Max |a - b| over rows after L2-normalizing each row of both. */
function maxAbsNormalized(a: Float32Array, b: Float32Array, dim: number): number {
  let worst = 0;
  for (let r = 0; r < a.length / dim; r++) {
    const ra = a.subarray(r * dim, (r + 1) * dim);
    const rb = b.subarray(r * dim, (r + 1) * dim);
    const na = Math.hypot(...ra);
    const nb = Math.hypot(...rb);
    for (let i = 0; i < dim; i++) worst = Math.max(worst, Math.abs(ra[i] / na - rb[i] / nb));
  }
  return worst;
}

async function parity(model: tf.LayersModel, size: number, options: OnnxExportOptions = {}) {
  const n = 3;
  const px = pixels(n, size, 11);
  const want = tfEmbed(model, px, n, size);
  const onnx = convertToOnnx(model, options);
  const bytes = encodeModel(onnx);
  const got = await ortEmbed(bytes, px, n, size);
  const dim = want.length / n;
  return { want, got, dim, diff: maxAbsNormalized(want, got.data, dim), bytes, onnx };
}

/** docs/onnx.md quotes 4e-7 on L2-normalized rows; the tests hold 10x that. */
const NORMALIZED_TOLERANCE = 4e-6;

/**
 * The graph is shaped as torch.onnx.export writes it (what OpenCV's DNN importer needs): no layout
 * Transpose, the embedding FC a Gemm with transB=1 and B [D, K].
 */
function assertTorchShaped(onnx: OnnxModel, k: number, d: number): void {
  const ops = onnx.graph.nodes.map((n) => n.opType);
  assert(!ops.includes("Transpose"), `layout Transpose left in ${ops.join(",")}`);
  const gemms = onnx.graph.nodes.filter((n) => n.opType === "Gemm");
  assertStrictEquals(gemms.length, 1);
  assertEquals(gemms[0].attributes, { transA: 0, transB: 1 });
  const b = onnx.graph.initializers.find((t) => t.name === gemms[0].inputs[1]);
  assertEquals(b?.dims, [d, k]);
}

Deno.test("convPads() matches TF 'same' padding: the odd pixel goes to the bottom/right", () => {
  assertEquals(convPads("same", [112, 112], [3, 3], [2, 2], [1, 1]), [0, 0, 1, 1]);
  assertEquals(convPads("same", [7, 7], [3, 3], [1, 1], [1, 1]), [1, 1, 1, 1]);
  assertEquals(convPads("same", [7, 8], [3, 3], [2, 2], [1, 1]), [1, 0, 1, 1]);
  assertEquals(convPads("valid", [7, 7], [7, 7], [1, 1], [1, 1]), [0, 0, 0, 0]);
});

Deno.test("permute() transposes a row-major tensor", () => {
  const x = Float32Array.from([0, 1, 2, 3, 4, 5]); // [2, 3]
  assertEquals([...permute(x, [2, 3], [1, 0])], [0, 3, 1, 4, 2, 5]);
});

Deno.test("ONNX export of an IR-ResNet (r18 width 1/16 at 112, random BN stats): onnxruntime equals TF.js to 4e-6 (README: 4e-7), torch-shaped", async () => {
  const model = buildIResNet({
    depth: 18,
    width: 1 / 16,
    inputSize: 112,
    embeddingSize: 32,
    dropout: 0.4,
    seed: 3,
  });
  randomizeStats(model, 100);
  const before = tf.memory().numTensors;
  const { want, got, dim, diff, bytes, onnx } = await parity(model, 112);
  assertEquals(got.dims, [3, 32]);
  assertStrictEquals(dim, 32);
  assert(diff <= NORMALIZED_TOLERANCE, `max |diff| of L2-normalized embeddings ${diff}`);
  assertTorchShaped(onnx, 32 * 7 * 7, 32); // width 1/16: 32 channels at 7x7
  // Raw (unnormalized) outputs agree as well, relative to their size.
  const scale = Math.max(...want.map(Math.abs));
  const raw = Math.max(...want.map((v, i) => Math.abs(v - got.data[i])));
  assert(raw <= 1e-5 * Math.max(1, scale), `raw max |diff| ${raw} (max |y| ${scale})`);
  // insightface's ArcFaceONNX feeds raw pixels when "Sub" and "Mul" are among the first 8 nodes.
  const text = new TextDecoder("latin1").decode(bytes.subarray(0, 4096));
  assert(text.includes("Sub_0") && text.includes("Mul_0"));
  assertStrictEquals(tf.memory().numTensors, before);
  model.dispose();
});

Deno.test("ONNX export of a MobileFaceNet (random BN stats): onnxruntime equals TF.js to 4e-6, grouped conv fused, torch-shaped", async () => {
  const model = buildMobileFaceNet({ inputSize: 64, embeddingSize: 16, seed: 4 });
  randomizeStats(model, 300);
  const { got, diff, onnx } = await parity(model, 64);
  assertEquals(got.dims, [3, 16]);
  assert(diff <= NORMALIZED_TOLERANCE, `max |diff| of L2-normalized embeddings ${diff}`);
  assertTorchShaped(onnx, 512, 16); // GDC output [N, 1, 1, 512]
  // arcface_torch's layers.1 is Conv2d(128, 128, groups=64): one grouped Conv, no Reshape.
  const grouped = onnx.graph.nodes.filter((n) => n.opType === "Conv" && n.attributes?.group === 64);
  assertStrictEquals(grouped.length, 1);
  assertEquals(onnx.graph.nodes.filter((n) => n.opType === "Reshape").length, 0);
  model.dispose();
});

Deno.test("ONNX export without the built-in normalization takes the model's own input", async () => {
  const model = buildIResNet({
    depth: 18,
    width: 1 / 16,
    inputSize: 32,
    embeddingSize: 8,
    seed: 5,
  });
  randomizeStats(model, 7);
  const n = 2;
  const px = pixels(n, 32, 3).map((v) => (v - 127.5) / 128);
  const want = tf.tidy(() =>
    (model.predict(tf.tensor4d(px, [n, 32, 32, 3])) as tf.Tensor).dataSync() as Float32Array
  );
  const bytes = encodeModel(convertToOnnx(model, { normalize: "none", inputName: "input.1" }));
  const session = await ort.InferenceSession.create(bytes);
  assertEquals(session.inputNames, ["input.1"]);
  const out = await session.run({
    "input.1": new ort.Tensor("float32", permute(px, [n, 32, 32, 3], [0, 3, 1, 2]), [n, 3, 32, 32]),
  });
  await session.release();
  assert(maxAbsNormalized(want, out.embedding.data as Float32Array, 8) <= NORMALIZED_TOLERANCE);
  model.dispose();
});

Deno.test("ONNX export converts DepthwiseConv2D, biased conv + relu, unshared PReLU and Dense", async () => {
  // The layer kinds a MobileFaceNet adds: depthwise 3x3 stride 2 (multiplier 2), a "global
  // depthwise" valid 4x4, a biased 1x1 conv with ReLU, per-position PReLU.
  const input = tf.input({ shape: [16, 16, 3] });
  let x = tf.layers.conv2d({ filters: 6, kernelSize: 3, padding: "same", activation: "relu" })
    .apply(input) as tf.SymbolicTensor;
  x = tf.layers.depthwiseConv2d({ kernelSize: 3, strides: 2, padding: "same", depthMultiplier: 2 })
    .apply(x) as tf.SymbolicTensor;
  x = tf.layers.batchNormalization({ epsilon: 1e-3 }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.prelu().apply(x) as tf.SymbolicTensor; // alpha [8, 8, 12]
  x = tf.layers.depthwiseConv2d({ kernelSize: 3, strides: 2, padding: "same", useBias: false })
    .apply(x) as tf.SymbolicTensor;
  x = tf.layers.depthwiseConv2d({ kernelSize: 4, padding: "valid" }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.flatten().apply(x) as tf.SymbolicTensor;
  x = tf.layers.dense({ units: 5 }).apply(x) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: x });
  randomizeStats(model, 40);
  const { want, got, diff } = await parity(model, 16);
  assertEquals(got.dims, [3, 5]);
  const raw = Math.max(...want.map((v, i) => Math.abs(v - got.data[i])));
  assert(
    diff <= NORMALIZED_TOLERANCE && raw <= 1e-5 * Math.max(1, ...want.map(Math.abs)),
    `${diff} ${raw}`,
  );
  model.dispose();
});

Deno.test("ONNX export converts ZeroPadding2D, NHWC Reshape round trips and GlobalAveragePooling2D", async () => {
  // MobileFaceNet's grouped-conv trick: [N, 8, 8, 8] -> Reshape [8*8*2, 2, 2] -> depthwise [1, 2]
  // -> Reshape [8, 8, 4]; the element order is TF's NHWC order, so a wrong layout shows.
  const input = tf.input({ shape: [16, 16, 3] });
  let x = tf.layers.zeroPadding2d({ padding: [[1, 0], [0, 1]] }).apply(input) as tf.SymbolicTensor;
  x = tf.layers.conv2d({ filters: 8, kernelSize: 3, strides: 2, useBias: false })
    .apply(x) as tf.SymbolicTensor; // [N, 8, 8, 8]
  x = tf.layers.reshape({ targetShape: [128, 2, 2] }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.depthwiseConv2d({ kernelSize: [1, 2], padding: "valid" })
    .apply(x) as tf.SymbolicTensor; // [N, 128, 1, 2]
  x = tf.layers.reshape({ targetShape: [8, 8, 4] }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.prelu({ sharedAxes: [1, 2] }).apply(x) as tf.SymbolicTensor;
  const pooled = tf.layers.globalAveragePooling2d({}).apply(x) as tf.SymbolicTensor;
  const flat = tf.layers.reshape({ targetShape: [256] }).apply(x) as tf.SymbolicTensor;
  const y = tf.layers.add().apply([
    tf.layers.dense({ units: 6 }).apply(pooled) as tf.SymbolicTensor,
    tf.layers.dense({ units: 6 }).apply(flat) as tf.SymbolicTensor,
  ]) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: y });
  randomizeStats(model, 90);
  const { want, got, diff } = await parity(model, 16);
  assertEquals(got.dims, [3, 6]);
  const raw = Math.max(...want.map((v, i) => Math.abs(v - got.data[i])));
  assert(
    diff <= NORMALIZED_TOLERANCE && raw <= 1e-5 * Math.max(1, ...want.map(Math.abs)),
    `${diff} ${raw}`,
  );
  model.dispose();
});

Deno.test("ONNX export: an NCHW flatten read by something other than a Dense gets TF's element order back", async () => {
  // Flatten -> Activation (the graph's output): no kernel to permute, so the graph must restore
  // TF's (h, w, c) order itself.
  const input = tf.input({ shape: [6, 6, 3] });
  let x = tf.layers.conv2d({ filters: 4, kernelSize: 3, strides: 2, padding: "same" })
    .apply(input) as tf.SymbolicTensor; // [N, 3, 3, 4]
  x = tf.layers.flatten().apply(x) as tf.SymbolicTensor;
  x = tf.layers.activation({ activation: "tanh" }).apply(x) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: x });
  randomizeStats(model, 70);
  const { want, got } = await parity(model, 6);
  assertEquals(got.dims, [3, 36]);
  const raw = Math.max(...want.map((v, i) => Math.abs(v - got.data[i])));
  assert(raw <= 1e-5, `raw max |diff| ${raw}`);
  model.dispose();
});

Deno.test("ONNX export refuses a layer class it has no converter for, naming it", () => {
  const input = tf.input({ shape: [8, 8, 3] });
  const y = tf.layers.maxPooling2d({ poolSize: 2, name: "pool" }).apply(input) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: y });
  assertMatch(
    (assertThrows(() => convertToOnnx(model)) as Error).message,
    /layer "pool".*MaxPooling2D/,
  );
  model.dispose();
});

Deno.test("deno task export-onnx writes a model onnxruntime loads; usage errors exit 2, failures 1", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const model = buildIResNet({ depth: 18, width: 1 / 16, inputSize: 32, embeddingSize: 16 });
    model.setUserDefinedMetadata({
      [ARCSTREAM_METADATA_KEY]: { normalize: "arcface", inputSize: 32, embeddingSize: 16 },
    });
    await model.save(fileSaveHandler(join(dir, "m")));
    model.dispose();
    const out = join(dir, "m.onnx");
    const ok = await runTask("tasks/export_onnx.ts", [
      "--model",
      join(dir, "m/model.json"),
      "--out",
      out,
    ]);
    assertStrictEquals(ok.code, 0, ok.stderr);
    const session = await ort.InferenceSession.create(out);
    const res = await session.run({
      data: new ort.Tensor("float32", new Float32Array(2 * 3 * 32 * 32).fill(200), [2, 3, 32, 32]),
    });
    assertEquals(res.embedding.dims, [2, 16]);
    await session.release();
    assertStrictEquals((await runTask("tasks/export_onnx.ts", ["--out", out])).code, 2);
    assertStrictEquals((await runTask("tasks/export_onnx.ts", ["--bogus"])).code, 2);
    const missing = await runTask("tasks/export_onnx.ts", [
      "--model",
      join(dir, "nope.json"),
      "--out",
      out,
    ]);
    assertStrictEquals(missing.code, 1);
    assertMatch(missing.stderr, /nope\.json/);
    assertNotMatch(missing.stderr, /\n\s+at /); // no stack trace
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
