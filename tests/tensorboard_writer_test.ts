import { assert, assertEquals, assertStrictEquals, assertThrows } from "@std/assert";
import { join } from "node:path";
import { crc32c, maskedCrc32c } from "../model/io/crc32c.ts";
import {
  cutEventFiles,
  listEventFiles,
  TensorBoardWriter,
} from "../model/io/tensorboard_writer.ts";
import { crc32cBitwise, readEventFile, readRecords } from "./tfevents_reader.ts";

const FIXTURE = "fixtures/tensorboard";

Deno.test("CRC-32C matches the standard check value and a bitwise implementation", () => {
  const check = new TextEncoder().encode("123456789");
  assertStrictEquals(crc32c(check), 0xe3069283); // RFC 3720 / the CRC catalogue's check value
  assertStrictEquals(crc32cBitwise(check), 0xe3069283);
  const bytes = Uint8Array.from({ length: 1000 }, (_, i) => (i * 131 + 7) & 0xff);
  assertStrictEquals(crc32c(bytes), crc32cBitwise(bytes));
  // The masked form of an empty string: crc 0 rotated is 0, plus the mask delta.
  assertStrictEquals(maskedCrc32c(new Uint8Array(0)), 0xa282ead8);
});

Deno.test("the test's event reader reads tensorboardX's event file as tensorboardX wrote it", async () => {
  const want = JSON.parse(await Deno.readTextFile(`${FIXTURE}/tensorboardx.json`));
  const events = await readEventFile(`${FIXTURE}/tensorboardx.tfevents`);
  assertStrictEquals(events[0].fileVersion, "brain.Event:2");
  assertEquals(
    events.slice(1).map((e) => ({ step: e.step, wall_time: e.wallTime, values: e.values })),
    want.events,
  );
  // A flipped bit anywhere is caught by a CRC.
  const bytes = await Deno.readFile(`${FIXTURE}/tensorboardx.tfevents`);
  for (const at of [3, 20, bytes.length - 2]) {
    const bad = bytes.slice();
    bad[at] ^= 0x10;
    assertThrows(() => readRecords(bad));
  }
});

Deno.test("TensorBoardWriter writes records the spec reader accepts: file_version first, float32 scalars appended", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const tb = await TensorBoardWriter.open(dir);
    assert(/\/events\.out\.tfevents\.\d{10}\.[^/]+$/.test(tb.path), tb.path);
    await tb.scalars(1, { loss: 13.25, "train/accuracy": 0.1 });
    await tb.scalars(2 ** 33 + 5, { lfw: 0.67, negative: -2.5 });
    // Reopening (a resumed run) appends to the same file.
    const again = await TensorBoardWriter.open(dir);
    assertStrictEquals(again.path, tb.path);
    await again.scalars(3, { loss: 9 });
    const events = await readEventFile(tb.path);
    assertStrictEquals(events[0].fileVersion, "brain.Event:2");
    assertStrictEquals(events[0].step, 0);
    assertEquals(events.slice(1).map((e) => [e.step, e.values]), [
      [1, { loss: 13.25, "train/accuracy": Math.fround(0.1) }],
      [2 ** 33 + 5, { lfw: Math.fround(0.67), negative: -2.5 }],
      [3, { loss: 9 }],
    ]);
    assert(events.every((e) => Math.abs(e.wallTime - Date.now() / 1000) < 3600));
    assertEquals(await listEventFiles(dir), [tb.path]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cutEventFiles() drops the records past a step and a torn last record", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const tb = await TensorBoardWriter.open(dir);
    for (let step = 1; step <= 6; step++) await tb.scalars(step, { loss: 10 - step });
    const whole = await Deno.readFile(tb.path);
    // A kill in the middle of a write: half a record at the end.
    await Deno.writeFile(tb.path, whole.subarray(whole.length - 30, whole.length - 10), {
      append: true,
    });
    assertStrictEquals(await cutEventFiles(dir, 4), 3); // steps 5, 6 and the torn record
    const events = await readEventFile(tb.path); // throws on a torn or corrupt record
    assertEquals(events.map((e) => e.step), [0, 1, 2, 3, 4]);
    assertStrictEquals(await cutEventFiles(dir, 4), 0);
    // The tensorboardX file cut at step 10 keeps its first three records, byte for byte.
    await Deno.copyFile(
      `${FIXTURE}/tensorboardx.tfevents`,
      join(dir, "events.out.tfevents.1796600000.other"),
    );
    await cutEventFiles(dir, 10);
    const cut = await readEventFile(join(dir, "events.out.tfevents.1796600000.other"));
    assertEquals(cut.map((e) => e.step), [0, 0, 10]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
