/**
 * The PyTorch checkpoint reader and the arcface_torch IResNet mapping: files written by torch
 * 1.13 (fixtures/torch/, made by make_parity.py) and bytes built here by arcstream's writer.
 */
import { assertEquals, assertRejects, assertStringIncludes, assertThrows } from "@std/assert";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../model/backend/backend.ts";
import {
  parseTorchCheckpoint,
  readTorchCheckpoint,
  type TorchStateDict,
} from "../model/io/torch_checkpoint.ts";
import { mapTorchIResNet, torchIResNetConfig } from "../model/io/torch_iresnet.ts";
import { encodeTorchCheckpoint } from "../model/io/torch_save.ts";
import { encodeZip } from "../pipeline/formats/zip_writer.ts";
import { TORCH_FIXTURES } from "./torch_fixture.ts";

await initBackend({ backend: "wasm" });

Deno.test("readTorchCheckpoint() reads torch.save's zip: keys in order, shapes, dtypes, values", async () => {
  const sd = await readTorchCheckpoint(`${TORCH_FIXTURES}iresnet_tiny.pth`);
  assertEquals(sd.size, 187);
  assertEquals([...sd.keys()].slice(0, 3), ["conv1.weight", "bn1.weight", "bn1.bias"]);
  assertEquals(sd.get("conv1.weight")!.shape, [4, 3, 3, 3]);
  assertEquals(sd.get("fc.weight")!.shape, [16, 32 * 49]);
  assertEquals(sd.get("bn1.num_batches_tracked")!.dtype, "int64");
  assertEquals(sd.get("bn1.num_batches_tracked")!.shape, []);
  assertEquals(sd.get("features.weight")!.data.every((x) => x === 1), true);
});

Deno.test("readTorchCheckpoint() unwraps a nested state_dict, strips DDP's module. and rebuilds strided, offset, half, double and int64 tensors", async () => {
  const sd = await readTorchCheckpoint(`${TORCH_FIXTURES}corner_ddp.pth`);
  assertEquals([...sd.keys()], ["a", "b", "c", "h", "n", "d"]);
  const arange = (n: number, from = 0) => Array.from({ length: n }, (_, i) => i + from);
  assertEquals(Array.from(sd.get("a")!.data), arange(12));
  // b = a.t(): shape [4, 3], strides (1, 4) over a's storage
  assertEquals(sd.get("b")!.shape, [4, 3]);
  assertEquals(Array.from(sd.get("b")!.data), [0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11]);
  assertEquals(Array.from(sd.get("c")!.data), [5, 6, 7, 8]); // big[5:9]: storage offset 5
  assertEquals(sd.get("h")!.dtype, "float16");
  assertEquals(Array.from(sd.get("h")!.data), arange(12));
  assertEquals([sd.get("n")!.dtype, sd.get("n")!.data[0]], ["int64", 7]);
  assertEquals([sd.get("d")!.dtype, Array.from(sd.get("d")!.data)], ["float64", [4, 5, 6, 7]]);
});

Deno.test("parseTorchCheckpoint() says what a legacy file, a TorchScript archive, a tar or other bytes are", async () => {
  await assertRejects(
    () => readTorchCheckpoint(`${TORCH_FIXTURES}legacy.pth`),
    SyntaxError,
    "legacy (non-zip) PyTorch file",
  );
  await assertRejects(
    () => readTorchCheckpoint(`${TORCH_FIXTURES}scripted.pt`),
    SyntaxError,
    "TorchScript archive",
  );
  const tar = new Uint8Array(1024);
  tar.set(new TextEncoder().encode("ustar"), 257);
  assertThrows(() => parseTorchCheckpoint(tar, "old.tar"), SyntaxError, "legacy PyTorch tar");
  assertThrows(
    () => parseTorchCheckpoint(new TextEncoder().encode("hello"), "x.pth"),
    SyntaxError,
    `"x.pth": not a zip archive`,
  );
  const noPkl = encodeZip([["a/b.txt", new Uint8Array(3)]]);
  assertThrows(() => parseTorchCheckpoint(noPkl, "z.pth"), SyntaxError, "without <name>/data.pkl");
  const bad = encodeZip([[
    "a/data.pkl",
    Uint8Array.of(0x80, 2, 0x63, ...new TextEncoder().encode("os\nsystem\n"), 0x2e),
  ]]);
  // An unknown class is only ever an opaque object, never called: the dict has no tensors.
  assertThrows(() => parseTorchCheckpoint(bad, "evil.pth"), SyntaxError, "no dict of tensors");
});

Deno.test("encodeTorchCheckpoint() round-trips through the reader (plain, wrapped in state_dict, DDP keys)", () => {
  const sd: TorchStateDict = new Map([
    ["w", { shape: [2, 3], dtype: "float32", data: Float32Array.of(1, 2, 3, 4, 5, 6) }],
    ["s", { shape: [], dtype: "float32", data: Float32Array.of(-0.5) }],
  ]);
  for (const opts of [{}, { wrap: "state_dict", ddp: true }, { wrap: "state_dict_backbone" }]) {
    const back = parseTorchCheckpoint(encodeTorchCheckpoint(sd, opts));
    assertEquals([...back.keys()], ["w", "s"]);
    assertEquals(back.get("w")!.shape, [2, 3]);
    assertEquals(Array.from(back.get("w")!.data), [1, 2, 3, 4, 5, 6]);
    assertEquals(Array.from(back.get("s")!.data), [-0.5]);
  }
});

Deno.test("mapTorchIResNet() names a missing, mis-shaped or unexpected key with both shapes", async () => {
  const sd = await readTorchCheckpoint(`${TORCH_FIXTURES}iresnet_tiny.pth`);
  const config = torchIResNetConfig(sd);
  assertEquals(config.depth, 18);
  assertEquals([config.bnEpsilon, config.stridePadding, config.fixedFeatureScale], [
    1e-5,
    "symmetric",
    true,
  ]);
  const before = tf.memory().numTensors;
  // 187 keys less the 31 BN layers' num_batches_tracked
  assertEquals(mapTorchIResNet(sd, config).size, 187 - 31);
  const missing = new Map(sd);
  missing.delete("layer2.1.bn1.running_var");
  assertThrows(
    () => mapTorchIResNet(missing, config, "m.pth"),
    RangeError,
    `"m.pth" onto an IR-ResNet: missing key "layer2.1.bn1.running_var" (expected shape [8])`,
  );
  const shaped = new Map(sd);
  shaped.set("layer3.0.conv2.weight", {
    shape: [16, 16, 1, 1],
    dtype: "float32",
    data: new Float32Array(256),
  });
  assertThrows(
    () => mapTorchIResNet(shaped, config),
    RangeError,
    `key "layer3.0.conv2.weight" has shape [16,16,1,1], expected [16,16,3,3]`,
  );
  const extra = new Map(sd);
  extra.set("head.weight", { shape: [2], dtype: "float32", data: new Float32Array(2) });
  assertThrows(
    () => mapTorchIResNet(extra, config),
    RangeError,
    `unexpected key "head.weight" (shape [2])`,
  );
  assertEquals(tf.memory().numTensors, before);
});

Deno.test("torchIResNetConfig() reads depth and width from the keys: r34 layout at width 1/16", () => {
  const sd: TorchStateDict = new Map();
  const units = [3, 4, 6, 3];
  const add = (k: string, shape: number[]) =>
    sd.set(k, {
      shape,
      dtype: "float32",
      data: new Float32Array(shape.reduce((a, b) => a * b, 1)),
    });
  add("conv1.weight", [4, 3, 3, 3]);
  units.forEach((n, s) => {
    for (let i = 0; i < n; i++) {
      add(`layer${s + 1}.${i}.conv1.weight`, [4 << s, 4 << s, 3, 3]);
      add(`layer${s + 1}.${i}.conv2.weight`, [4 << s, 4 << s, 3, 3]);
    }
  });
  add("fc.weight", [8, 32 * 49]);
  const c = torchIResNetConfig(sd);
  assertEquals([c.depth, c.width, c.inputSize, c.embeddingSize], [34, 0.0625, 112, 8]);
  sd.delete("layer3.5.conv1.weight");
  assertThrows(() => torchIResNetConfig(sd), RangeError, "units per stage [3,4,5,3]");
});

Deno.test("import-torch task: exit 2 on usage, 1 with the reason for a TorchScript file, 0 with model.json + .arcs", async () => {
  const { runTask } = await import("./run_task.ts");
  const usage = await runTask("tasks/import_torch.ts", []);
  assertEquals(usage.code, 2);
  assertStringIncludes(usage.stderr, "give exactly one checkpoint FILE.pth");
  const scripted = await runTask("tasks/import_torch.ts", [`${TORCH_FIXTURES}scripted.pt`]);
  assertEquals(scripted.code, 1);
  assertStringIncludes(scripted.stderr, "TorchScript archive");
  const out = await Deno.makeTempDir({ prefix: "import_torch_" });
  try {
    const ok = await runTask("tasks/import_torch.ts", [
      `${TORCH_FIXTURES}iresnet_tiny.pth`,
      "--out",
      out,
      "--backend",
      "wasm",
    ]);
    assertEquals(ok.code, 0, ok.stderr);
    const summary = JSON.parse(new TextDecoder().decode(ok.stdout));
    assertEquals([summary.family, summary.config.depth, summary.parameters], [
      "iresnet",
      18,
      70712,
    ]);
    const json = JSON.parse(await Deno.readTextFile(`${out}/model.json`));
    assertEquals(json.userDefinedMetadata.arcstream.normalize, "arcface_torch");
    assertEquals((await Deno.stat(`${out}/ckpt-00000000.arcs`)).isFile, true);
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});
