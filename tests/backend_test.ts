import * as tf from "@tensorflow/tfjs";
import {
  assert,
  assertEquals,
  assertMatch,
  assertRejects,
  assertStrictEquals,
  assertThrows,
} from "@std/assert";
import {
  autoCandidates,
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

Deno.test("autoCandidates() ranks tensorflow > real WebGPU adapter > wasm > cpu on fixed probe results", () => {
  const tfYes = { loadable: true, reason: "found @tensorflow/tfjs-node-gpu 4.22.0" };
  const tfNo = { loadable: false, reason: "@tensorflow/tfjs-node is not installed" };
  const real = { adapter: { isFallbackAdapter: false }, reason: "NVIDIA H100" };
  const llvmpipe = {
    adapter: { isFallbackAdapter: true },
    reason: "llvmpipe is a fallback adapter",
  };
  const none = { adapter: null, reason: "no adapter" };
  assertEquals(autoCandidates(tfYes, real), {
    order: ["tensorflow", "webgpu", "wasm", "cpu"],
    skipped: [],
  });
  assertEquals(autoCandidates(tfNo, real), {
    order: ["webgpu", "wasm", "cpu"],
    skipped: ["tensorflow: @tensorflow/tfjs-node is not installed"],
  });
  assertEquals(autoCandidates(tfNo, llvmpipe), {
    order: ["wasm", "cpu"],
    skipped: [
      "tensorflow: @tensorflow/tfjs-node is not installed",
      "webgpu: llvmpipe is a fallback adapter",
    ],
  });
  assertEquals(autoCandidates(tfYes, none), {
    order: ["tensorflow", "wasm", "cpu"],
    skipped: ["webgpu: no adapter"],
  });
});

Deno.test({
  name: "initBackend() auto picks wasm on a machine without tfjs-node or a real GPU (CI)",
  ignore: tensorflow.loadable || (gpu.adapter !== null && !gpu.adapter.isFallbackAdapter),
  fn: async () => {
    const previous = Deno.env.get("ARCSTREAM_BACKEND");
    Deno.env.delete("ARCSTREAM_BACKEND");
    try {
      const info = await initBackend();
      assertStrictEquals(info.name, "wasm");
      assertStrictEquals(tf.getBackend(), "wasm");
      assertMatch(info.detail, /SIMD on, threads \d, \d+ arcstream kernels/);
      assertStrictEquals(info.memoryLimitBytes, WASM_HEAP_LIMIT_BYTES);
      // Each backend above wasm says why it was passed over.
      assertMatch(info.skipped[0], /^tensorflow: /);
      assertMatch(info.skipped[1], /^webgpu: /);
      if (gpu.adapter?.isFallbackAdapter) assertMatch(info.skipped[1], /fallback/);
    } finally {
      if (previous !== undefined) Deno.env.set("ARCSTREAM_BACKEND", previous);
    }
  },
});

Deno.test({
  name: "initBackend({ backend: 'tensorflow' }) without tfjs-node throws, naming why and the fix",
  ignore: tensorflow.loadable,
  fn: async () => {
    const e = await assertRejects(() => initBackend({ backend: "tensorflow" }), Error);
    assertMatch(e.message, /^Cannot use the tensorflow backend/);
    assertMatch(e.message, /setup-gpu/);
  },
});

Deno.test("ARCSTREAM_BACKEND forces a backend; unknown names and thread counts are RangeErrors", async () => {
  const previous = Deno.env.get("ARCSTREAM_BACKEND");
  try {
    Deno.env.set("ARCSTREAM_BACKEND", "cpu");
    assertStrictEquals((await initBackend()).name, "cpu");
    assertStrictEquals(tf.getBackend(), "cpu");
    // An explicit option wins over the environment.
    assertStrictEquals((await initBackend({ backend: "wasm" })).name, "wasm");
    Deno.env.set("ARCSTREAM_BACKEND", "cuda");
    await assertRejects(
      () => initBackend(),
      Error,
      'Unknown backend "cuda": expected auto, tensorflow, webgpu, wasm, cpu',
    );
  } finally {
    if (previous === undefined) Deno.env.delete("ARCSTREAM_BACKEND");
    else Deno.env.set("ARCSTREAM_BACKEND", previous);
  }
  assertStrictEquals(parseBackendName(" WASM "), "wasm");
  assertStrictEquals(autoWasmThreads(2, 1.7), 2);
  assertStrictEquals(autoWasmThreads(2, 2.0), 1);
  assertStrictEquals(autoWasmThreads(16, 0.5), 8);
  assertStrictEquals(autoWasmThreads(1, 0), 1);
  assert([1, Math.min(8, navigator.hardwareConcurrency)].includes(parseWasmThreads("auto")));
  assertStrictEquals(parseWasmThreads("3"), 3);
  assertThrows(() => parseWasmThreads(0), Error, '"auto" or an integer in [1, 8], got "0"');
  assertThrows(() => parseBackendName("gpu"), RangeError);
});

Deno.test("an allocation past the 4 GiB wasm heap throws BackendOutOfMemoryError; the backend stays usable", async () => {
  await initBackend({ backend: "wasm" });
  const before = tf.memory().numTensors;
  // 4 GiB and 4.8 GB in one tensor (sizes tfjs would wrap around to small ones): the guard
  // refuses them at once, before any page is touched.
  for (const [n, mb] of [[2 ** 30, 4096], [1.2e9, 4578]]) {
    const e = assertThrows(() => tf.fill([n], 0), BackendOutOfMemoryError);
    assert(isOutOfMemoryError(e));
    assertMatch(e.message, new RegExp(`cannot allocate ${mb} MB`));
  }
  assertStrictEquals(tf.memory().numTensors, before);
  const t = tf.add(tf.ones([3]), 1);
  assertEquals([...t.dataSync()], [2, 2, 2]);
  t.dispose();
});

Deno.test("explainOutOfMemory() suggests --micro-batch for OOM and passes other errors through", () => {
  const oom = explainOutOfMemory(new BackendOutOfMemoryError(1 << 30, 3 << 30), { batchSize: 8 });
  assertMatch(oom.message, /--micro-batch 4 keeps the batch of 8 but runs it 2 images at a time/);
  const abort = explainOutOfMemory(new Error("RuntimeError: Aborted(OOM)"), {
    batchSize: 8,
    microBatch: 2,
  });
  assertMatch(abort.message, /--micro-batch 1/);
  const other = new TypeError("bad shape");
  assertStrictEquals(explainOutOfMemory(other, { batchSize: 8 }), other);
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
    assertStrictEquals(out.code, 0, new TextDecoder().decode(out.stderr));
    return JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").pop()!);
  };
  const [one, two] = await Promise.all([run("1"), run("2")]);
  assertMatch(one.detail, /threads 1,/);
  assertMatch(two.detail, /threads 2,/);
  for (let i = 0; i < 2; i++) {
    assert(Math.abs(one.sums[i] - two.sums[i]) <= 1e-4 * Math.abs(one.sums[i]));
  }
});
