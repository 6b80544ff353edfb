/**
 * Wire formats between shell stages (docs/formats.md, "Wire format between shell stages"):
 * - NDJSON: records without pixels, one JSON object a line: `{"key","label","path"?, ...}`.
 * - tar in WebDataset layout (`webdataset.ts`): `<key>.jpg|.png` (encoded bytes) or `<key>.rgb`
 *   (raw HxWx3 uint8) plus `<key>.json` (the rest of the record), grouped by key.
 * `readRecords()` detects the format from the first bytes (ustar magic at byte 257, or `{`).
 */
import type { AnyRecord, ImageRecord, ListRecord } from "../records.ts";
import { concatReadableStreams } from "@std/streams/concat-readable-streams";
import { checkRecord } from "./record_json.ts";
import { encodeErrorMember, encodeTarEntry, TarDecodeStream } from "./tar.ts";
import { recordEntries, WdsDecodeStream } from "./webdataset.ts";

export type WireFormat = "ndjson" | "tar";

const enc = new TextEncoder();

/**
 * Records -> NDJSON bytes. Records with bytes or pixels cannot travel as NDJSON.
 * @example
 * ```ts
 * import { ListReaderStream, NdjsonEncodeStream } from "../mod.ts";
 *
 * await new ListReaderStream({ root: "fixtures/pipeline/images" })
 *   .pipeThrough(new NdjsonEncodeStream())
 *   .pipeTo(Deno.stdout.writable); // {"key":...,"label":...,"path":...} one a line
 * ```
 */
export class NdjsonEncodeStream extends TransformStream<AnyRecord, Uint8Array> {
  constructor() {
    super({
      transform(r, c) {
        if (r.bytes || (r as ImageRecord).pixels) {
          throw new TypeError(`Record "${r.key}" carries image data: write it as tar, not NDJSON`);
        }
        c.enqueue(enc.encode(JSON.stringify(r) + "\n"));
      },
    });
  }
}

/**
 * NDJSON bytes -> records; a malformed line is a SyntaxError naming its line number.
 *
 * Lines are split here, in the same TransformStream that parses them, rather than by
 * `@std/streams` TextLineStream: that chain (TextDecoderStream -> TextLineStream -> parse) makes
 * every line a stream chunk of its own and decoding 3.3x slower (`deno task bench wire`, 100k
 * list records, best of 5 interleaved runs on the loaded 2-core machine: 3.5 s against 1.1 s).
 * Each line is parsed with
 * `JSON.parse` rather than `@std/json` JsonParseStream so that an error can name the line.
 * @example
 * ```ts
 * import { NdjsonDecodeStream } from "../mod.ts";
 *
 * const records = Deno.stdin.readable.pipeThrough(new NdjsonDecodeStream("stdin"));
 * for await (const r of records) console.log(r.key, r.label, r.path);
 * ```
 */
export class NdjsonDecodeStream extends TransformStream<Uint8Array, ListRecord> {
  /** @param source Named in error messages. @default "stdin" */
  constructor(source = "stdin") {
    const dec = new TextDecoder();
    let rest = "";
    let line = 0;
    const emit = (text: string, c: TransformStreamDefaultController<ListRecord>) => {
      line++;
      const t = text.trim(); // also drops the "\r" of CRLF files
      if (t === "") return;
      const where = `Cannot read NDJSON line ${line} of ${source}`;
      let o: unknown;
      try {
        o = JSON.parse(t);
      } catch (e) {
        throw new SyntaxError(`${where}: ${(e as Error).message}`);
      }
      c.enqueue(checkRecord(o, where) as ListRecord);
    };
    super({
      transform(chunk, c) {
        // One split per chunk: the last piece is an unfinished line, kept for the next chunk.
        const lines = (rest + dec.decode(chunk, { stream: true })).split("\n");
        rest = lines.pop()!;
        for (const l of lines) emit(l, c);
      },
      flush(c) {
        rest += dec.decode();
        if (rest.length) emit(rest, c);
      },
    });
  }
}

/**
 * Records -> tar bytes (WebDataset layout). When `records` errors, the tar gets no end-of-archive
 * marker but an `__error__.json` member naming the error (`stage` says who wrote it), and only
 * then does the returned stream error: a reader of a failed stream can always tell.
 * @example
 * ```ts
 * import { DecodeStream, ListReaderStream, recordsToTar } from "../mod.ts";
 *
 * const decoded = new ListReaderStream({ root: "fixtures/pipeline/images" })
 *   .pipeThrough(new DecodeStream({ resize: 112 }));
 * await recordsToTar(decoded, "decode").pipeTo(Deno.stdout.writable); // <key>.rgb + <key>.json
 * ```
 */
export function recordsToTar(
  records: ReadableStream<AnyRecord>,
  stage = "arcstream",
): ReadableStream<Uint8Array> {
  const reader = records.getReader();
  let state: "open" | "failed" | "done" = "open";
  let failure: unknown;
  return new ReadableStream<Uint8Array>({
    async pull(c) {
      // The error member is enqueued on one pull and the stream errored on the next, so a
      // consumer (pipeTo) has taken the member before the error discards the queue. Each record
      // is one chunk, so a sample is never cut between its image and its .json.
      if (state === "failed") return c.error(failure);
      if (state === "done") return;
      try {
        const r = await reader.read();
        if (r.done) {
          state = "done";
          c.enqueue(new Uint8Array(1024)); // end-of-archive marker: only on success
          c.close();
        } else c.enqueue(concat(recordEntries(r.value).flatMap(encodeTarEntry)));
      } catch (e) {
        state = "failed";
        failure = e;
        reader.cancel(e).catch(() => {});
        c.enqueue(encodeErrorMember(stage, e));
      }
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
}

function concat(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) out.set(p, o), o += p.length;
  return out;
}

/**
 * Records -> NDJSON bytes.
 * @example
 * ```ts
 * import { ListReaderStream, recordsToNdjson } from "../mod.ts";
 *
 * const list = new ListReaderStream({ root: "fixtures/pipeline/images" });
 * await recordsToNdjson(list).pipeTo(Deno.stdout.writable);
 * ```
 */
export function recordsToNdjson(records: ReadableStream<AnyRecord>): ReadableStream<Uint8Array> {
  return records.pipeThrough(new NdjsonEncodeStream());
}

/**
 * Reads the first bytes (up to 512) to tell tar from NDJSON; undefined for empty input.
 * @example
 * ```ts
 * import { detectFormat } from "../mod.ts";
 *
 * console.log(detectFormat(new TextEncoder().encode('{"key":"a","label":0}\n'))); // "ndjson"
 * ```
 */
export function detectFormat(head: Uint8Array): WireFormat | undefined {
  if (head.length >= 262 && new TextDecoder().decode(head.subarray(257, 262)) === "ustar") {
    return "tar";
  }
  for (const b of head) {
    if (b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09) continue;
    if (b === 0x7b) return "ndjson";
    throw new SyntaxError(
      `Cannot detect the input format: expected NDJSON (a "{" line) or a tar stream`,
    );
  }
  return undefined;
}

/**
 * Bytes (NDJSON or WebDataset tar, detected) -> records, plus the detected format.
 * @example
 * ```ts
 * import { readRecords } from "../mod.ts";
 *
 * const { format, records } = await readRecords(Deno.stdin.readable);
 * console.error(`stdin is ${format}`); // "ndjson" or "tar"
 * for await (const r of records) console.log(r.key, r.label);
 * ```
 */
export async function readRecords(
  input: ReadableStream<Uint8Array>,
  source = "stdin",
): Promise<{ format: WireFormat | undefined; records: ReadableStream<AnyRecord> }> {
  const reader = input.getReader();
  const head: Uint8Array[] = [];
  let n = 0;
  let done = false;
  while (n < 512) {
    const r = await reader.read();
    if (r.done) {
      done = true;
      break;
    }
    head.push(r.value);
    n += r.value.length;
  }
  const all = new Uint8Array(n);
  let o = 0;
  for (const h of head) {
    all.set(h, o);
    o += h.length;
  }
  // A whitespace-only NDJSON head shorter than 512 bytes is still undecided: treat as NDJSON.
  const format = detectFormat(all) ?? (done ? undefined : "ndjson");
  // The sniffed head, then the rest of the input, as one stream again.
  reader.releaseLock();
  const replay = concatReadableStreams(ReadableStream.from(all.length ? [all] : []), input);
  if (format === undefined) {
    await replay.cancel();
    return { format, records: new ReadableStream({ start: (c) => c.close() }) };
  }
  const records = format === "tar"
    ? replay.pipeThrough(new TarDecodeStream(source)).pipeThrough(new WdsDecodeStream(source))
    : replay.pipeThrough(new NdjsonDecodeStream(source));
  return { format, records };
}
