/**
 * `deno task shuffle --seed 7 [--epoch 0] [--epochs 1] [--buffer N]`: Stage 2, seeded shuffle of stdin records.
 */
import { parseFlags, runTask, stdinOrUsage, toStdout, UsageError } from "./cli.ts";
import type { AnyRecord } from "../pipeline/records.ts";

const HELP = `Usage: ... | deno task shuffle [options] > records

Shuffles the records on stdin (NDJSON or WebDataset tar, detected) and writes them in the same format.
  --seed N       PRNG seed; same seed, same order on every machine (default 0)
  --epoch N      epoch: order = Fisher-Yates with seed derived from (seed, epoch) (default 0)
  --epochs N     emit N epochs back to back (epoch, epoch+1, ...), each a fresh order, each
                 record tagged with its "epoch"; for \`train --data -\` (default 1, untagged)
  --buffer N     bounded mode: shuffle buffer of N records instead of the whole list (default: off)
  -h, --help     this help

Example: deno task list fixtures/pipeline/images | deno task shuffle --seed 7 --epoch 1
         deno task list DIR | deno task shuffle --seed 7 --epochs 20 | deno task decode |
           deno task train --data - --num-classes K`;

await runTask("shuffle", async () => {
  const { flags: { seed, epoch, buffer, epochs } } = parseFlags(Deno.args, {
    seed: { type: "int", default: 0 },
    epoch: { type: "int", min: 0, default: 0 },
    epochs: { type: "int", min: 1 },
    buffer: { type: "int", min: 1 },
  }, { help: HELP });
  if (buffer !== undefined && epochs !== undefined) {
    throw new UsageError("--epochs needs the whole list: it cannot be combined with --buffer");
  }
  const { ShuffleStream } = await import("../pipeline/shuffle/shuffle_stream.ts");
  const { readRecords, recordsToNdjson, recordsToTar } = await import(
    "../pipeline/formats/wire.ts"
  );
  const tagEpoch = epochs !== undefined;
  const shuffle = new ShuffleStream<AnyRecord>({
    seed,
    epoch,
    buffer,
    epochs: epochs ?? 1,
    tagEpoch,
  });
  const { format, records } = await readRecords(stdinOrUsage("shuffle"));
  if (format === undefined) throw new Error("no records on stdin: nothing to shuffle");
  const out = records.pipeThrough(shuffle);
  await toStdout(format === "tar" ? recordsToTar(out, "shuffle") : recordsToNdjson(out));
});
