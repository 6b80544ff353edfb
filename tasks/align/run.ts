/**
 * The body of `deno task align` (loaded lazily so `--help` is instant): input listing, sharding,
 * resume, decode (`DecodeStream`), `AlignStream`, and the folder / tar sinks.
 */
import type { FaceRecord, ListRecord } from "../../pipeline/records.ts";
import { type AlignOptions, AlignStream } from "../../pipeline/align/align_stream.ts";
import { initBackend } from "../../model/backend/backend.ts";
import { DecodeStream } from "../../pipeline/decode/decode_stream.ts";
import { encodeJpeg } from "./jpeg_encode.ts";
import { type AlignSink, isTarOutput, openSink } from "./folder_sink.ts";
import { prepareFolder } from "./folder_config.ts";
import { Progress } from "./progress.ts";
import { IMAGE_EXTENSIONS, readImageTree, readPathList } from "../../pipeline/list/list_reader.ts";
import { readRecords } from "../../pipeline/formats/wire.ts";
import type { AlignCliOptions } from "./options.ts";

/**
 * The shard of a key: FNV-1a 32-bit, then murmur3's finalizer (FNV-1a's low bits are the XOR of
 * the input's low bits, so keys like `Name_12/Name_12_0001` would all be even). Depends only on
 * the key, never on the listing's order, so every machine agrees.
 */
export function shardOf(key: string, n: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) % n;
}

export interface AlignSummary {
  input: string;
  output: string;
  shard: string;
  listed: number;
  alreadyDone: number;
  processed: number;
  detected: number;
  centerCropped: number;
  skipped: number;
  skippedKeys: string[];
  /** Images that could not be decoded (`--on-decode-error skip`): key and reason. */
  decodeErrors: { key: string; reason: string }[];
  seconds: number;
  facesPerSecond: number;
}

/** The input's records: a listing (its length known) or records streamed on stdin. */
async function openInput(input: string): Promise<{
  source: AsyncIterable<ListRecord> | Iterable<ListRecord>;
  total?: number;
}> {
  if (input === "-") return { source: (await readRecords(Deno.stdin.readable, "stdin")).records };
  let stat;
  try {
    stat = await Deno.stat(input);
  } catch {
    throw new Error(`Cannot read input "${input}": no such file or folder`);
  }
  const all = stat.isDirectory ? await readImageTree(input) : await readPathList(input);
  if (all.length === 0) {
    const exts = stat.isDirectory ? ` (looked for ${IMAGE_EXTENSIONS.join(" ")})` : "";
    throw new Error(`no images in "${input}"${exts}`);
  }
  return { source: all, total: all.length };
}

/** The `AlignStream` options of a command line. */
function alignOptions(o: AlignCliOptions): AlignOptions {
  return {
    minFaceSize: o.minFaceSize,
    thresholds: o.thresholds,
    nmsThresholds: o.nms,
    border: o.border,
    factor: o.factor,
    channelOrder: o.channelOrder,
    flavor: o.flavor,
    pick: o.pick,
    onNoFace: o.onNoFace,
    centerCropFraction: o.centerCropFraction,
    size: o.size,
  };
}

/** Stage 3 for the aligner: sharp decodes off the JS thread, 4 in flight, in input order. */
function decodeStage(
  o: AlignCliOptions,
  onSkip: (key: string, reason: string) => void,
): DecodeStream {
  return new DecodeStream({
    concurrency: 4,
    workers: 0,
    passDecoded: true, // a decoded tar on stdin
    dctScale: o.dctScale, // no resize here: every JPEG decodes whole either way
    onError: o.onDecodeError === "fail" ? "fail" : "skip",
    onSkip: (s) => onSkip(s.key, s.reason),
  });
}

/** Runs the whole task; returns the summary (also written as the folder's report). */
export async function runAlign(o: AlignCliOptions): Promise<AlignSummary> {
  const t0 = performance.now();
  const { source, total } = await openInput(o.input);
  const folder = isTarOutput(o.output)
    ? undefined
    : await prepareFolder(o, { overwrite: !!o.overwrite, adopt: !!o.adopt });
  try {
    return await alignInto(o, t0, source, total, await openSink(o.output, o.quality, folder));
  } finally {
    await folder?.lock.release();
  }
}

async function alignInto(
  o: AlignCliOptions,
  t0: number,
  source: AsyncIterable<ListRecord> | Iterable<ListRecord>,
  total: number | undefined,
  sink: AlignSink,
): Promise<AlignSummary> {
  const [si, sn] = o.shard;
  let listed = 0, alreadyDone = 0, taken = 0;
  const keys = async function* () {
    for await (const r of source) {
      if (sn > 1 && shardOf(r.key, sn) !== si) continue;
      listed++;
      if (await sink.has(r.key)) {
        alreadyDone++;
        continue;
      }
      if (o.limit > 0 && taken >= o.limit) break;
      taken++;
      yield r;
    }
  };
  // A listing is filtered up front so the progress bar knows its total; stdin streams through.
  const todo = total === undefined ? undefined : await Array.fromAsync(keys());
  const progress = new Progress(todo?.length, { quiet: o.quiet });
  // The caller, not the stream, picks the backend the detector runs on.
  await initBackend({ backend: o.backend as "auto", wasmThreads: o.threads });
  const align = new AlignStream({
    ...alignOptions(o),
    onSkip: (r) => {
      sink.skip(r);
      progress.tick(false);
    },
  });
  const decodeErrors: { key: string; reason: string }[] = [];
  const decode = decodeStage(o, (key, reason) => {
    decodeErrors.push({ key, reason });
    progress.tick(false);
  });
  try {
    await ReadableStream.from<ListRecord>(todo ?? keys())
      .pipeThrough(decode)
      .pipeThrough(align)
      .pipeTo(
        new WritableStream<FaceRecord>({
          async write(face) {
            await sink.write(face, await encodeJpeg(face, o.quality));
            progress.tick(face.policy === "detected");
          },
        }),
      );
  } catch (e) {
    await sink.fail?.(e); // a tar stream gets __error__.json and no end marker
    throw e;
  } finally {
    await progress.done();
  }
  const seconds = (performance.now() - t0) / 1000;
  const r = align.report;
  const summary: AlignSummary = {
    input: o.input,
    output: o.output,
    shard: `${si}/${sn}`,
    listed,
    alreadyDone,
    processed: r.seen,
    detected: r.detected,
    centerCropped: r.centerCropped.length,
    skipped: r.skipped.length,
    skippedKeys: r.skipped,
    decodeErrors,
    seconds: Math.round(seconds * 10) / 10,
    facesPerSecond: Math.round((r.seen / seconds) * 10) / 10,
  };
  await sink.close(summary, sn > 1 ? `.${si}-of-${sn}` : "");
  checkSomethingCameOut(o.input, summary);
  return summary;
}

/**
 * Nothing useful came out (docs/reliability.md): no image listed, or images listed and none
 * aligned now or earlier. The report is written first, so the causes are in it.
 */
function checkSomethingCameOut(input: string, s: AlignSummary): void {
  if (s.listed === 0) {
    throw new Error(
      input === "-"
        ? "no records on stdin: nothing to align"
        : `no images in "${input}" (looked for ${IMAGE_EXTENSIONS.join(" ")})${
          s.shard === "0/1" ? "" : ` in shard ${s.shard}`
        }`,
    );
  }
  if (s.alreadyDone === 0 && s.processed > 0 && s.detected + s.centerCropped === 0) {
    throw new Error(
      `no face aligned from "${input}": ${s.skipped} without a face, ` +
        `${s.decodeErrors.length} unreadable (see the report)`,
    );
  }
}
