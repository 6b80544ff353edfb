import * as tf from "@tensorflow/tfjs";
import { assert, assertEquals, assertMatch, assertStrictEquals, assertThrows } from "@std/assert";
import { Embedder, embedImages, EmbedStream, type RgbImage } from "../model/eval/embed_stream.ts";
import type { ImageRecord } from "../pipeline/records.ts";
import { loadModelFile } from "../model/io/model_io.ts";

await tf.setBackend("cpu");
const S = 4; // model input side
const D = 3; // embedding size

/** Flatten + dense with fixed weights W[k][j] = sin(k + 2j), no bias: f(x) = vec(x) W. */
function linearModel(bias = false): { model: tf.LayersModel; W: number[][] } {
  const n = S * S * 3;
  const W = Array.from(
    { length: n },
    (_, k) => Array.from({ length: D }, (_, j) => Math.sin(k + 2 * j)),
  );
  const input = tf.input({ shape: [S, S, 3] });
  const flat = tf.layers.flatten().apply(input);
  const dense = tf.layers.dense({ units: D, useBias: bias, name: "emb" });
  const out = dense.apply(flat) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: out });
  dense.setWeights([tf.tensor2d(W), ...(bias ? [tf.tensor1d([0.5, -1, 2])] : [])]);
  return { model, W };
}

function image(seed: number, side = S): RgbImage {
  const pixels = Uint8Array.from(
    { length: side * side * 3 },
    (_, i) => (i * 37 + seed * 101) % 256,
  );
  return { pixels, height: side, width: side };
}

/** The expected embedding, computed by plain loops: normalize(f(x) + f(mirror(x))). */
function expected(
  img: RgbImage,
  W: number[][],
  norm: (v: number) => number,
  flip = true,
): number[] {
  const e = new Array(D).fill(0);
  for (let y = 0; y < S; y++) {
    for (let x = 0; x < S; x++) {
      for (let c = 0; c < 3; c++) {
        const v = norm(img.pixels[(y * S + x) * 3 + c]);
        const k = (y * S + x) * 3 + c, km = (y * S + (S - 1 - x)) * 3 + c;
        for (let j = 0; j < D; j++) e[j] += v * W[k][j] + (flip ? v * W[km][j] : 0);
      }
    }
  }
  const n = Math.hypot(...e);
  return e.map((v) => v / n);
}

const close = (a: ArrayLike<number>, b: ArrayLike<number>, tol = 1e-5) =>
  assert(
    Array.from(a).every((v, i) => Math.abs(v - b[i]) < tol),
    `${Array.from(a)} vs ${Array.from(b)}`,
  );

Deno.test("Embedder.embed() = normalize(f(x) + f(mirror x)) with arcface pixels (x-127.5)/128", async () => {
  const { model, W } = linearModel();
  const e = new Embedder(model);
  assertStrictEquals(e.normalize, "arcface");
  assertStrictEquals(e.inputSize, S);
  const imgs = [image(1), image(2), image(3)];
  const before = tf.memory().numTensors;
  const out = await e.embed(imgs);
  assertStrictEquals(tf.memory().numTensors, before, "no tensor leaked");
  imgs.forEach((im, i) => close(out[i], expected(im, W, (v) => (v - 127.5) / 128)));
  const noFlip = await new Embedder(model, { flip: false }).embed([imgs[0]]);
  close(noFlip[0], expected(imgs[0], W, (v) => (v - 127.5) / 128, false));
  model.dispose();
});

Deno.test("Embedder normalize raw and unit differ only in scale, which L2 normalization removes", async () => {
  const { model, W } = linearModel();
  const im = image(5);
  const raw = await new Embedder(model, { normalize: "raw" }).embed([im]);
  const unit = await new Embedder(model, { normalize: "unit" }).embed([im]);
  close(raw[0], expected(im, W, (v) => v));
  close(unit[0], raw[0]);
  model.dispose();
});

Deno.test("Embedder resizes other image sizes bilinearly to the input side (constant stays constant)", async () => {
  const { model, W } = linearModel(true);
  const flat = (side: number): RgbImage => ({
    pixels: Uint8Array.from({ length: side * side * 3 }, (_, i) => [10, 200, 90][i % 3]),
    height: side,
    width: side,
  });
  const e = new Embedder(model);
  const [small, big] = await e.embed([flat(S), flat(9)]);
  close(big, small);
  assertStrictEquals(W.length, S * S * 3);
  model.dispose();
});

Deno.test("EmbedStream batches records, keeps their order and keys, and frees its tensors", async () => {
  const { model } = linearModel();
  const e = new Embedder(model);
  const recs: ImageRecord[] = [1, 2, 3, 4, 5].map((i) => ({
    key: `k${i}`,
    label: -1,
    ...image(i),
  }));
  const before = tf.memory().numTensors;
  const out = [];
  for await (
    const r of ReadableStream.from(recs).pipeThrough(new EmbedStream(e, { batchSize: 2 }))
  ) out.push(r);
  assertStrictEquals(tf.memory().numTensors, before);
  assertEquals(out.map((r) => r.key), ["k1", "k2", "k3", "k4", "k5"]);
  const direct = await e.embed(recs);
  out.forEach((r, i) => close(r.embedding, direct[i], 1e-6));
  const viaHelper = await embedImages(model, recs, { batchSize: 3 });
  viaHelper.forEach((v, i) => close(v, direct[i], 1e-6));
  assertThrows(() => new EmbedStream(e, { batchSize: 0 }), RangeError);
  model.dispose();
});

Deno.test("Embedder picks the widest output by default and another by name", async () => {
  const input = tf.input({ shape: [S, S, 3] });
  const flat = tf.layers.flatten().apply(input);
  const a = tf.layers.dense({ units: 2, name: "narrow" }).apply(flat) as tf.SymbolicTensor;
  const b = tf.layers.dense({ units: 5, name: "wide" }).apply(flat) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: [a, b] });
  const wide = new Embedder(model);
  assertStrictEquals(wide.output, "wide");
  assertStrictEquals((await wide.embed([image(1)]))[0].length, 5);
  const narrow = new Embedder(model, { output: "narrow" });
  assertStrictEquals((await narrow.embed([image(1)]))[0].length, 2);
  assertMatch(
    (assertThrows(() => new Embedder(model, { output: "nope" })) as Error).message,
    /no output "nope".*narrow, wide/,
  );
  model.dispose();
});

Deno.test("Embedder refuses a model whose input is not an NHWC RGB batch", async () => {
  const graph = new URL("../fixtures/eval/tiny_graph.json", import.meta.url).pathname;
  const { model } = await loadModelFile(graph);
  assertThrows(() => new Embedder(model), Error, "input is [-1,2], not an NHWC RGB image batch");
  model.dispose();
});
