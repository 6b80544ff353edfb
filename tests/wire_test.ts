import {
  assertEquals,
  assertMatch,
  assertRejects,
  assertStrictEquals,
  assertThrows,
} from "@std/assert";
import {
  detectFormat,
  NdjsonDecodeStream,
  readRecords,
  recordsToNdjson,
  recordsToTar,
} from "../pipeline/formats/wire.ts";
import { WdsDecodeStream, WdsEncodeStream } from "../pipeline/formats/webdataset.ts";
import { TarDecodeStream, TarEncodeStream } from "../pipeline/formats/tar.ts";
import type { ImageRecord, ListRecord } from "../pipeline/records.ts";
import { toBytes } from "@std/streams/to-bytes";

const enc = new TextEncoder();

/** Splits bytes into small uneven chunks, to exercise chunk boundaries. */
function chunked(b: Uint8Array, size = 97): ReadableStream<Uint8Array> {
  const parts: Uint8Array[] = [];
  for (let i = 0; i < b.length; i += size) parts.push(b.slice(i, i + size));
  return ReadableStream.from(parts);
}

Deno.test("NDJSON round-trips list records across chunk boundaries", async () => {
  const recs: ListRecord[] = [
    { key: "a/1", label: 0, path: "x/a/1.jpg" },
    { key: "b/ü 2", label: 5, path: "x/b/ü 2.jpg" },
  ];
  const bytes = await toBytes(recordsToNdjson(ReadableStream.from(recs)));
  const back = await Array.fromAsync(chunked(bytes, 7).pipeThrough(new NdjsonDecodeStream()));
  assertEquals(back, recs);
});

Deno.test("NdjsonDecodeStream() names the line number of a malformed line", async () => {
  const text = '{"key":"a","label":0}\n\n{"key":"b","label":1}\n{"key":"c",label:2}\n';
  await assertRejects(
    () =>
      Array.fromAsync(
        ReadableStream.from([enc.encode(text)]).pipeThrough(new NdjsonDecodeStream("in.ndjson")),
      ),
    Error,
    "Cannot read NDJSON line 4 of in.ndjson",
  );
  const noLabel = '{"key":"a"}\n';
  assertMatch(
    ((await assertRejects(() =>
      Array.fromAsync(
        ReadableStream.from([enc.encode(noLabel)]).pipeThrough(new NdjsonDecodeStream()),
      )
    )) as Error).message,
    /line 1 .*"label" must be an integer/,
  );
});

Deno.test("recordsToNdjson() refuses records that carry image bytes", async () => {
  const s = recordsToNdjson(
    ReadableStream.from([{ key: "a", label: 0, bytes: new Uint8Array(3) }]),
  );
  await assertRejects(() => toBytes(s), Error, "write it as tar");
});

Deno.test("tar round-trips short, 100+ and 255+ character names", async () => {
  const entries = [
    { name: "a/b.json", data: enc.encode("{}") },
    { name: `${"d".repeat(120)}/${"f".repeat(60)}.rgb`, data: new Uint8Array(1000).fill(7) },
    { name: `${"x".repeat(300)}.jpg`, data: new Uint8Array(512).fill(1) },
    { name: "empty.bin", data: new Uint8Array(0) },
  ];
  const bytes = await toBytes(ReadableStream.from(entries).pipeThrough(new TarEncodeStream()));
  assertStrictEquals(bytes.length % 512, 0);
  const back = await Array.fromAsync(chunked(bytes, 333).pipeThrough(new TarDecodeStream()));
  assertEquals(back, entries);
});

Deno.test("the system tar lists what TarEncodeStream writes", async () => {
  const recs: ImageRecord[] = [
    {
      key: "id1/img_0001",
      label: 1,
      pixels: new Uint8Array(2 * 3 * 3).fill(9),
      height: 2,
      width: 3,
    },
  ];
  const bytes = await toBytes(recordsToTar(ReadableStream.from(recs)));
  const p = new Deno.Command("tar", { args: ["tvf", "-"], stdin: "piped", stdout: "piped" })
    .spawn();
  const w = p.stdin.getWriter();
  await w.write(bytes);
  await w.close();
  const { code, stdout } = await p.output();
  assertStrictEquals(code, 0);
  const text = new TextDecoder().decode(stdout);
  assertMatch(text, / 18 .*id1\/img_0001\.rgb/);
  assertMatch(text, /id1\/img_0001\.json/);
});

Deno.test("WebDataset encode/decode keeps pixels, bytes and metadata by key", async () => {
  const recs = [
    {
      key: "p/1",
      label: 2,
      path: "p/1.jpg",
      pixels: new Uint8Array(12).fill(3),
      height: 2,
      width: 2,
    },
    { key: "p/2", label: 3, bytes: new Uint8Array([0xff, 0xd8, 0xff, 0xe0]) },
  ];
  const back = await Array.fromAsync(
    ReadableStream.from(recs as ListRecord[]).pipeThrough(new WdsEncodeStream()).pipeThrough(
      new WdsDecodeStream(),
    ),
  );
  assertEquals(back, recs);
  await assertRejects(
    () =>
      Array.fromAsync(
        ReadableStream.from([{ key: "a.b", label: 0 }]).pipeThrough(new WdsEncodeStream()),
      ),
    Error,
    'may not contain "."',
  );
});

Deno.test("WdsDecodeStream() rejects a sample without json or with the wrong pixel count", async () => {
  const run = (entries: { name: string; data: Uint8Array }[]) =>
    Array.fromAsync(ReadableStream.from(entries).pipeThrough(new WdsDecodeStream("t.tar")));
  await assertRejects(
    () => run([{ name: "k.rgb", data: new Uint8Array(3) }]),
    Error,
    '"k" of t.tar: no k.json',
  );
  await assertRejects(
    () =>
      run([
        { name: "k.rgb", data: new Uint8Array(5) },
        { name: "k.json", data: enc.encode('{"key":"k","label":0,"height":1,"width":1}') },
      ]),
    Error,
    "5 bytes is not 1x1x3",
  );
});

Deno.test("readRecords() detects NDJSON, tar and empty input", async () => {
  const recs: ListRecord[] = [{ key: "a", label: 0, path: "a.jpg" }];
  const nd = await readRecords(
    chunked(await toBytes(recordsToNdjson(ReadableStream.from(recs))), 5),
  );
  assertStrictEquals(nd.format, "ndjson");
  assertEquals(await Array.fromAsync(nd.records), recs);
  const tarBytes = await toBytes(recordsToTar(ReadableStream.from(recs)));
  const t = await readRecords(chunked(tarBytes, 100));
  assertStrictEquals(t.format, "tar");
  assertEquals(await Array.fromAsync(t.records), recs);
  const empty = await readRecords(ReadableStream.from([] as Uint8Array[]));
  assertStrictEquals(empty.format, undefined);
  assertEquals(await Array.fromAsync(empty.records), []);
  assertThrows(() => detectFormat(enc.encode("hello")), Error, "Cannot detect the input format");
});

Deno.test("TarDecodeStream() reports a bad checksum and a truncated stream", async () => {
  const good = await toBytes(
    ReadableStream.from([{ name: "a.json", data: enc.encode("{}") }]).pipeThrough(
      new TarEncodeStream(),
    ),
  );
  const bad = good.slice();
  bad[0] ^= 1;
  await assertRejects(
    () => Array.fromAsync(ReadableStream.from([bad]).pipeThrough(new TarDecodeStream("x.tar"))),
    Error,
    "Bad tar header checksum at byte 0 of x.tar",
  );
  await assertRejects(
    () =>
      Array.fromAsync(ReadableStream.from([good.slice(0, 600)]).pipeThrough(new TarDecodeStream())),
    Error,
    "Truncated tar stream",
  );
});
