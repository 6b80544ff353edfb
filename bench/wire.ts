/**
 * `deno task bench wire [--records N] [--images N] [--repeats R]`: MB/s and records/s of the wire
 * formats between stages, each hand-written codec next to the `@std` one it could be replaced by:
 * NDJSON decode (wire.ts, one stream that splits and parses, vs `@std/streams` TextDecoderStream
 * -> TextLineStream -> JSON.parse),
 * tar decode/encode (pipeline/formats/tar.ts vs `@std/tar` UntarStream/TarStream). The figures
 * decide which one the pipeline uses; the reasons are in the comments of wire.ts and tar.ts.
 */
import { toBytes } from "@std/streams/to-bytes";
import { parseFlags, runTask } from "../tasks/cli.ts";

const HELP = `Usage: deno task bench wire [options]   (prints one JSON object)
  --records N     NDJSON records (default 200000)
  --images N      112x112 RGB samples in the tar (default 2000)
  --repeats R     runs of each codec; the best is reported (default 3)`;

/** Cuts `bytes` into chunks of `size` (what a pipe delivers: 64 KiB) as a stream. */
function chunked(bytes: Uint8Array, size = 65536): ReadableStream<Uint8Array> {
  let o = 0;
  return new ReadableStream({
    pull(c) {
      if (o >= bytes.length) return c.close();
      c.enqueue(bytes.subarray(o, o + size));
      o += size;
    },
  });
}

/**
 * Best time of each codec over `repeats` rounds, the codecs interleaved within a round so that a
 * busy moment of a shared machine does not fall on one of them only. Returns [ms, items] each.
 */
async function best(
  repeats: number,
  runs: (() => Promise<number>)[],
): Promise<[number, number][]> {
  const out: [number, number][] = runs.map(() => [Infinity, 0]);
  for (let r = 0; r < repeats; r++) {
    for (const [i, run] of runs.entries()) {
      const t = performance.now();
      const n = await run();
      out[i] = [Math.min(out[i][0], performance.now() - t), n];
    }
  }
  return out;
}

async function count<T>(s: ReadableStream<T>): Promise<number> {
  let n = 0;
  for await (const _ of s) n++;
  return n;
}

/**
 * What NdjsonDecodeStream would be on `@std/streams`: TextDecoderStream -> TextLineStream ->
 * JSON.parse, every line its own stream chunk (kept here only to measure it against wire.ts).
 */
function stdNdjsonDecode(
  TextLineStream: typeof import("@std/streams/text-line-stream").TextLineStream,
): TransformStream<Uint8Array, unknown> {
  const text = new TextDecoderStream();
  const readable = text.readable.pipeThrough(new TextLineStream()).pipeThrough(
    new TransformStream<string, unknown>({
      transform(l, c) {
        if (l.trim() !== "") c.enqueue(JSON.parse(l));
      },
    }),
  );
  return { writable: text.writable, readable };
}

/** ms, MB/s and items/s of one timing. */
function rate(bytes: number, ms: number, n: number) {
  return {
    ms: +ms.toFixed(1),
    mb_per_s: +(bytes / 1e6 / (ms / 1000)).toFixed(1),
    items_per_s: Math.round(n / (ms / 1000)),
  };
}

/** NDJSON of `records` list-stage records through wire.ts and the @std chain. */
async function ndjsonBench(records: number, R: number) {
  const { TextLineStream } = await import("@std/streams/text-line-stream");
  const { NdjsonDecodeStream } = await import("../pipeline/formats/wire.ts");
  const lines = Array.from(
    { length: records },
    (_, i) =>
      JSON.stringify({
        key: `Person_${i >> 4}/Person_${i >> 4}_${i & 15}`,
        label: i >> 4,
        path: `lfw/Person_${i >> 4}/Person_${i >> 4}_${i & 15}.jpg`,
      }),
  ).join("\n") + "\n";
  const nd = new TextEncoder().encode(lines);
  const [decode, decodeStd] = await best(R, [
    () => count(chunked(nd).pipeThrough(new NdjsonDecodeStream())),
    () => count(chunked(nd).pipeThrough(stdNdjsonDecode(TextLineStream))),
  ]);
  return {
    bytes: nd.length,
    records,
    decode_wire_ts: rate(nd.length, ...decode),
    decode_std_text_line_stream: rate(nd.length, ...decodeStd),
  };
}

/** A tar of `images` decoded faces (<key>.rgb + <key>.json) through tar.ts and @std/tar. */
async function tarBench(images: number, R: number) {
  const { UntarStream, TarStream } = await import("@std/tar");
  const { TarDecodeStream, TarEncodeStream } = await import("../pipeline/formats/tar.ts");
  const { ARCFACE_SIZE } = await import("../pipeline/align/similarity.ts");
  const rgb = new Uint8Array(ARCFACE_SIZE * ARCFACE_SIZE * 3).fill(7);
  const entries = Array.from({ length: images }, (_, i) => [
    { name: `P_${i}/P_${i}_0001.rgb`, data: rgb },
    { name: `P_${i}/P_${i}_0001.json`, data: new TextEncoder().encode(`{"label":${i}}`) },
  ]).flat();
  const [encHand, encStd] = await best(R, [async () => {
    await count(ReadableStream.from(entries).pipeThrough(new TarEncodeStream()));
    return entries.length;
  }, async () => {
    const input = ReadableStream.from(entries.map((e) => ({
      type: "file" as const,
      path: e.name,
      size: e.data.length,
      // A copy: TarStream reads through a byte stream that transfers (detaches) its chunks.
      readable: ReadableStream.from([e.data.slice()]),
    })));
    await count(input.pipeThrough(new TarStream()));
    return entries.length;
  }]);
  const tarBytes = await toBytes(ReadableStream.from(entries).pipeThrough(new TarEncodeStream()));
  const [decHand, decStd] = await best(R, [
    () => count(chunked(tarBytes).pipeThrough(new TarDecodeStream())),
    async () => {
      let n = 0;
      for await (const e of chunked(tarBytes).pipeThrough(new UntarStream())) {
        if (e.readable) await toBytes(e.readable); // each entry must be drained
        n++;
      }
      return n;
    },
  ]);
  return {
    bytes: tarBytes.length,
    entries: entries.length,
    encode_hand_written: rate(tarBytes.length, ...encHand),
    encode_std_tar_stream: rate(tarBytes.length, ...encStd),
    decode_hand_written: rate(tarBytes.length, ...decHand),
    decode_std_untar_stream: rate(tarBytes.length, ...decStd),
  };
}

export async function main(args: string[]): Promise<void> {
  const { flags } = parseFlags(args, {
    records: { type: "int", min: 1, default: 200000 },
    images: { type: "int", min: 1, default: 2000 },
    repeats: { type: "int", min: 1, default: 3 },
  }, { help: HELP });
  const out = {
    bench: "wire",
    repeats: flags.repeats,
    ndjson: await ndjsonBench(flags.records, flags.repeats),
    tar: await tarBench(flags.images, flags.repeats),
    load_average: Deno.loadavg().map((v) => +v.toFixed(2)),
  };
  console.log(JSON.stringify(out, null, 1));
}

if (import.meta.main) await runTask("bench wire", () => main(Deno.args));
