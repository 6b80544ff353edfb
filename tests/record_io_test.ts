import { assert, assertEquals, assertRejects, assertStrictEquals } from "@std/assert";
import { encodeRecord, packIR, RecordIOWriter, unpackIR } from "../pipeline/list/record_io.ts";
import { readRecordAt, RecordIOReader } from "../pipeline/list/record_io_reader.ts";
import { decodeImage } from "../pipeline/decode/decode_image.ts";

const REC = "fixtures/pipeline/rec/train.rec";

Deno.test("encodeRecord(packIR()) matches the hand-computed RecordIO byte layout", () => {
  const bytes = encodeRecord(packIR({ label: 3, id: 1 }, new Uint8Array([0x41, 0x42, 0x43])));
  // magic 0xced7230a LE | lrec = 27 (cflag 0) | IRHeader flag 0, label 3.0f = 0x40400000, id 1,
  // id2 0 | payload "ABC" | 1 zero byte to the 4-byte boundary.
  const expected = [
    0x0a,
    0x23,
    0xd7,
    0xce,
    27,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0x00,
    0x00,
    0x40,
    0x40,
    1,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0x41,
    0x42,
    0x43,
    0,
  ];
  assertEquals([...bytes], expected);
});

Deno.test("encodeRecord() splits a payload at an aligned magic (cflag 1 then 3)", () => {
  const data = new Uint8Array([1, 2, 3, 4, 0x0a, 0x23, 0xd7, 0xce, 5, 6]);
  const expected = [
    0x0a,
    0x23,
    0xd7,
    0xce,
    0x04,
    0,
    0,
    0x20,
    1,
    2,
    3,
    4, // cflag 1, length 4
    0x0a,
    0x23,
    0xd7,
    0xce,
    0x02,
    0,
    0,
    0x60,
    5,
    6,
    0,
    0, // cflag 3, length 2, pad 2
  ];
  assertEquals([...encodeRecord(data)], expected);
});

Deno.test("the fixture train.rec starts with the hand-checked header record", async () => {
  const rec = await Deno.readFile(REC);
  // Record 0: flag 2, label 0, id 0, id2 0, labels [5.0f, 7.0f]: a 32-byte payload, no padding.
  const expected = [
    0x0a,
    0x23,
    0xd7,
    0xce,
    32,
    0,
    0,
    0,
    2,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    ...new Array(16).fill(0),
    0x00,
    0x00,
    0xa0,
    0x40,
    0x00,
    0x00,
    0xe0,
    0x40,
  ];
  assertEquals([...rec.subarray(0, 40)], expected);
  const idx = await Deno.readTextFile("fixtures/pipeline/rec/train.idx");
  assert(idx.startsWith("0\t0\n1\t40\n"), idx);
});

Deno.test("RecordIOReader() reads the insightface header, image keys, labels and JPEG bytes", async () => {
  const r = await RecordIOReader.open(REC);
  try {
    assertEquals(await r.imageKeys(), [1, 2, 3, 4]);
    const recs = [];
    for (const k of [1, 2, 3, 4]) recs.push(await r.readImage(k));
    assertEquals(recs.map((x) => x.label), [0, 0, 1, 1]);
    for (const x of recs) assertEquals([...x.bytes!.subarray(0, 2)], [0xff, 0xd8]);
    const img = await decodeImage(recs[0].bytes!, { name: "rec:1" });
    assertEquals([img.height, img.width], [112, 112]);
    const { header } = unpackIR(await r.read(5));
    assertEquals([...header.labels!], [1, 3]);
  } finally {
    r.close();
  }
});

Deno.test("RecordIOWriter() round-trips records that contain the magic", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const w = await RecordIOWriter.create(`${dir}/t.rec`);
    const payloads = [
      new Uint8Array([0x0a, 0x23, 0xd7, 0xce, 9, 0x0a, 0x23, 0xd7, 0xce]),
      new Uint8Array(0),
      new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 0x0a, 0x23, 0xd7, 0xce]),
    ];
    for (let i = 0; i < payloads.length; i++) await w.write(i + 10, payloads[i]);
    await w.close();
    const r = await RecordIOReader.open(`${dir}/t.rec`);
    try {
      for (let i = 0; i < payloads.length; i++) assertEquals(await r.read(i + 10), payloads[i]);
      assertEquals(await r.imageKeys(), [10, 11, 12], "no header record: every key");
    } finally {
      r.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("RecordIOReader() names the file on a bad index line, bad magic or truncation", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const rec = await Deno.readFile(REC);
    await Deno.writeFile(`${dir}/a.rec`, rec.subarray(0, 60));
    await Deno.writeTextFile(`${dir}/a.idx`, "0\t0\n1\t40\n2\t4\n");
    const r = await RecordIOReader.open(`${dir}/a.rec`);
    try {
      await assertRejects(() => r.read(1), Error, 'a.rec" is truncated');
      await assertRejects(() => r.read(2), Error, "Bad RecordIO magic at byte 4");
    } finally {
      r.close();
    }
    await Deno.writeTextFile(`${dir}/a.idx`, "0\t0\nnope\n");
    await assertRejects(() => RecordIOReader.open(`${dir}/a.rec`), Error, "index line 2 of");
    await assertRejects(() => RecordIOReader.open(`${dir}/none.rec`), Error, "none.idx");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("RecordIOReader.lazyRecords() gives labels and offsets; readRecordAt() reads the JPEG", async () => {
  const r = await RecordIOReader.open(REC);
  try {
    const lazy = await r.lazyRecords();
    assertEquals(lazy.map((x) => [x.key, x.label, x.path]), [
      ["1", 0, REC],
      ["2", 0, REC],
      ["3", 1, REC],
      ["4", 1, REC],
    ]);
    assertStrictEquals(lazy[0].offset, 40);
    for (const x of lazy) {
      const eager = await r.readImage(Number(x.key));
      assertEquals(await readRecordAt(REC, x.offset), eager.bytes);
    }
  } finally {
    r.close();
  }
  await assertRejects(() => readRecordAt(REC, 4), Error, "Bad RecordIO magic at byte 4");
});

Deno.test("RecordIOWriter: an aborted writer leaves the existing pack and a concurrent writer whole", async () => {
  const dir = await Deno.makeTempDir({ prefix: "rec_abort_" });
  try {
    const rec = `${dir}/train.rec`;
    const w = await RecordIOWriter.create(rec);
    await w.write(0, packIR({ label: 1 }, new Uint8Array([1, 2, 3])));
    await w.close();
    const before = [await Deno.readFile(rec), await Deno.readFile(`${dir}/train.idx`)];
    // Two writers of the same target at once: each has its own temp files.
    const [a, b] = [await RecordIOWriter.create(rec), await RecordIOWriter.create(rec)];
    await a.write(0, packIR({ label: 2 }, new Uint8Array([9])));
    await a.abort();
    assertEquals([await Deno.readFile(rec), await Deno.readFile(`${dir}/train.idx`)], before);
    // b is untouched by a's abort and replaces the pack on close.
    await b.write(0, packIR({ label: 3 }, new Uint8Array([7, 7])));
    await b.close();
    const r = await RecordIOReader.open(rec);
    try {
      assertEquals((await r.readImage(0)).label, 3);
    } finally {
      r.close();
    }
    const left = [];
    for await (const e of Deno.readDir(dir)) left.push(e.name);
    assertEquals(left.sort(), ["train.idx", "train.rec"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
