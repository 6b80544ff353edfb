import * as tf from "@tensorflow/tfjs";
import { assertEquals, assertMatch, assertRejects, assertStrictEquals } from "@std/assert";
import { join } from "node:path";
import {
  detectModelKind,
  fileLoadHandler,
  fileSaveHandler,
  loadModelFile,
  readModelJson,
} from "../model/io/model_io.ts";

const GRAPH = new URL("../fixtures/eval/tiny_graph.json", import.meta.url).pathname;

function tinyLayers(): tf.LayersModel {
  const input = tf.input({ shape: [4] });
  const h = tf.layers.dense({ units: 3, activation: "relu", name: "d1" }).apply(input);
  const out = tf.layers.dense({ units: 2, name: "d2" }).apply(h) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: out });
}

Deno.test("fileSaveHandler() + fileLoadHandler() round-trip a layers model bit-exactly", async () => {
  await tf.setBackend("cpu");
  const dir = await Deno.makeTempDir();
  try {
    const model = tinyLayers();
    model.setUserDefinedMetadata({ arcstream: { normalize: "arcface" } });
    await model.save(fileSaveHandler(dir));
    const names = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
    assertEquals(names, ["model.json", "weights.bin"], "no temp files left behind");
    const json = await readModelJson(join(dir, "model.json"));
    assertStrictEquals(detectModelKind(json), "layers");
    assertEquals(json.userDefinedMetadata, { arcstream: { normalize: "arcface" } });
    const loaded = await tf.loadLayersModel(fileLoadHandler(join(dir, "model.json")));
    const before = tf.memory().numTensors;
    const x = tf.tensor2d([[1, -2, 3, 0.5], [0, 1, -1, 2]]);
    const a = model.predict(x) as tf.Tensor;
    const b = loaded.predict(x) as tf.Tensor;
    assertEquals(Array.from(b.dataSync()), Array.from(a.dataSync()));
    for (let i = 0; i < model.weights.length; i++) {
      assertEquals(
        Array.from(loaded.weights[i].read().dataSync()),
        Array.from(model.weights[i].read().dataSync()),
      );
    }
    tf.dispose([x, a, b]);
    assertStrictEquals(tf.memory().numTensors, before);
    model.dispose();
    loaded.dispose();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("fileLoadHandler() loads a hand-written graph model and runs it (x=[1,1] -> relu(xW))", async () => {
  await tf.setBackend("cpu");
  const { kind, model } = await loadModelFile(GRAPH);
  assertStrictEquals(kind, "graph");
  const g = model as tf.GraphModel;
  const x = tf.tensor2d([[1, 1], [2, 0]]);
  // W = [[1,-2,3],[4,5,-6]]: [1,1]W = [5,3,-3]; [2,0]W = [2,-4,6]
  const [y, z] = g.execute(x, ["y", "z"]) as tf.Tensor[];
  assertEquals(Array.from(y.dataSync()), [5, 3, -3, 2, -4, 6]);
  assertEquals(Array.from(z.dataSync()), [5, 3, 0, 2, 0, 6]);
  tf.dispose([x, y, z]);
  g.dispose();
});

Deno.test("graph model saved with fileSaveHandler() reloads with the same weights", async () => {
  await tf.setBackend("cpu");
  const dir = await Deno.makeTempDir();
  try {
    const g = await tf.loadGraphModel(fileLoadHandler(GRAPH));
    await g.save(fileSaveHandler(dir, { modelFileName: "g.json" }));
    const g2 = await tf.loadGraphModel(fileLoadHandler(join(dir, "g.json")));
    const x = tf.tensor2d([[0.5, -1]]);
    const z = g2.execute(x, "z") as tf.Tensor;
    // [0.5,-1]W = [0.5-4, -1-5, 1.5+6] = [-3.5,-6,7.5] -> relu [0,0,7.5]
    assertEquals(Array.from(z.dataSync()), [0, 0, 7.5]);
    tf.dispose([x, z]);
    g.dispose();
    g2.dispose();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("fileLoadHandler() names the missing weight shard", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const json = JSON.parse(await Deno.readTextFile(GRAPH));
    await Deno.writeTextFile(join(dir, "m.json"), JSON.stringify(json));
    assertMatch(
      ((await assertRejects(() => fileLoadHandler(join(dir, "m.json")).load!())) as Error).message,
      /Cannot read weight shard ".*tiny_graph\.bin"/,
    );
    await Deno.writeTextFile(join(dir, "bad.json"), "{ not json");
    await assertRejects(() => readModelJson(join(dir, "bad.json")), SyntaxError);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
