import { assert, assertEquals, assertMatch, assertRejects } from "@std/assert";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../model/backend/backend.ts";
import { QUIET, tinyRun } from "./tiny_run.ts";
import {
  CheckpointDamagedError,
  checkpointName,
  findResumeCheckpoint,
  listCheckpoints,
  loadCheckpoint,
  readCheckpointFile,
  saveCheckpoint,
} from "../model/train/checkpoint.ts";
import { runTraining } from "../model/train/train_loop.ts";
import { RunFolderError } from "../model/train/run_folder.ts";

await initBackend({ backend: "wasm" });

const meta = (step: number) => ({
  step,
  epoch: 0,
  cursor: { epoch: 0, start: 0, step },
  seeds: { data: 0, network: 1 },
  config: { preset: "tiny" },
});

/** A checkpoint of a 4096-float tensor (so the data section dominates the file). */
async function writeOne(dir: string, step = 1): Promise<string> {
  const t = tf.range(0, 4096).reshape([64, 64]);
  try {
    return await saveCheckpoint(dir, meta(step), new Map([["w", t]]), 5);
  } finally {
    t.dispose();
  }
}

async function withDir(f: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir();
  try {
    await f(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("loadCheckpoint() names a full-size checkpoint with its second half zeroed as damaged", () =>
  withDir(async (dir) => {
    const path = await writeOne(dir);
    const bytes = await Deno.readFile(path);
    bytes.fill(0, bytes.length >> 1);
    await Deno.writeFile(path, bytes);
    const before = tf.memory().numTensors;
    const e = await assertRejects(() => loadCheckpoint(path), CheckpointDamagedError);
    assertEquals(
      e.message,
      `Checkpoint "${path}" is damaged: digest mismatch (SHA-256 of header and data; truncated or altered)`,
    );
    assertEquals(tf.memory().numTensors, before);
  }));

Deno.test("loadCheckpoint() names a checkpoint with random bytes in its data as damaged", () =>
  withDir(async (dir) => {
    const path = await writeOne(dir);
    const bytes = await Deno.readFile(path);
    crypto.getRandomValues(bytes.subarray(bytes.length - 8000, bytes.length - 100));
    await Deno.writeFile(path, bytes);
    await assertRejects(() => loadCheckpoint(path), CheckpointDamagedError, "digest mismatch");
    // Random bytes from the first byte on: not a checkpoint at all, still named as damaged.
    await Deno.writeFile(path, crypto.getRandomValues(new Uint8Array(bytes.length >> 2)));
    await assertRejects(
      () => loadCheckpoint(path),
      CheckpointDamagedError,
      "not an arcstream checkpoint",
    );
  }));

Deno.test("loadCheckpoint() names a truncated checkpoint as damaged", () =>
  withDir(async (dir) => {
    const path = await writeOne(dir);
    const bytes = await Deno.readFile(path);
    await Deno.writeFile(path, bytes.subarray(0, bytes.length - 1000));
    await assertRejects(() => loadCheckpoint(path), CheckpointDamagedError, "is damaged");
    await Deno.writeFile(path, bytes.subarray(0, 20));
    await assertRejects(() => loadCheckpoint(path), CheckpointDamagedError, "is damaged");
  }));

Deno.test("a format-1 checkpoint (no digest) is read with a warning", () =>
  withDir(async (dir) => {
    const path = await writeOne(dir);
    const v2 = await Deno.readFile(path);
    const v1 = v2.slice(0, v2.length - 32); // no digest trailer
    v1.set(new TextEncoder().encode("ARCSCKP1"), 0);
    await Deno.writeFile(path, v1);
    const warnings: string[] = [];
    const ck = await loadCheckpoint(path, (m) => warnings.push(m));
    assertEquals(ck.meta.step, 1);
    assertEquals(ck.tensors.get("w")!.dataSync()[4095], 4095);
    ck.tensors.forEach((t) => t.dispose());
    assertEquals(warnings.length, 1);
    assertMatch(warnings[0], /has no digest \(format 1\); it is read unverified/);
    assertEquals((await readCheckpointFile(path)).verified, false);
  }));

Deno.test("findResumeCheckpoint() skips a damaged newest checkpoint, moves it aside and warns", () =>
  withDir(async (dir) => {
    await writeOne(dir, 2);
    const newest = await writeOne(dir, 4);
    const bytes = await Deno.readFile(newest);
    await Deno.writeFile(newest, bytes.subarray(0, bytes.length >> 1));
    const warnings: string[] = [];
    const ck = await findResumeCheckpoint(dir, (m) => warnings.push(m));
    assertEquals(ck?.meta.step, 2);
    ck!.tensors.forEach((t) => t.dispose());
    assertMatch(warnings.join("\n"), /ckpt-00000004.arcs" is damaged: .*falling back/);
    assertEquals((await listCheckpoints(dir)).map((p) => p.split("/").pop()), [checkpointName(2)]);
    assert((await Deno.stat(`${newest}.damaged`)).isFile);
  }));

Deno.test("resume falls back past a truncated newest checkpoint and still ends on the uninterrupted weights", async () => {
  const dirA = await Deno.makeTempDir();
  const dirB = await Deno.makeTempDir();
  try {
    const a = await runTraining({ config: tinyRun(6), out: dirA, ...QUIET });
    const b1 = await runTraining({ config: tinyRun(6), out: dirB, stopAt: 4, ...QUIET });
    assertMatch(b1.checkpoint!, /ckpt-00000004\.arcs$/);
    const bytes = await Deno.readFile(b1.checkpoint!);
    await Deno.writeFile(b1.checkpoint!, bytes.subarray(0, bytes.length - 4096));
    const warnings: string[] = [];
    const b2 = await runTraining({
      config: tinyRun(6),
      out: dirB,
      resume: true,
      warn: (m) => warnings.push(m),
      ...QUIET,
    });
    assertEquals(b2.stoppedBy, "done");
    assertMatch(warnings.join("\n"), /ckpt-00000004\.arcs" is damaged/);
    assertMatch(await Deno.readTextFile(`${dirB}/log.txt`), /resumed from .*ckpt-00000002\.arcs/);
    const fa = await readCheckpointFile(a.checkpoint!);
    const fb = await readCheckpointFile(b2.checkpoint!);
    assertEquals(fb.meta.step, 6);
    assertEquals(fb.tensors, fa.tensors);
    assertEquals(
      fb.bytes.subarray(fb.dataStart, fb.bytes.length - 32),
      fa.bytes.subarray(fa.dataStart, fa.bytes.length - 32),
    );
  } finally {
    await Deno.remove(dirA, { recursive: true });
    await Deno.remove(dirB, { recursive: true });
  }
});

Deno.test("resume refuses clearly when every checkpoint is damaged", () =>
  withDir(async (dir) => {
    const s = await runTraining({ config: tinyRun(2), out: dir, ...QUIET });
    const bytes = await Deno.readFile(s.checkpoint!);
    bytes.fill(0, bytes.length >> 1);
    await Deno.writeFile(s.checkpoint!, bytes);
    await assertRejects(
      () => runTraining({ config: tinyRun(2), out: dir, resume: true, warn: () => {}, ...QUIET }),
      RunFolderError,
      "Cannot resume: no intact checkpoint in",
    );
    // The refused resume released the lock.
    await assertRejects(() => Deno.stat(`${dir}/lock`), Deno.errors.NotFound);
  }));
