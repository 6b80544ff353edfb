import { assertEquals, assertMatch, assertStrictEquals, assertThrows } from "@std/assert";
import { initBackend } from "../model/backend/backend.ts";
import { presetConfig } from "../model/train/presets.ts";
import { runTraining } from "../model/train/train_loop.ts";
import { configFromFlags } from "../tasks/train/flags.ts";
import { readImageFolder } from "../pipeline/list/list_reader.ts";
import { decodeImage } from "../pipeline/decode/decode_image.ts";
import { recordsToNdjson, recordsToTar } from "../pipeline/formats/wire.ts";
import type { ImageRecord } from "../pipeline/records.ts";

await initBackend({ backend: "wasm" });
const { records } = await readImageFolder("fixtures/lfw_faces/train");

/** The tiny preset reading `--data -` from `bytes`, no held-out check. */
async function run(bytes: ReadableStream<Uint8Array>, steps: number) {
  const c = presetConfig("tiny");
  c.data = "-";
  c.numClasses = 25;
  c.steps = steps;
  c.schedule = { kind: "poly", base: 0.05, warmupSteps: 1, totalSteps: steps };
  const dir = await Deno.makeTempDir();
  const keys: string[][] = [];
  const s = await runTraining({
    config: c,
    out: dir,
    print: () => {},
    progress: false,
    workers: 0,
    stdin: () => bytes,
    onStep: (x) => keys.push(x.keys),
  });
  return { s, keys, dir };
}

Deno.test("train --data - batches a decoded WebDataset tar in arrival order and stops at its end", async () => {
  // 20 decoded faces in list order: 2 full batches of 8; the last 4 are dropped.
  const faces: ImageRecord[] = [];
  for (const r of records.slice(0, 20)) faces.push({ ...r, ...(await decodeImage(r.path!)) });
  const { s, keys, dir } = await run(recordsToTar(ReadableStream.from(faces)), 50);
  try {
    assertStrictEquals(s.stoppedBy, "done");
    assertStrictEquals(s.step, 2);
    assertEquals(keys, [faces.slice(0, 8), faces.slice(8, 16)].map((b) => b.map((r) => r.key)));
    assertStrictEquals(s.plot, `${dir}/curves.svg`);
    assertMatch(await Deno.readTextFile(s.plot!), /<polyline data-series="total"/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("train --data - reads NDJSON records (paths) and --steps ends it before the stream", async () => {
  const { s, keys, dir } = await run(recordsToNdjson(ReadableStream.from(records)), 3);
  try {
    assertStrictEquals(s.step, 3);
    assertEquals(keys.flat(), records.slice(0, 24).map((r) => r.key));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("--data - needs --num-classes and --steps, not --epochs", () => {
  assertMatch(
    (assertThrows(() => configFromFlags({ data: "-" })) as Error).message,
    /--data - .*needs --num-classes/,
  );
  assertThrows(
    () => configFromFlags({ data: "-", "num-classes": 5, epochs: 2 }),
    Error,
    "--epochs needs a list",
  );
  assertStrictEquals(configFromFlags({ data: "-", "num-classes": 5 }).numClasses, 5);
});
