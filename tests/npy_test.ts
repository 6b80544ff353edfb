import {
  assertEquals,
  assertMatch,
  assertRejects,
  assertStrictEquals,
  assertThrows,
} from "@std/assert";
import { encodeNpy, parseNpy, readNpy, writeNpy } from "../pipeline/formats/npy.ts";

const FIX = new URL("../fixtures/eval/", import.meta.url).pathname;

/** A .npy by hand: magic, version, header length (u16 or u32), header text, data. */
function npyBytes(header: string, data: Float32Array, major = 1): Uint8Array {
  const h = new TextEncoder().encode(header);
  const pre = major === 1 ? 10 : 12;
  const out = new Uint8Array(pre + h.length + data.byteLength);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, major, 0]);
  const view = new DataView(out.buffer);
  if (major === 1) view.setUint16(8, h.length, true);
  else view.setUint32(8, h.length, true);
  out.set(h, pre);
  out.set(new Uint8Array(data.buffer), pre + h.length);
  return out;
}

Deno.test("readNpy() reads a float32 [40, 2] file written by NumPy", async () => {
  const { shape, data } = await readNpy(`${FIX}tiny_embeddings.npy`);
  assertEquals(shape, [40, 2]);
  // Row 1 is 3 * (12/13, 5/13), row 3 is 3 * (0, 1), both stored as float32.
  assertEquals(Array.from(data.subarray(0, 8)), [
    3,
    0,
    Math.fround(36 / 13),
    Math.fround(15 / 13),
    3,
    0,
    0,
    3,
  ]);
});

Deno.test("encodeNpy() pads the header to 64 bytes and parseNpy() reads it back", () => {
  for (const shape of [[3], [2, 3, 4], [0, 5]]) {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = Float32Array.from({ length: n }, (_, i) => i * 0.5 - 1);
    const bytes = encodeNpy({ shape, data });
    const hlen = new DataView(bytes.buffer).getUint16(8, true);
    assertStrictEquals((10 + hlen) % 64, 0);
    assertStrictEquals(bytes[10 + hlen - 1], 0x0a); // header ends with a newline
    const back = parseNpy(bytes);
    assertEquals(back.shape, shape);
    assertEquals(Array.from(back.data), Array.from(data));
  }
  assertMatch(
    new TextDecoder().decode(encodeNpy({ shape: [3], data: new Float32Array(3) })),
    /'shape': \(3,\)/,
  );
});

Deno.test("parseNpy() reads version 2.0 headers (u32 length) with data at an offset not a multiple of 4", () => {
  const data = Float32Array.from([1.5, -2, 3.25]);
  const bytes = npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }\n", data, 2);
  const back = parseNpy(bytes);
  assertEquals(back.shape, [3]);
  assertEquals(Array.from(back.data), [1.5, -2, 3.25]);
});

Deno.test("parseNpy() names the file and the reason for unsupported or broken input", () => {
  const f = new Float32Array(2);
  const h = (descr: string, fortran = "False", shape = "(2,)") =>
    `{'descr': '${descr}', 'fortran_order': ${fortran}, 'shape': ${shape}, }\n`;
  assertMatch(
    (assertThrows(() => parseNpy(npyBytes(h("<f8"), new Float32Array(4)), "e.npy")) as Error)
      .message,
    /"e\.npy".*'<f8'/,
  );
  assertThrows(() => parseNpy(npyBytes(h(">f4"), f), "e.npy"), Error, "dtype '>f4'");
  assertThrows(() => parseNpy(npyBytes(h("<f4", "True"), f), "e.npy"), Error, "Fortran");
  assertThrows(
    () => parseNpy(npyBytes(h("<f4", "False", "(3,)"), f), "e.npy"),
    Error,
    "8 bytes, expected 12",
  );
  assertThrows(
    () => parseNpy(new TextEncoder().encode("not numpy at all"), "e.npy"),
    Error,
    "magic",
  );
  assertThrows(() => parseNpy(npyBytes("{}", f), "e.npy"), Error, "malformed header");
});

Deno.test("writeNpy() writes atomically (no temp file left) and readNpy() reads it back", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const data = Float32Array.from([0.25, 0.5, 0.75, 1]);
    await writeNpy(`${dir}/a.npy`, { shape: [2, 2], data });
    assertEquals([...Deno.readDirSync(dir)].map((e) => e.name), ["a.npy"]);
    assertEquals(Array.from((await readNpy(`${dir}/a.npy`)).data), Array.from(data));
    assertMatch(
      ((await assertRejects(() => readNpy(`${dir}/missing.npy`))) as Error).message,
      /Cannot read ".*missing\.npy"/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
