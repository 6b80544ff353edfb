/**
 * `deno task batch --batch-size B [--epochs E | --steps S] [--seed N] [--cursor JSON]`
 * Stage 5 (composition only): prints the wraparound batches as NDJSON {step, epoch, keys, labels}.
 */
import { parseFlags, runTask, stdinOrUsage, toStdout, UsageError } from "./cli.ts";
import type { AnyRecord } from "../pipeline/records.ts";

const HELP = `Usage: ... | deno task batch --batch-size B [options]

Reads records (NDJSON or tar) and prints the wraparound batches of the original TF ArcFace code as
NDJSON, one line per batch: {"step","epoch","keys","labels","sampleEpochs","cursor"}.
Rule: end = (start + B) % N; batch = [start:end] if start < end else [start:] + [:end]; start = end.
The [:end] part comes from the next epoch's order; "epoch" is the epoch of the batch's first sample;
B > N cycles through whole epochs so a batch is always exactly B.
  --batch-size B   samples per batch (required)
  --epochs E       stop once the cursor reaches epoch E (default 1)
  --steps S        stop after S batches (overrides --epochs)
  --seed N         reshuffle every epoch with (seed, epoch), as training does (default: keep the
                   input order every epoch, i.e. shuffle upstream)
  --cursor JSON    resume from {"epoch":E,"start":S,"step":T} (a saved "cursor")
  -h, --help       this help

Example: deno task list fixtures/pipeline/images | deno task batch --batch-size 4 --seed 7 --epochs 2`;

await runTask("batch", async () => {
  const { flags: values } = parseFlags(Deno.args, {
    "batch-size": { type: "int", min: 1 },
    epochs: { type: "int", min: 0 },
    steps: { type: "int", min: 0 },
    seed: { type: "int" },
    cursor: { type: "string" },
  }, { help: HELP });
  const { "batch-size": batchSize, epochs, steps, seed } = values;
  if (batchSize === undefined) throw new UsageError("--batch-size is required");
  let cursor;
  if (values.cursor) {
    try {
      cursor = JSON.parse(values.cursor);
    } catch {
      throw new UsageError(`--cursor must be JSON like {"epoch":0,"start":0,"step":0}`);
    }
  }
  const { WrapBatchStream } = await import("../pipeline/batch/wrap_batch_stream.ts");
  const { readRecords } = await import("../pipeline/formats/wire.ts");
  const { records } = await readRecords(stdinOrUsage("batch"));
  const enc = new TextEncoder();
  const lines = records
    .pipeThrough(new WrapBatchStream<AnyRecord>({ batchSize, epochs, steps, seed, cursor }))
    .pipeThrough(
      new TransformStream({
        transform(b, c) {
          const line = {
            step: b.step,
            epoch: b.epoch,
            keys: b.records.map((r) => r.key),
            labels: b.records.map((r) => r.label),
            sampleEpochs: b.sampleEpochs,
            cursor: b.cursor,
          };
          c.enqueue(enc.encode(JSON.stringify(line) + "\n"));
        },
      }),
    );
  await toStdout(lines);
});
