import { assert, assertEquals, assertMatch, assertStrictEquals } from "@std/assert";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../model/backend/backend.ts";
import { QUIET, tinyRun } from "./tiny_run.ts";
import { listCheckpoints, loadCheckpoint } from "../model/train/checkpoint.ts";
import { runTraining } from "../model/train/train_loop.ts";
import { loadEmbedder } from "../model/eval/load_embedder.ts";

await initBackend({ backend: "wasm" });

Deno.test("resume after an interrupt replays the same batches and ends on the same weights", async () => {
  const dirA = await Deno.makeTempDir();
  const dirB = await Deno.makeTempDir();
  try {
    const keysA: string[][] = [];
    const a = await runTraining({
      config: tinyRun(),
      out: dirA,
      ...QUIET,
      onStep: (s) => keysA.push(s.keys),
    });
    assertStrictEquals(a.stoppedBy, "done");
    assertStrictEquals(a.step, 6);

    // Interrupted after step 3 (what Ctrl-C does: finish the step, save, stop) ...
    const keysB: string[][] = [];
    const abort = new AbortController();
    const b1 = await runTraining({
      config: tinyRun(),
      out: dirB,
      ...QUIET,
      signal: abort.signal,
      onStep: (s) => {
        keysB.push(s.keys);
        if (s.step === 3) abort.abort();
      },
    });
    assertStrictEquals(b1.stoppedBy, "interrupted");
    assertStrictEquals(b1.step, 3);
    assertMatch(b1.checkpoint!, /ckpt-00000003\.arcs$/);
    // ... then resumed from its newest checkpoint.
    const b2 = await runTraining({
      config: tinyRun(),
      out: dirB,
      resume: true,
      ...QUIET,
      onStep: (s) => keysB.push(s.keys),
    });
    assertStrictEquals(b2.stoppedBy, "done");
    assertEquals(keysB, keysA);

    const ckA = await loadCheckpoint(a.checkpoint!);
    const ckB = await loadCheckpoint(b2.checkpoint!);
    assertStrictEquals(ckA.meta.step, 6);
    assertEquals(ckB.meta.cursor, ckA.meta.cursor);
    assertEquals([...ckB.tensors.keys()].sort(), [...ckA.tensors.keys()].sort());
    assert([...ckA.tensors.keys()].some((k) => k.startsWith("slot/")), "no momentum slots");
    assert([...ckA.tensors.keys()].some((k) => k.endsWith("moving_mean")), "no BN stats");
    for (const [k, t] of ckA.tensors) {
      assertEquals(ckB.tensors.get(k)!.dataSync(), t.dataSync(), `tensor ${k} differs`);
    }
    [...ckA.tensors.values(), ...ckB.tensors.values()].forEach((t) => t.dispose());
    // Keep-last-K: 2 checkpoints remain (steps 4 and 6).
    assertEquals(
      (await listCheckpoints(`${dirA}/checkpoints`)).map((p) => p.slice(-10)),
      ["00004.arcs", "00006.arcs"],
    );
    // Both logs exist; log.jsonl holds the original TF ArcFace code's fields.
    const lines = (await Deno.readTextFile(`${dirA}/log.jsonl`)).trim().split("\n");
    const e = JSON.parse(lines[lines.length - 1]);
    for (const f of ["epoch", "step", "totalLoss", "inferenceLoss", "accuracy", "imagesPerSec"]) {
      assert(f in e, `log.jsonl lacks ${f}`);
    }
    assertMatch(await Deno.readTextFile(`${dirA}/log.txt`), /training accuracy/);
  } finally {
    await Deno.remove(dirA, { recursive: true });
    await Deno.remove(dirB, { recursive: true });
  }
});

Deno.test("a huge learning rate stops the run with a clear message; the last good checkpoint stays", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const c = tinyRun();
    // Two sane steps (checkpoint at 2), then lr 1e30 blows the weights up.
    c.schedule = { kind: "piecewise", boundaries: [2], values: [0.01, 1e30] };
    const s = await runTraining({ config: c, out: dir, ...QUIET });
    assertStrictEquals(s.stoppedBy, "non-finite loss");
    assertMatch(s.error!, /(Loss|Gradient norm) is (NaN|Infinity).* at step [34]/);
    assertStrictEquals(s.exportDir, null);
    const ckpts = await listCheckpoints(`${dir}/checkpoints`);
    assertStrictEquals(ckpts.length, 1);
    const ck = await loadCheckpoint(ckpts[0]);
    assertStrictEquals(ck.meta.step, 2);
    for (const t of ck.tensors.values()) assert((await t.data()).every(Number.isFinite));
    ck.tensors.forEach((t) => t.dispose());
    assertMatch(await Deno.readTextFile(`${dir}/log.txt`), /STOPPED: .*last good checkpoint/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the exported backbone loads as a TF.js model and embeds faces", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const c = tinyRun();
    c.steps = 2;
    c.schedule = { kind: "poly", base: 0.05, warmupSteps: 1, totalSteps: 2 };
    const s = await runTraining({ config: c, out: dir, ...QUIET });
    const before = tf.memory().numTensors;
    const e = await loadEmbedder(`${s.exportDir}/model.json`);
    assertStrictEquals(e.inputSize, 32);
    const img = { pixels: new Uint8Array(112 * 112 * 3).fill(90), height: 112, width: 112 };
    const [v] = await e.embed([img]);
    assertStrictEquals(v.length, 32);
    assert(Math.abs(v.reduce((a, x) => a + x * x, 0) - 1) < 1e-4);
    e.dispose();
    assertStrictEquals(tf.memory().numTensors, before);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("training from a .rec reads it as a compact RecordIOTable and runs its steps", async () => {
  const { loadTrainData } = await import("../model/train/train_data.ts");
  const { RecordIOTable } = await import("../pipeline/list/record_io_table.ts");
  const rec = "fixtures/pipeline/rec/train.rec";
  const data = await loadTrainData(rec);
  assert(data.records instanceof RecordIOTable, "a .rec should load as a RecordIOTable");
  assertStrictEquals(data.size, data.records.length);
  assertStrictEquals(data.numClasses, data.records.maxLabel() + 1);
  const dir = await Deno.makeTempDir();
  try {
    const config = { ...tinyRun(2), data: rec, evalPairs: "" }; // no held-out check
    const keys: string[][] = [];
    const r = await runTraining({ config, out: dir, ...QUIET, onStep: (s) => keys.push(s.keys) });
    assertStrictEquals(r.stoppedBy, "done");
    assertStrictEquals(keys.length, 2);
    assert(keys.flat().every((k) => /^\d+$/.test(k)), `RecordIO keys expected: ${keys}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
