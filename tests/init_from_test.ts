/** `train --init-from`: backbones from a .pth, an .arcs checkpoint or a model.json export. */
import { assert, assertEquals, assertMatch, assertRejects } from "@std/assert";
import * as tf from "@tensorflow/tfjs";
import { join } from "@std/path";
import { initBackend } from "../model/backend/backend.ts";
import { initBackboneFrom, initNetwork, readInitBackbone } from "../model/io/init_from.ts";
import { importTorchBackbone, writeImported } from "../model/io/torch_import.ts";
import { configFromFlags } from "../tasks/train/flags.ts";
import { runTraining } from "../model/train/train_loop.ts";
import { Trainer } from "../model/train/trainer.ts";
import { TORCH_FIXTURES } from "./torch_fixture.ts";

await initBackend({ backend: "wasm" });
const PTH = `${TORCH_FIXTURES}iresnet_tiny.pth`;

Deno.test("initBackboneFrom() gives the same backbone from the .pth, import-torch's .arcs and its model.json, with a fresh head", async () => {
  const dir = await Deno.makeTempDir({ prefix: "init_from_" });
  try {
    const b = await importTorchBackbone(PTH);
    const out = await writeImported(b, dir, PTH);
    b.model.dispose();
    const before = tf.memory().numTensors;
    let reference: Float32Array[] | null = null;
    for (const path of [PTH, out.checkpoint, out.modelJson]) {
      const src = await readInitBackbone(path);
      const network = initNetwork({
        kind: "iresnet",
        depth: 50,
        width: 1,
        inputSize: 64,
        embeddingSize: 512,
        dropout: 0.4,
        seed: 3,
      }, src);
      assert(network.kind === "iresnet");
      assertEquals(
        [network.depth, network.width, network.inputSize, network.embeddingSize, network.dropout],
        [18, 0.0625, 112, 16, 0.4],
        path,
      );
      assertEquals([network.bnEpsilon, network.stridePadding], [1e-5, "symmetric"], path);
      const trainer = new Trainer({ network, numClasses: 7 });
      await initBackboneFrom(src, trainer.model);
      assertEquals(trainer.head.weights.shape, [16, 7]);
      const values = trainer.model.weights.map((w) => w.read().dataSync() as Float32Array);
      reference ??= values;
      values.forEach((v, i) => assertEquals(Array.from(v), Array.from(reference![i]), path));
      trainer.dispose();
    }
    assertEquals(tf.memory().numTensors, before);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("initBackboneFrom() names a weight whose shape does not fit the network", async () => {
  const src = await readInitBackbone(PTH);
  const trainer = new Trainer({
    network: { depth: 18, width: 0.125, inputSize: 112, embeddingSize: 16 },
    numClasses: 3,
  });
  try {
    await assertRejects(
      () => initBackboneFrom(src, trainer.model),
      RangeError,
      `weight "stem_conv/kernel" has shape [3,3,3,4], the network wants [3,3,3,8]`,
    );
  } finally {
    trainer.dispose();
  }
  await assertRejects(
    () => readInitBackbone("x.onnx"),
    RangeError,
    "expected a .pth, .arcs or model.json",
  );
});

Deno.test("runTraining() with --init-from a .pth fine-tunes the imported network (--wd-on all)", async () => {
  const out = await Deno.makeTempDir({ prefix: "init_run_" });
  try {
    const config = configFromFlags({
      "init-from": PTH,
      "wd-on": "all",
      steps: 1,
      "batch-size": 4,
      "eval-pairs": "",
    });
    assertEquals([config.initFrom, config.decayOn], [PTH, "all"]);
    const lines: string[] = [];
    const s = await runTraining({
      config,
      out,
      print: (l) => lines.push(l),
      progress: false,
      workers: 0,
    });
    assertEquals([s.stoppedBy, s.step], ["done", 1]);
    assertMatch(lines.join("\n"), /initialized the backbone from .*iresnet_tiny\.pth/);
    const meta = JSON.parse(await Deno.readTextFile(join(out, "export", "model.json")));
    assertEquals(meta.userDefinedMetadata.arcstream.inputSize, 112);
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});
