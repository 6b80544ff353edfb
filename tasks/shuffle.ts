/**
 * `deno task shuffle --seed 7 [--epoch 0] [--buffer N]`: Stage 2, seeded shuffle of stdin records.
 */
import { parseArgs } from "node:util";
import { allowNegativeValues } from "./negative_args.ts";
import { intOption, runTask, stdinOrUsage } from "../pipeline/formats/stage_cli.ts";
import type { AnyRecord } from "../pipeline/formats/wire.ts";

const HELP = `Usage: ... | deno task shuffle [options] > records

Shuffles the records on stdin (NDJSON or WebDataset tar, detected) and writes them in the same format.
  --seed N       PRNG seed; same seed, same order on every machine (default 0)
  --epoch N      epoch: order = Fisher-Yates with seed derived from (seed, epoch) (default 0)
  --buffer N     bounded mode: shuffle buffer of N records instead of the whole list (default: off)
  -h, --help     this help

Example: deno task list fixtures/pipeline/images | deno task shuffle --seed 7 --epoch 1`;

await runTask("shuffle", async () => {
  const { values } = parseArgs({
    args: allowNegativeValues(Deno.args),
    options: {
      seed: { type: "string" },
      epoch: { type: "string" },
      buffer: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) return console.log(HELP);
  const seed = intOption("seed", values.seed, 0, Number.MIN_SAFE_INTEGER)!;
  const epoch = intOption("epoch", values.epoch, 0)!;
  const buffer = intOption("buffer", values.buffer, undefined, 1);
  const { ShuffleStream } = await import("../pipeline/shuffle/shuffle_stream.ts");
  const { readRecords, recordsToNdjson, recordsToTar } = await import(
    "../pipeline/formats/wire.ts"
  );
  const { toStdout } = await import("../pipeline/formats/stage_cli.ts");
  const shuffle = new ShuffleStream<AnyRecord>({ seed, epoch, buffer });
  const { format, records } = await readRecords(stdinOrUsage("shuffle"));
  if (format === undefined) throw new Error("no records on stdin: nothing to shuffle");
  const out = records.pipeThrough(shuffle);
  await toStdout(format === "tar" ? recordsToTar(out, "shuffle") : recordsToNdjson(out));
});
