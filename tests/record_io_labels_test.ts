/** The windowed lazy RecordIO reader returns exactly what the record-by-record reader does. */
import { assertEquals, assertThrows } from "@std/assert";
import { join } from "node:path";
import { packIR, RECORDIO_MAGIC, RecordIOWriter } from "../pipeline/list/record_io.ts";
import { RecordIOReader } from "../pipeline/list/record_io_reader.ts";
import { parseIdx, readLazyRecords } from "../pipeline/list/record_io_labels.ts";

const FIXTURE = new URL("../fixtures/pipeline/rec/train.rec", import.meta.url).pathname;

async function slowRecords(rec: string) {
  const r = await RecordIOReader.open(rec);
  try {
    return await r.lazyRecords();
  } finally {
    r.close();
  }
}

Deno.test("readLazyRecords() matches RecordIOReader.lazyRecords() on the fixture", async () => {
  assertEquals(await readLazyRecords(FIXTURE), await slowRecords(FIXTURE));
});

Deno.test("readLazyRecords() crosses 8 MB windows and reads split and multi-label records", async () => {
  const dir = await Deno.makeTempDir({ prefix: "rec_labels_" });
  try {
    const rec = join(dir, "t.rec");
    const w = await RecordIOWriter.create(rec);
    const n = 3000;
    await w.write(0, packIR({ label: [n + 1, n + 1 + 7] }, new Uint8Array(0)));
    const magic = new Uint8Array(4);
    new DataView(magic.buffer).setUint32(0, RECORDIO_MAGIC, true);
    for (let i = 1; i <= n; i++) {
      const payload = new Uint8Array(3001 + (i % 5)); // 9 MB in all, unaligned lengths
      payload[0] = 0xff, payload[1] = 0xd8;
      let data = packIR({ label: i % 7 }, payload);
      if (i % 500 === 0) data = packIR({ label: [i % 7, 99] }, payload); // flag 2
      if (i % 700 === 0) data.set(magic, 16); // the magic inside the IRHeader: split record
      await w.write(i, data);
    }
    await w.close();
    const fast = await readLazyRecords(rec);
    assertEquals(fast.length, n);
    assertEquals(fast, await slowRecords(rec));
    assertEquals(fast[499].label, 500 % 7);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("parseIdx() reads key/offset lines and names a bad line", () => {
  const enc = new TextEncoder();
  const { keys, offsets } = parseIdx(enc.encode("0\t0\n1\t36\r\n\n2 80\n"), "t.idx");
  assertEquals([...keys], [0, 1, 2]);
  assertEquals([...offsets], [0, 36, 80]);
  assertThrows(
    () => parseIdx(enc.encode("0\t0\n1\tx\n"), "t.idx"),
    SyntaxError,
    'Cannot read index line 2 of "t.idx"',
  );
});
