import { assert, assertEquals } from "@std/assert";
import * as tf from "@tensorflow/tfjs";
import { join, resolve } from "node:path";
import { trainBatches } from "../pipeline/batch/train_batches.ts";
import { readImageFolder } from "../pipeline/list/list_reader.ts";
import { decodeImage } from "../pipeline/decode/decode_image.ts";
import { networkInput } from "../pipeline/decode/network_input.ts";
import type { AugmentOptions, ImageAugment } from "../pipeline/decode/augment.ts";
import { writeRunJson } from "../model/train/run_folder.ts";
import { tinyRun } from "./tiny_run.ts";
import { runTask } from "./run_task.ts";

await tf.setBackend("cpu");

interface OrderLine {
  step: number;
  epoch: number;
  paths: string[];
  labels: number[];
  flips: boolean[];
  augments?: ImageAugment[];
}

for (const augment of [undefined, { cropScale: 0.85, jitter: 0.2 }]) {
  const what = augment ? "flips, crops and tones" : "flips";
  Deno.test(`train-order exports the images, labels and ${what} the trainer's batches hold`, async () => {
    await checkOrder(augment);
  });
}

async function checkOrder(augment?: AugmentOptions): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    const config = tinyRun(3);
    config.seed = 11;
    if (augment) config.augment = augment;
    await writeRunJson(dir, { version: 1, created: "", config, history: [] });
    const r = await runTask("tasks/train_order.ts", ["--run", dir]);
    assertEquals(r.code, 0, r.stderr);
    const lines = (await Deno.readTextFile(join(dir, "order.jsonl"))).trim().split("\n");
    const header = JSON.parse(lines[0]);
    assertEquals(header.numClasses, 25);
    assertEquals(header.images, 375);
    const order = lines.slice(1).map((l) => JSON.parse(l) as OrderLine);
    assertEquals(order.map((o) => o.step), [0, 1, 2]);

    const { records } = await readImageFolder(config.data);
    const size = config.network.inputSize;
    const reader = trainBatches(records, {
      batchSize: config.batchSize,
      seed: config.seed,
      flip: true,
      augment,
      imageSize: size,
      steps: 3,
      workers: 0,
    }).getReader();
    let flipped = 0;
    for (const o of order) {
      const b = (await reader.read()).value!;
      try {
        const byKey = new Map(records.map((x) => [x.key, x]));
        assertEquals(o.paths, b.keys.map((k) => resolve(byKey.get(k)!.path!)));
        assertEquals(o.labels, [...await b.labels.data()]);
        const data = await b.images.data();
        const px = size * size * 3;
        // Each exported flip bit gives the image the trainer fed (a wrong bit gives its mirror).
        for (let i = 0; i < o.paths.length; i++) {
          const img = await decodeImage(o.paths[i], { reduceTo: size });
          assertEquals(o.augments === undefined, augment === undefined);
          const want = networkInput(img, { size, flip: o.flips[i], augment: o.augments?.[i] });
          assertEquals(data.subarray(i * px, (i + 1) * px), want, `step ${o.step} image ${i}`);
          if (o.flips[i]) flipped++;
        }
      } finally {
        tf.dispose([b.images, b.labels]);
      }
    }
    await reader.cancel();
    assert(flipped > 0 && flipped < 24, `flipped ${flipped} of 24`);
    assertEquals(header.augment, augment);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("train-order: a folder without run.json is exit 1 naming it; no --run is exit 2", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const r = await runTask("tasks/train_order.ts", ["--run", dir]);
    assertEquals(r.code, 1);
    assert(r.stderr.includes("has no run.json"), r.stderr);
    assertEquals((await runTask("tasks/train_order.ts", [])).code, 2);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
