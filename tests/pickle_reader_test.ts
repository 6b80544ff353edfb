import { assert, assertEquals, assertMatch, assertStrictEquals, assertThrows } from "@std/assert";
import { parseBin, readBin } from "../pipeline/formats/insightface_bin.ts";
import { readPickle } from "../pipeline/formats/pickle_reader.ts";
import { encodeBin, writeBin } from "../pipeline/formats/pickle_writer.ts";

const FIX = new URL("../fixtures/eval/", import.meta.url).pathname;
const hex = (s: string) => Uint8Array.from(s.match(/../g)!.map((b) => parseInt(b, 16)));

Deno.test("encodeBin() writes the opcodes of Python 2 cPickle.dump((bins, issame), f, 2)", () => {
  const bytes = encodeBin({
    images: [Uint8Array.of(0xff, 0xd8), Uint8Array.of(0x61)],
    issame: [true],
  });
  // deno-fmt-ignore
  const expected = [
    0x80, 0x02,             // PROTO 2
    0x5d, 0x71, 0x00,       // EMPTY_LIST, BINPUT 0
    0x28,                   // MARK
    0x55, 0x02, 0xff, 0xd8, //   SHORT_BINSTRING len 2 "\xff\xd8"
    0x71, 0x01,             //   BINPUT 1
    0x55, 0x01, 0x61,       //   SHORT_BINSTRING len 1 "a"
    0x71, 0x02,             //   BINPUT 2
    0x65,                   // APPENDS
    0x5d, 0x71, 0x03,       // EMPTY_LIST, BINPUT 3
    0x88, 0x61,             // NEWTRUE, APPEND (a batch of one)
    0x86, 0x71, 0x04,       // TUPLE2, BINPUT 4
    0x2e,                   // STOP
  ];
  assertEquals(Array.from(bytes), expected);
  const back = parseBin(bytes);
  assertEquals(back.images.map((b) => Array.from(b)), [[0xff, 0xd8], [0x61]]);
  assertEquals(back.issame, [true]);
});

Deno.test("encodeBin() switches to BINSTRING, LONG_BINPUT and 1000-item APPENDS batches", () => {
  const images = Array.from(
    { length: 2 * 601 },
    (_, i) => new Uint8Array(i === 0 ? 300 : 1).fill(i % 251),
  );
  const issame = Array.from({ length: 601 }, (_, i) => i % 3 === 0);
  const bytes = encodeBin({ images, issame });
  // Image 0 (300 bytes): BINSTRING with an int32 length, right after PROTO, EMPTY_LIST, BINPUT 0, MARK.
  assertEquals(Array.from(bytes.subarray(6, 11)), [0x54, 0x2c, 0x01, 0x00, 0x00]);
  // Image 255 gets memo index 256, the first LONG_BINPUT (u32 LE).
  const at = 6 + 5 + 300 + 2 + 254 * (3 + 2); // after image 0 and images 1..254
  assertEquals(Array.from(bytes.subarray(at, at + 3 + 5)), [
    0x55,
    0x01,
    255 % 251,
    0x72,
    0x00,
    0x01,
    0x00,
    0x00,
  ]);
  // 1202 images = batches of 1000 and 202: two MARK ... APPENDS groups.
  const back = parseBin(bytes);
  assertStrictEquals(back.images.length, 1202);
  assert(back.images.every((b, i) => b.length === (i === 0 ? 300 : 1) && b[0] === i % 251));
  assertEquals(back.issame, issame);
});

Deno.test("readPickle() reads Python 3 protocol 4 bytes (FRAME, MEMOIZE, SHORT_BINBYTES)", () => {
  // pickle.dumps(([b'\xff\xd8ab', b'c'], [True, False]), protocol=4), Python 3.11
  const v = readPickle(
    hex("80049518000000000000005d94284304ffd861629443016394655d942888896586942e"),
  );
  assertEquals(v, [[Uint8Array.of(0xff, 0xd8, 0x61, 0x62), Uint8Array.of(0x63)], [
    true,
    false,
  ]]);
});

Deno.test("readPickle() reads Python 3 protocol 2 bytes (_codecs.encode(str, 'latin1'))", () => {
  // pickle.dumps(([b'\xff\xd8ab', b'c'], [True, False]), protocol=2), Python 3.11
  const v = readPickle(hex(
    "80025d710028635f636f646563730a656e636f64650a71015806000000c3bfc3986162710258060000006c6174696e31" +
      "7103867104527105680158010000006371066803867107527108655d71092888896586710a2e",
  ));
  assertEquals(v, [[Uint8Array.of(0xff, 0xd8, 0x61, 0x62), Uint8Array.of(0x63)], [
    true,
    false,
  ]]);
});

Deno.test("readPickle() refuses opcodes insightface bins do not use, naming opcode and offset", () => {
  // cos\nsystem\n: GLOBAL os.system
  assertThrows(
    () => readPickle(hex("8002636f730a73797374656d0a2e"), "evil.bin"),
    Error,
    '"evil.bin" at byte 2: GLOBAL os.system is not supported',
  );
  assertStrictEquals(readPickle(hex("80024b072e")), 7); // BININT1 7 is fine
  assertThrows(() => readPickle(hex("8002470000")), Error, 'byte 2: opcode 0x47 ("G")'); // BINFLOAT
  assertThrows(() => readPickle(hex("80025d28550a6162")), Error, "truncated");
  assertMatch(
    (assertThrows(() => readPickle(hex("800265"))) as Error).message,
    /no MARK|underflow/,
  );
});

Deno.test("parseBin() checks the (list of bytes, list of bool) layout", () => {
  assertMatch(
    (assertThrows(() => parseBin(hex("80024b012e"), "x.bin")) as Error).message,
    /"x\.bin".*expected a pickled/,
  );
  // ([b'a'], [True]): one image for one pair
  assertThrows(
    () => parseBin(hex("80025d2855016165" + "5d28886586" + "2e"), "x.bin"),
    Error,
    "1 images for 1 pairs",
  );
  // ([b'a', b'b'], [1]): an int where a bool belongs
  assertThrows(
    () => parseBin(hex("80025d285501615501626" + "55d284b016586" + "2e")),
    Error,
    "issame 0 is not a bool",
  );
  assertThrows(() => encodeBin({ images: [Uint8Array.of(1)], issame: [true] }), RangeError);
});

Deno.test("readBin() reads the fixture lfw_mini.bin: 4 pairs of JPEGs; writeBin() round-trips it", async () => {
  const bin = await readBin(`${FIX}lfw_mini.bin`);
  assertEquals(bin.issame, [true, false, true, false]);
  assertStrictEquals(bin.images.length, 8);
  for (const b of bin.images) assertEquals(Array.from(b.subarray(0, 2)), [0xff, 0xd8]);
  const dir = await Deno.makeTempDir();
  try {
    await writeBin(`${dir}/copy.bin`, bin);
    assertEquals(
      await Deno.readFile(`${dir}/copy.bin`),
      await Deno.readFile(`${FIX}lfw_mini.bin`),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
