/**
 * TensorBoard event files in a run folder: `events.out.tfevents.<unix seconds>.<host>`, opened
 * with a `file_version` event, then one record of scalar summaries per call, appended as training
 * goes (point `tensorboard --logdir runs/` at the runs). A resumed run appends to the folder's
 * newest event file after `cutEventFiles` has cut it back to the checkpoint's step, as log.jsonl
 * is cut, so no step is written twice.
 *
 * ```ts
 * const tb = await TensorBoardWriter.open("runs/r50");
 * await tb.scalars(100, { loss: 12.3, learning_rate: 0.1 });
 * ```
 */
import { join } from "node:path";
import { writeFileAtomic } from "../../pipeline/atomic_write.ts";
import { hostname } from "../../pipeline/folder_lock.ts";
import {
  decodeEventStep,
  fileVersionEvent,
  frameRecord,
  scalarsEvent,
  splitRecords,
} from "./tensorboard_record.ts";

/** Event file names (what `--overwrite` clears, what a resume appends to). */
export const EVENT_FILE = /^events\.out\.tfevents\.\d+\..+$/;

/** The event files of `dir`, oldest first (by the time in their names). */
export async function listEventFiles(dir: string): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) {
      if (e.isFile && EVENT_FILE.test(e.name)) names.push(e.name);
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  const time = (n: string) => Number(n.split(".")[3]);
  return names.sort((a, b) => time(a) - time(b) || (a < b ? -1 : 1)).map((n) => join(dir, n));
}

/**
 * Cuts every event file of `dir` back to `step`: the records from the first one past `step` (or a
 * torn one) on are dropped. Returns the number of records dropped.
 */
export async function cutEventFiles(dir: string, step: number): Promise<number> {
  let dropped = 0;
  for (const path of await listEventFiles(dir)) {
    const bytes = await Deno.readFile(path);
    const records = splitRecords(bytes);
    const past = records.findIndex((r) => decodeEventStep(r.data) > step);
    const keep = past < 0 ? records.length : past;
    const end = keep === 0 ? 0 : records[keep - 1].end;
    if (end === bytes.length) continue;
    const torn = (records.at(-1)?.end ?? 0) < bytes.length ? 1 : 0;
    dropped += records.length - keep + torn;
    await writeFileAtomic(path, bytes.subarray(0, end));
  }
  return dropped;
}

/** Appends scalar summaries to one event file. */
export class TensorBoardWriter {
  readonly path: string;

  private constructor(path: string) {
    this.path = path;
  }

  /**
   * The writer of `dir`: appends to its newest event file when there is one (a resumed run),
   * else creates `events.out.tfevents.<now>.<host>` with its `file_version` record.
   */
  static async open(dir: string): Promise<TensorBoardWriter> {
    const existing = (await listEventFiles(dir)).at(-1);
    if (existing && (await Deno.stat(existing)).size > 0) return new TensorBoardWriter(existing);
    const now = Date.now() / 1000;
    const path = existing ?? join(dir, `events.out.tfevents.${Math.floor(now)}.${hostName()}`);
    await Deno.mkdir(dir, { recursive: true });
    await Deno.writeFile(path, frameRecord(fileVersionEvent(now)));
    return new TensorBoardWriter(path);
  }

  /** Writes `values` (tag -> number, stored as float32 `simple_value`) at `step`. */
  async scalars(step: number, values: Readonly<Record<string, number>>): Promise<void> {
    const record = frameRecord(scalarsEvent(Date.now() / 1000, step, values));
    await Deno.writeFile(this.path, record, { append: true });
  }
}

/** The host name for the file name (TensorFlow uses the host's name; dots would split it). */
function hostName(): string {
  return hostname().replace(/[^A-Za-z0-9_-]/g, "_") || "localhost";
}
