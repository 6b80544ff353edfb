/**
 * Resolves a run's `data` into the training records: an image-folder tree (`root/<id>/<img>`), a
 * clean list (`path label` lines, paths relative to `root` or the list's folder), an insightface
 * `.rec` file (`.idx` beside it), or `-`: a record stream (the task passes stdin; NDJSON with
 * paths, or a WebDataset tar of decoded `.rgb` / encoded `.jpg` faces with `.json` labels),
 * batched in the order it arrives.
 */
import { dirname } from "node:path";
import { readCleanList, readImageFolder } from "../../pipeline/list/list_reader.ts";
import { readRecordTable } from "../../pipeline/list/record_io_labels.ts";
import { readRecords } from "../../pipeline/formats/wire.ts";
import type { AnyRecord, RecordList } from "../../pipeline/records.ts";

export interface TrainData {
  /**
   * The whole list (reshuffled per epoch; a `.rec` as a compact `RecordIOTable`), or a stream
   * (stdin: batched as it arrives).
   */
  records: RecordList | ReadableStream<AnyRecord>;
  /** Records in the list; null for a stream. */
  size: number | null;
  /** Number of identities (1 + the largest label, or as given). */
  numClasses: number;
}

/**
 * Reads the training list; errors name the path. `numClasses` overrides the count from the labels
 * (it must cover them) and is required for a stream (`data` = "-"), which cannot be read twice.
 */
export async function loadTrainData(
  data: string,
  root?: string,
  numClasses?: number,
  stream?: () => ReadableStream<Uint8Array>,
): Promise<TrainData> {
  if (data === "-") {
    if (numClasses === undefined) {
      throw new TypeError(
        "A record stream needs its number of classes: it cannot be read twice to count them",
      );
    }
    if (!stream) throw new TypeError('Training data "-" needs a record stream to read');
    const { records } = await readRecords(stream(), "stdin");
    return { records, size: null, numClasses };
  }
  let stat: Deno.FileInfo;
  try {
    stat = await Deno.stat(data);
  } catch (e) {
    throw new Error(`Cannot read training data "${data}": ${(e as Error).message}`);
  }
  let records: RecordList;
  let max = -1;
  if (data.endsWith(".rec") && !stat.isDirectory) {
    // Label + byte offset per record, in typed arrays; each JPEG is read when its batch is decoded.
    const table = await readRecordTable(data);
    records = table;
    max = table.maxLabel();
  } else {
    const list = stat.isDirectory
      ? (await readImageFolder(data)).records
      : (await readCleanList(data, root ?? dirname(data))).records;
    for (const r of list) max = Math.max(max, r.label);
    records = list;
  }
  if (records.length === 0) throw new Error(`Training data "${data}" has no images`);
  if (max < 1) throw new Error(`Training data "${data}" has fewer than 2 identities`);
  if (numClasses !== undefined && numClasses <= max) {
    throw new RangeError(`${numClasses} classes are too few: "${data}" has label ${max}`);
  }
  return { records, size: records.length, numClasses: numClasses ?? max + 1 };
}
