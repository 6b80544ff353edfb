import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import {
  autoWasmThreads,
  BackendOutOfMemoryError,
  explainOutOfMemory,
  initBackend,
  isOutOfMemoryError,
  parseBackendName,
  parseWasmThreads,
  probeTensorflow,
  probeWebGPU,
  WASM_HEAP_LIMIT_BYTES,
} from "../model/backend/backend.ts";

const tensorflow = probeTensorflow();
const gpu = await probeWebGPU();

Deno.test("initBackend() auto picks the best available backend: wasm without tfjs-node or a real GPU", async () => {
  const previous = Deno.env.get("ARCSTREAM_BACKEND");
  Deno.env.delete("ARCSTREAM_BACKEND");
  try {
    const info = await initBackend();
    const expected = tensorflow.loadable
      ? "tensorflow"
      : gpu.adapter && !gpu.adapter.isFallbackAdapter
      ? "webgpu"
      : "wasm";
    assert.equal(info.name, expected);
    assert.equal(tf.getBackend(), expected);
    if (expected === "wasm") {
      assert.match(info.detail, /SIMD on, threads \d, \d+ arcstream kernels/);
      assert.equal(info.memoryLimitBytes, WASM_HEAP_LIMIT_BYTES);
      // Each backend above wasm says why it was passed over.
      assert.match(info.skipped[0], /^tensorflow: /);
      assert.match(info.skipped[1], /^webgpu: /);
      if (gpu.adapter?.isFallbackAdapter) assert.match(info.skipped[1], /fallback/);
    }
  } finally {
    if (previous !== undefined) Deno.env.set("ARCSTREAM_BACKEND", previous);
  }
});

Deno.test({
  name: "initBackend({ backend: 'tensorflow' }) without tfjs-node throws, naming why and the fix",
  ignore: tensorflow.loadable,
  fn: async () => {
    await assert.rejects(
      initBackend({ backend: "tensorflow" }),
      (e: Error) => {
        assert.match(e.message, /^Cannot use the tensorflow backend/);
        assert.match(e.message, /setup-gpu/);
        return true;
      },
    );
  },
});

Deno.test("ARCSTREAM_BACKEND forces a backend; unknown names and thread counts are RangeErrors", async () => {
  const previous = Deno.env.get("ARCSTREAM_BACKEND");
  try {
    Deno.env.set("ARCSTREAM_BACKEND", "cpu");
    assert.equal((await initBackend()).name, "cpu");
    assert.equal(tf.getBackend(), "cpu");
    // An explicit option wins over the environment.
    assert.equal((await initBackend({ backend: "wasm" })).name, "wasm");
    Deno.env.set("ARCSTREAM_BACKEND", "cuda");
    await assert.rejects(
      initBackend(),
      /Unknown backend "cuda": expected auto, tensorflow, webgpu, wasm, cpu/,
    );
  } finally {
    if (previous === undefined) Deno.env.delete("ARCSTREAM_BACKEND");
    else Deno.env.set("ARCSTREAM_BACKEND", previous);
  }
  assert.equal(parseBackendName(" WASM "), "wasm");
  assert.equal(autoWasmThreads(2, 1.7), 2);
  assert.equal(autoWasmThreads(2, 2.0), 1);
  assert.equal(autoWasmThreads(16, 0.5), 8);
  assert.equal(autoWasmThreads(1, 0), 1);
  assert.ok([1, Math.min(8, navigator.hardwareConcurrency)].includes(parseWasmThreads("auto")));
  assert.equal(parseWasmThreads("3"), 3);
  assert.throws(() => parseWasmThreads(0), /"auto" or an integer in \[1, 8\], got "0"/);
  assert.throws(() => parseBackendName("gpu"), RangeError);
});

Deno.test("an allocation past the 4 GiB wasm heap throws BackendOutOfMemoryError; the backend stays usable", async () => {
  await initBackend({ backend: "wasm" });
  const before = tf.memory().numTensors;
  // 4 GiB and 4.8 GB in one tensor (sizes tfjs would wrap around to small ones): the guard
  // refuses them at once, before any page is touched.
  for (const [n, mb] of [[2 ** 30, 4096], [1.2e9, 4578]]) {
    assert.throws(() => tf.fill([n], 0), (e: unknown) => {
      assert.ok(e instanceof BackendOutOfMemoryError, String(e));
      assert.ok(isOutOfMemoryError(e));
      assert.match((e as Error).message, new RegExp(`cannot allocate ${mb} MB`));
      return true;
    });
  }
  assert.equal(tf.memory().numTensors, before);
  const t = tf.add(tf.ones([3]), 1);
  assert.deepEqual([...t.dataSync()], [2, 2, 2]);
  t.dispose();
});

Deno.test("explainOutOfMemory() suggests --micro-batch for OOM and passes other errors through", () => {
  const oom = explainOutOfMemory(new BackendOutOfMemoryError(1 << 30, 3 << 30), { batchSize: 8 });
  assert.match(oom.message, /--micro-batch 4 keeps the batch of 8 but runs it 2 images at a time/);
  const abort = explainOutOfMemory(new Error("RuntimeError: Aborted(OOM)"), {
    batchSize: 8,
    microBatch: 2,
  });
  assert.match(abort.message, /--micro-batch 1/);
  const other = new TypeError("bad shape");
  assert.equal(explainOutOfMemory(other, { batchSize: 8 }), other);
});

Deno.test("ARCSTREAM_WASM_THREADS=2 runs the threaded build, same numbers, and the process exits", async () => {
  const script = `
    import * as tf from "@tensorflow/tfjs";
    import { initBackend } from "./model/backend/backend.ts";
    const info = await initBackend({ backend: "wasm" });
    const x = tf.randomNormal([2, 12, 12, 8], 0, 1, "float32", 1);
    const f = tf.randomNormal([3, 3, 8, 8], 0, 1, "float32", 2);
    const g = tf.grads((x, f) => tf.conv2d(x, f, 2, "same").square().sum())([x, f]);
    console.log(JSON.stringify({ detail: info.detail, sums: g.map((t) => t.sum().dataSync()[0]) }));
  `;
  const run = async (threads: string) => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["eval", "--ext=ts", script],
      env: { ARCSTREAM_WASM_THREADS: threads, ARCSTREAM_BACKEND: "wasm" },
      signal: AbortSignal.timeout(60_000),
    }).output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    return JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").pop()!);
  };
  const [one, two] = await Promise.all([run("1"), run("2")]);
  assert.match(one.detail, /threads 1,/);
  assert.match(two.detail, /threads 2,/);
  for (let i = 0; i < 2; i++) {
    assert.ok(Math.abs(one.sums[i] - two.sums[i]) <= 1e-4 * Math.abs(one.sums[i]));
  }
});
