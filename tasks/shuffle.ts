/**
 * `deno task shuffle --seed 7 [--epoch 0] [--buffer N]`: Stage 2, seeded shuffle of stdin records.
 */
import { parseFlags, runTask, stdinOrUsage, toStdout } from "./cli.ts";
import type { AnyRecord } from "../pipeline/formats/wire.ts";

const HELP = `Usage: ... | deno task shuffle [options] > records

Shuffles the records on stdin (NDJSON or WebDataset tar, detected) and writes them in the same format.
  --seed N       PRNG seed; same seed, same order on every machine (default 0)
  --epoch N      epoch: order = Fisher-Yates with seed derived from (seed, epoch) (default 0)
  --buffer N     bounded mode: shuffle buffer of N records instead of the whole list (default: off)
  -h, --help     this help

Example: deno task list fixtures/pipeline/images | deno task shuffle --seed 7 --epoch 1`;

await runTask("shuffle", async () => {
  const { flags: { seed, epoch, buffer } } = parseFlags(Deno.args, {
    seed: { type: "int", default: 0 },
    epoch: { type: "int", min: 0, default: 0 },
    buffer: { type: "int", min: 1 },
  }, { help: HELP });
  const { ShuffleStream } = await import("../pipeline/shuffle/shuffle_stream.ts");
  const { readRecords, recordsToNdjson, recordsToTar } = await import(
    "../pipeline/formats/wire.ts"
  );
  const shuffle = new ShuffleStream<AnyRecord>({ seed, epoch, buffer });
  const { format, records } = await readRecords(stdinOrUsage("shuffle"));
  const out = records.pipeThrough(shuffle);
  await toStdout(format === "tar" ? recordsToTar(out) : recordsToNdjson(out));
});
