/**
 * Writes what `scripts/check_onnx_opencv.py` compares: for an IR-ResNet-18 (full width, 112,
 * embedding 512: the FC is a Gemm with B [512, 25088] as in arcface_torch's r18/r50), a small
 * IR-ResNet-50 (width 1/8) and a MobileFaceNet (112, 512), all with random BN statistics and PReLU
 * slopes: `<name>.onnx` (export-onnx's converter), `<name>_input.npy` (float32 [N, 3, 112, 112],
 * NCHW RGB 0-255) and `<name>_tfjs.npy` (the TF.js embeddings [N, D] of the same pixels, fed as
 * arcstream trains: (x - 127.5) / 128).
 *
 *   deno run -A scripts/onnx_opencv_inputs.ts <out-dir>
 */
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../model/backend/backend.ts";
import { buildIResNet } from "../model/nets/iresnet.ts";
import { buildMobileFaceNet } from "../model/nets/mobilefacenet.ts";
import { permute } from "../model/io/onnx_context.ts";
import { convertToOnnx } from "../model/io/onnx_export.ts";
import { encodeModel } from "../model/io/onnx_proto.ts";
import { writeNpy } from "../pipeline/formats/npy.ts";
import { randomizeStats, uniform } from "../tests/random_stats.ts";

const out = Deno.args[0];
if (!out || Deno.args.length !== 1) {
  console.error("usage: deno run -A scripts/onnx_opencv_inputs.ts <out-dir>");
  Deno.exit(2);
}
await Deno.mkdir(out, { recursive: true });
await initBackend({ backend: "wasm" });

const SIZE = 112;
const N = 3;
const models: Record<string, () => tf.LayersModel> = {
  r18: () => buildIResNet({ depth: 18, inputSize: SIZE, embeddingSize: 512, seed: 1 }),
  r50_w0125: () =>
    buildIResNet({ depth: 50, width: 1 / 8, inputSize: SIZE, embeddingSize: 512, seed: 2 }),
  mbf: () => buildMobileFaceNet({ inputSize: SIZE, embeddingSize: 512, seed: 3 }),
};

let seed = 1000;
for (const [name, build] of Object.entries(models)) {
  const model = build();
  randomizeStats(model, seed += 100);
  const px = uniform(N * SIZE * SIZE * 3, seed + 1, 0, 256).map(Math.floor); // NHWC
  const want = tf.tidy(() => {
    const x = tf.tensor4d(px, [N, SIZE, SIZE, 3]).sub(127.5).div(128);
    return (model.predict(x) as tf.Tensor).dataSync() as Float32Array;
  });
  await Deno.writeFile(join(out, `${name}.onnx`), encodeModel(convertToOnnx(model)));
  await writeNpy(join(out, `${name}_input.npy`), {
    shape: [N, 3, SIZE, SIZE],
    data: permute(px, [N, SIZE, SIZE, 3], [0, 3, 1, 2]),
  });
  await writeNpy(join(out, `${name}_tfjs.npy`), { shape: [N, want.length / N], data: want });
  model.dispose();
  console.log(`wrote ${name}`);
}
