/**
 * The lazy RecordIO list as a table: keys, labels and byte offsets in typed arrays (20 bytes a
 * record), and a record object made only when asked for (`at(i)`). Holding MS1M's 5.8 M records
 * as objects `{key, label, path, offset}` cost ~0.9 GB of heap after the list step (measured,
 * docs/reliability.md); the table holds them in ~116 MB, and `trainBatches` shuffles positions
 * and makes the records of a batch as it is built.
 */
import type { RecordList } from "../records.ts";
import type { RecordIORecord } from "./record_io_reader.ts";

export class RecordIOTable implements RecordList<RecordIORecord>, Iterable<RecordIORecord> {
  /** The `.rec` file every record points into. */
  readonly path: string;
  /** `.idx` key of each record (its `key`, as a string, in `at()`). */
  readonly keys: Float64Array;
  /** Class label of each record (the first label of its IRHeader). */
  readonly labels: Int32Array;
  /** Byte offset of each record's magic in the `.rec` file. */
  readonly offsets: Float64Array;

  constructor(path: string, keys: Float64Array, labels: Int32Array, offsets: Float64Array) {
    if (keys.length !== labels.length || keys.length !== offsets.length) {
      throw new RangeError(
        `RecordIOTable: ${keys.length} keys, ${labels.length} labels, ${offsets.length} offsets`,
      );
    }
    this.path = path;
    this.keys = keys;
    this.labels = labels;
    this.offsets = offsets;
  }

  get length(): number {
    return this.keys.length;
  }

  /** Record `index` as a `RecordIORecord` (negative counts from the end, as `Array.at`). */
  at(index: number): RecordIORecord | undefined {
    const i = index < 0 ? index + this.keys.length : index;
    if (!Number.isInteger(i) || i < 0 || i >= this.keys.length) return undefined;
    return {
      key: String(this.keys[i]),
      label: this.labels[i],
      path: this.path,
      offset: this.offsets[i],
    };
  }

  *[Symbol.iterator](): Iterator<RecordIORecord> {
    for (let i = 0; i < this.keys.length; i++) yield this.at(i)!;
  }

  /** The largest label (-1 when empty), without making any record. */
  maxLabel(): number {
    let max = -1;
    for (let i = 0; i < this.labels.length; i++) if (this.labels[i] > max) max = this.labels[i];
    return max;
  }
}
