/**
 * `deno task bench scale [--records N]`: the data side at MS1M scale (5.8 M records, 85,742
 * identities). Writes a synthetic insightface RecordIO of N records (one tiny valid 112x112 JPEG
 * reused, per-record labels) under a temp folder it removes, then, in a fresh process, times
 * list (.idx + labels) -> trainBatches (per-epoch shuffle, wraparound batches, decode in workers)
 * to the first batch, the batches/s after it, and the RSS over the run (peak, and after the first
 * batch vs at the end, to show whether memory grows). Prints one JSON object.
 */
import { join } from "node:path";
import { parseFlags, runTask } from "../tasks/cli.ts";

const HELP = `Usage: deno task bench scale [options]

  --records N       records in the synthetic .rec (default 100000; MS1M: 5800000)
  --identities K    labels 0..K-1, records spread evenly (default 85742)
  --batches B       batches to draw after the first (default 1000)
  --batch-size S    images per batch (default 128)
  --workers W       decode workers (default 2)
  --dir DIR         where to write the .rec (default: a temp folder under /tmp, removed after)
`;

interface Measured {
  backend: string;
  listSeconds: number;
  firstBatchSeconds: number;
  batches: number;
  batchesPerSecond: number;
  imagesPerSecond: number;
  rssMB: { afterList: number; afterFirstBatch: number; peak: number; end: number };
  rssSamplesMB: number[];
}

export async function main(args: string[]): Promise<void> {
  const { flags: v } = parseFlags(args, {
    records: { type: "int", min: 1, default: 100000 },
    identities: { type: "int", min: 1, default: 85742 },
    batches: { type: "int", min: 1, default: 1000 },
    "batch-size": { type: "int", min: 1, default: 128 },
    workers: { type: "int", min: 0, default: 2 },
    dir: { type: "string" },
    measure: { type: "string" }, // internal: the child process's .rec
  }, { help: HELP });
  const { batches, "batch-size": batchSize, workers } = v;
  if (v.measure) {
    console.log(JSON.stringify(await measure(v.measure, batches, batchSize, workers)));
    return;
  }
  const records = v.records, identities = Math.min(v.identities, records);
  const dir = v.dir ?? await Deno.makeTempDir({ prefix: "arcstream_scale_" });
  try {
    const rec = join(dir, "train.rec");
    const t0 = performance.now();
    const bytes = await writeSynthetic(rec, records, identities);
    const writeSeconds = (performance.now() - t0) / 1000;
    // A fresh process, so the RSS is the reader's alone, not the writer's.
    const child = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", new URL(import.meta.url).pathname, "--measure", rec, ...childArgs(v)],
      stdout: "piped",
      stderr: "inherit",
    }).output();
    if (!child.success) throw new Error(`the measuring process failed (exit ${child.code})`);
    const m = JSON.parse(new TextDecoder().decode(child.stdout)) as Measured;
    console.log(JSON.stringify({
      bench: "scale",
      records,
      identities,
      recMB: Math.round(bytes / 1e6),
      writeSeconds: round(writeSeconds),
      batchSize,
      workers,
      ...m,
      goals: { firstBatchSeconds: 30, peakRssMB: 1536, flatOverBatches: 10000 },
      machine: { cores: navigator.hardwareConcurrency, loadavg: Deno.loadavg() },
    }));
  } finally {
    if (!v.dir) await Deno.remove(dir, { recursive: true });
  }
}

function childArgs(v: Record<string, unknown>): string[] {
  return ["batches", "batch-size", "workers"].flatMap((k) => [`--${k}`, String(v[k])]);
}

const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;
const rssMB = () => Math.round(Deno.memoryUsage().rss / 2 ** 20);

/** insightface layout: record 0 = header [N+1, N+1+K), images 1..N, labels spread evenly. */
async function writeSynthetic(rec: string, n: number, k: number): Promise<number> {
  const { RecordIOWriter, packIR, encodeRecord } = await import("../pipeline/list/record_io.ts");
  const sharp = (await import("sharp")).default;
  const jpeg = new Uint8Array(
    await sharp({ create: { width: 112, height: 112, channels: 3, background: "#8a7060" } })
      .jpeg({ quality: 50 }).toBuffer(),
  );
  const w = await RecordIOWriter.create(rec);
  let bytes = 0;
  try {
    const header = packIR({ label: [n + 1, n + 1 + k] }, new Uint8Array(0));
    await w.write(0, header);
    for (let i = 1; i <= n; i++) {
      const data = packIR({ label: Math.floor(((i - 1) * k) / n), id: i }, jpeg);
      if (i === 1) bytes = encodeRecord(data).length * n;
      await w.write(i, data);
    }
  } finally {
    await w.close();
  }
  return bytes;
}

async function measure(rec: string, batches: number, batchSize: number, workers: number) {
  const peak = { rss: 0 };
  const sample = () => {
    const r = rssMB();
    if (r > peak.rss) peak.rss = r;
    return r;
  };
  const timer = setInterval(sample, 200);
  try {
    // The backend training uses (wasm by default): its tensors copy the batch, so the stage
    // reuses batch buffers, as in a training run.
    const { initBackend } = await import("../model/backend/backend.ts");
    const backend = (await initBackend({})).name;
    const t0 = performance.now();
    // As `train --data x.rec` reads it: a compact table (typed arrays), records made on demand.
    const { readRecordTable } = await import("../pipeline/list/record_io_labels.ts");
    const records = await readRecordTable(rec);
    const listSeconds = (performance.now() - t0) / 1000;
    const afterList = sample();
    const { trainBatches } = await import("../pipeline/batch/train_batches.ts");
    const source = trainBatches(records, { batchSize, seed: 1, workers }).getReader();
    try {
      const first = (await source.read()).value!;
      first.images.dispose(), first.labels.dispose();
      const firstBatchSeconds = (performance.now() - t0) / 1000;
      const afterFirstBatch = sample();
      const samples: number[] = [];
      const t1 = performance.now();
      for (let b = 0; b < batches; b++) {
        const batch = (await source.read()).value!;
        batch.images.dispose(), batch.labels.dispose();
        if ((b + 1) % Math.max(1, Math.floor(batches / 10)) === 0) samples.push(sample());
      }
      const seconds = (performance.now() - t1) / 1000;
      return {
        records: records.length,
        backend,
        listSeconds: round(listSeconds),
        firstBatchSeconds: round(firstBatchSeconds),
        batches,
        batchesPerSecond: round(batches / seconds),
        imagesPerSecond: Math.round((batches * batchSize) / seconds),
        rssMB: { afterList, afterFirstBatch, peak: peak.rss, end: sample() },
        rssSamplesMB: samples,
      };
    } finally {
      await source.cancel();
    }
  } finally {
    clearInterval(timer);
  }
}

if (import.meta.main) await runTask("bench scale", () => main(Deno.args));
