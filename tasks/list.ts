/**
 * `deno task list <root> [--list clean_list.txt | --rec train.rec] [--label-map out.json]`
 * Stage 1: writes the records of a clean list or image-folder tree as NDJSON (RecordIO: tar).
 */
import { parseFlags, runTask, toStdout, UsageError } from "./cli.ts";

const HELP = `Usage: deno task list <root> [options] > records

Reads a data set description and writes one record per image to stdout.
  <root>                   image-folder tree (root/<identity>/<image>.jpg; folders sorted, labels
                           dense 0..K-1), or the base directory of --list paths
  --list FILE              MS-Celeb-1M clean list: "relative/path.jpg label" per line; integer
                           labels kept, name labels mapped to dense integers (sorted names)
  --rec FILE               insightface RecordIO train.rec (train.idx beside it); <root> unused
  --lazy                   with --rec: NDJSON records {"key","label","path","offset"} without the
                           JPEG bytes; decode reads each record from the .rec on demand
  --label-map FILE         write {"name": label, ...} (folders / name labels) atomically
  -h, --help               this help

Output: NDJSON {"key","label","path"} per line; with --rec a WebDataset tar (<key>.jpg + <key>.json),
with --rec --lazy NDJSON.
Example: deno task list fixtures/pipeline/images | deno task shuffle --seed 7 | head -3`;

await runTask("list", async () => {
  const { flags: values, positionals } = parseFlags(Deno.args, {
    list: { type: "string" },
    rec: { type: "string" },
    "label-map": { type: "string" },
    lazy: { type: "boolean" },
  }, { help: HELP, positionals: [0, 1], positionalName: "at most one <root>" });
  const root = positionals[0];
  if (!root && !values.rec) throw new UsageError("missing <root>");
  if (values.list && values.rec) throw new UsageError("give --list or --rec, not both");
  const lists = await import("../pipeline/list/list_reader.ts");
  const { recordsToNdjson, recordsToTar } = await import("../pipeline/formats/wire.ts");
  if (values.lazy && !values.rec) throw new UsageError("--lazy needs --rec");
  if (values.rec) {
    if (values["label-map"]) throw new UsageError("--label-map needs a folder or --list");
    if (values.lazy) {
      // A table: each record is made as it is written (MS1M: no 5.8 M objects held at once).
      const { readRecordTable } = await import("../pipeline/list/record_io_labels.ts");
      const table = await readRecordTable(values.rec);
      return await toStdout(recordsToNdjson(ReadableStream.from(table)));
    }
    return await toStdout(recordsToTar(lists.readRecordIO(values.rec)));
  }
  const { records, classes } = values.list
    ? await lists.readCleanList(values.list, root)
    : await lists.readImageFolder(root);
  const out = values["label-map"];
  if (out) {
    // Written before the records, so a consumer that stops early (| head) still gets it.
    const map = Object.fromEntries(classes.map((c, i) => [c, i]));
    const { writeFileAtomic } = await import("../pipeline/atomic_write.ts");
    await writeFileAtomic(out, JSON.stringify(map, null, 1) + "\n");
  }
  await toStdout(recordsToNdjson(ReadableStream.from(records)));
});
