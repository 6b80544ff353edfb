import { assert, assertEquals } from "@std/assert";
import { join } from "node:path";
import { packIR, RecordIOWriter } from "../pipeline/list/record_io.ts";
import { RecordIOReader } from "../pipeline/list/record_io_reader.ts";
import { mxReadAll } from "./mx_recordio.ts";

Deno.test("RecordIO records past 4 GiB, indexed in .idx, are read back by both readers", async () => {
  const dir = await Deno.makeTempDir({ prefix: "rec_large_" });
  try {
    const rec = join(dir, "train.rec");
    const payloads = [
      new Uint8Array([0xff, 0xd8, 1, 2, 3, 0xff, 0xd9]),
      // Contains the magic at a 4-aligned offset: written as a multi-part record.
      new Uint8Array([0xff, 0xd8, 0, 0, 0x0a, 0x23, 0xd7, 0xce, 9, 9, 0xff, 0xd9]),
      new Uint8Array(5000).map((_, i) => i * 7),
    ];
    // The writer writes record 0 and the payloads to a small pack; its bytes after record 0 are
    // then moved past 2^32 behind a sparse hole (no 4 GiB written: a disk stays idle) and the
    // writer's offsets shifted by the hole, as a writer that had written 4 GiB would index them.
    const small = join(dir, "small.rec");
    const w = await RecordIOWriter.create(small);
    await w.write(0, packIR({ label: [1, 2] }, new Uint8Array(0)));
    const first = w.offset;
    for (const [i, p] of payloads.entries()) {
      await w.write(i + 1, packIR({ label: i, id: i + 1 }, p));
    }
    await w.close();
    const bytes = await Deno.readFile(small);
    const start = 2 ** 32 + 4096;
    await Deno.writeFile(rec, bytes.subarray(0, first));
    await Deno.truncate(rec, start);
    await Deno.writeFile(rec, bytes.subarray(first), { append: true });
    const idx = (await Deno.readTextFile(join(dir, "small.idx"))).trim().split("\n")
      .map((l) => l.split("\t").map(Number));
    assertEquals(idx.map(([k]) => k), [0, 1, 2, 3]);
    const shift = (o: number) => o === 0 ? 0 : o - first + start;
    await Deno.writeTextFile(
      join(dir, "train.idx"),
      idx.map(([k, o]) => `${k}\t${shift(o)}\n`).join(""),
    );
    const offsets = (await Deno.readTextFile(join(dir, "train.idx"))).trim().split("\n")
      .map((l) => Number(l.split("\t")[1]));
    assertEquals(offsets[1], start);
    assert(offsets.slice(1).every((o) => o > 2 ** 32));
    // The independent reader (64-bit BigInt offsets).
    const mx = mxReadAll(rec, join(dir, "train.idx"));
    payloads.forEach((p, i) => {
      const r = mx.get(i + 1)!;
      assertEquals([r.label, r.id, r.payload], [i, BigInt(i + 1), p]);
    });
    // arcstream's reader.
    const reader = await RecordIOReader.open(rec);
    try {
      for (const [i, p] of payloads.entries()) {
        const img = await reader.readImage(i + 1);
        assertEquals([img.label, img.bytes], [i, p]);
      }
    } finally {
      reader.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
