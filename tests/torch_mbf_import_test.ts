import { assert, assertEquals } from "@std/assert";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../model/backend/backend.ts";
import { importTorchBackbone } from "../model/io/torch_import.ts";
import { encodeTorchCheckpoint } from "../model/io/torch_save.ts";
import type { TorchStateDict } from "../model/io/torch_checkpoint.ts";
import { loadTorchMbf } from "../model/io/torch_mbf.ts";
import { buildMobileFaceNet, mbfConfig } from "../model/nets/mobilefacenet.ts";

await initBackend({ backend: "wasm" });

// arcface_torch mbf key shapes, as PyTorch 1.13 wrote them (fixtures/mobilefacenet/README.md).
const FIXTURE = JSON.parse(
  await Deno.readTextFile(new URL("../fixtures/mobilefacenet/mbf_torch.json", import.meta.url)),
) as { models: Record<string, { state_dict: Record<string, number[]> }> };

/** A state dict of those shapes with seeded values (BN variances positive). */
function randomStateDict(shapes: Record<string, number[]>): TorchStateDict {
  let s = 12345;
  const rand = () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32) - 0.5;
  return new Map(
    Object.entries(shapes).map(([k, shape]) => {
      const n = shape.reduce((a, b) => a * b, 1);
      const data = new Float32Array(n);
      for (let i = 0; i < n; i++) {
        data[i] = k.endsWith("running_var")
          ? 0.5 + Math.abs(rand())
          : k.endsWith("num_batches_tracked")
          ? 0
          : 0.2 * rand();
      }
      return [k, { shape, dtype: "float32" as const, data }];
    }),
  );
}

Deno.test("import-torch reads an arcface_torch MobileFaceNet .pth through the importer table", async () => {
  const sd = randomStateDict(FIXTURE.models.mbf.state_dict);
  const dir = await Deno.makeTempDir({ prefix: "mbf_pth_" });
  const before = tf.memory().numTensors;
  try {
    const path = `${dir}/backbone.pth`;
    await Deno.writeFile(path, encodeTorchCheckpoint(sd, { ddp: true }));
    const imported = await importTorchBackbone(path);
    assertEquals(imported.family, "mbf");
    assertEquals([imported.config.arch, imported.config.embeddingSize], ["mbf", 512]);
    const direct = buildMobileFaceNet(mbfConfig({ arch: "mbf" }));
    loadTorchMbf(direct, sd, mbfConfig({ arch: "mbf" }));
    const x = tf.randomUniform([2, 112, 112, 3], -1, 1, "float32", 3);
    const diff = tf.tidy(() => {
      const a = imported.model.predict(x) as tf.Tensor;
      const b = direct.predict(x) as tf.Tensor;
      assertEquals(a.shape, [2, 512]);
      return tf.max(tf.abs(tf.sub(a, b))).dataSync()[0];
    });
    assert(diff === 0, `imported and directly loaded MobileFaceNet differ by ${diff}`);
    x.dispose();
    imported.model.dispose();
    direct.dispose();
    assertEquals(tf.memory().numTensors, before);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
