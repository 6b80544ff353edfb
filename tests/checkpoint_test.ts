import { assertEquals, assertMatch, assertRejects, assertStrictEquals } from "@std/assert";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../model/backend/backend.ts";
import {
  checkpointName,
  latestCheckpoint,
  listCheckpoints,
  loadCheckpoint,
  saveCheckpoint,
} from "../model/train/checkpoint.ts";

await initBackend({ backend: "wasm" });

const meta = (step: number) => ({
  step,
  epoch: 1,
  cursor: { epoch: 1, start: 5, step },
  seeds: { data: 3, network: 1 },
  config: { preset: "tiny", lr: 0.1 },
});

Deno.test("saveCheckpoint() round-trips tensors and metadata and keeps only the last K", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const a = tf.tensor2d([[1.5, -2], [3, 4e-8]]);
    const b = tf.tensor1d([7, -1, 0], "int32");
    for (const step of [10, 20, 30, 40]) {
      await saveCheckpoint(
        dir,
        meta(step),
        new Map<string, tf.Tensor>([["w/a", a], ["slot/b", b]]),
        2,
      );
    }
    const names = (await listCheckpoints(dir)).map((p) => p.split("/").pop());
    assertEquals(names, [checkpointName(30), checkpointName(40)]);
    // No temp file is left behind by the atomic writes.
    const all = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
    assertEquals(all, names);
    const ck = await loadCheckpoint((await latestCheckpoint(dir))!);
    assertEquals(ck.meta, meta(40));
    assertEquals(ck.tensors.get("w/a")!.arraySync(), a.arraySync());
    assertStrictEquals(ck.tensors.get("slot/b")!.dtype, "int32");
    assertEquals(ck.tensors.get("slot/b")!.arraySync(), [7, -1, 0]);
    ck.tensors.forEach((t) => t.dispose());
    tf.dispose([a, b]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadCheckpoint() names the file when it is truncated or not a checkpoint", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const t = tf.ones([64]);
    const path = await saveCheckpoint(dir, meta(1), new Map([["t", t]]));
    t.dispose();
    const bytes = await Deno.readFile(path);
    await Deno.writeFile(path, bytes.subarray(0, bytes.length - 10));
    assertMatch(
      ((await assertRejects(() => loadCheckpoint(path))) as Error).message,
      /Checkpoint ".*ckpt-00000001.arcs" is damaged/,
    );
    await Deno.writeTextFile(path, "hello world, not a checkpoint");
    await assertRejects(() => loadCheckpoint(path), Error, "not an arcstream checkpoint");
    assertMatch(
      ((await assertRejects(() => loadCheckpoint(`${dir}/missing.arcs`))) as Error).message,
      /Cannot read checkpoint ".*missing.arcs"/,
    );
    assertStrictEquals(await latestCheckpoint(`${dir}/nowhere`), null);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
