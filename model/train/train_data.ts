/**
 * Resolves `--data` into the training record list: an image-folder tree (`root/<id>/<img>`), a
 * clean list (`path label` lines, paths relative to `root` or the list's folder), or an insightface
 * `.rec` file (`.idx` beside it).
 */
import { dirname } from "node:path";
import { readCleanList, readImageFolder, readRecordIOLazy } from "../../pipeline/list/list_reader.ts";
import type { ListRecord } from "../../pipeline/records.ts";

export interface TrainData {
  records: ListRecord[];
  /** Number of identities (1 + the largest label). */
  numClasses: number;
}

/** Reads the training list; errors name the path. */
export async function loadTrainData(data: string, root?: string): Promise<TrainData> {
  let stat: Deno.FileInfo;
  try {
    stat = await Deno.stat(data);
  } catch (e) {
    throw new Error(`Cannot read training data "${data}": ${(e as Error).message}`);
  }
  let records: ListRecord[];
  if (stat.isDirectory) {
    records = (await readImageFolder(data)).records;
  } else if (data.endsWith(".rec")) {
    // Records hold only label + byte offset; each JPEG is read when its batch is decoded.
    records = (await readRecordIOLazy(data)).records;
  } else {
    records = (await readCleanList(data, root ?? dirname(data))).records;
  }
  if (records.length === 0) throw new Error(`Training data "${data}" has no images`);
  let max = -1;
  for (const r of records) max = Math.max(max, r.label);
  if (max < 1) throw new Error(`Training data "${data}" has fewer than 2 identities`);
  return { records, numClasses: max + 1 };
}
