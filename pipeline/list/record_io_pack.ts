/**
 * Packs aligned faces into an insightface training folder, as arcface_torch's `MXFaceDataset`
 * reads it (format in `record_io.ts`):
 *
 *   record 0            flag 2, label [N+1, N+1+C)   (header: image keys 1..N, identity keys)
 *   records 1..N        flag 0, label = class, id = record key, payload = the JPEG bytes as given
 *   records N+1..N+C    flag 2, label [first, end) of that class's image keys, empty payload
 *
 * Order (deterministic, independent of how the input was split): faces sorted by identity, then
 * by key (UTF-16 code unit order, as `Array.prototype.sort`); classes are numbered 0..C-1 in
 * identity order. The same faces therefore give the same bytes whether they came from one align
 * output or from N shards.
 */
import { packIR, RecordIOWriter } from "./record_io.ts";

/** One face to pack: where it comes from and how to read its JPEG bytes. */
export interface PackItem {
  /** Unique key (e.g. `Name/Name_0001`): the sort key within an identity. */
  key: string;
  /** Identity (e.g. `Name`): faces of one identity share a class label. */
  identity: string;
  /** The file it came from, for error messages. */
  source: string;
  /** Reads the encoded face (JPEG bytes, written to the `.rec` unchanged). */
  read(): Promise<Uint8Array>;
}

export interface PackResult {
  images: number;
  classes: number;
  /** `.rec` size in bytes. */
  bytes: number;
  /** Class label of each identity, in label order. */
  identities: string[];
  /** The packed order: `items[i]` is record key i + 1. */
  items: PackItem[];
  /** Class label of `items[i]`. */
  labels: Int32Array;
}

const READ_AHEAD = 32;

async function readFace(it: PackItem): Promise<Uint8Array> {
  try {
    return await it.read();
  } catch (e) {
    throw new Error(`Cannot read face "${it.key}" of "${it.source}": ${(e as Error).message}`);
  }
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Sorts items into the packed order; throws naming both files for a key given twice. */
export function packOrder(items: PackItem[]): PackItem[] {
  const sorted = [...items].sort((a, b) => cmp(a.identity, b.identity) || cmp(a.key, b.key));
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i].key === sorted[i - 1].key) {
      throw new Error(
        `Duplicate key "${sorted[i].key}" in "${sorted[i - 1].source}" and "${sorted[i].source}"`,
      );
    }
  }
  return sorted;
}

/**
 * Writes `rec` + its `.idx` (atomically, temp + rename) in insightface layout from `items` (any
 * order). `onRecord` is called after each image record (progress).
 */
export async function writeInsightfaceRec(
  rec: string,
  items: PackItem[],
  onRecord?: (done: number) => void,
): Promise<PackResult> {
  const order = packOrder(items);
  const identities: string[] = [];
  const ranges: [number, number][] = [];
  const labels = new Int32Array(order.length);
  order.forEach((it, i) => {
    if (identities.at(-1) !== it.identity) {
      identities.push(it.identity);
      ranges.push([i + 1, i + 1]);
    }
    ranges[ranges.length - 1][1] = i + 2;
    labels[i] = identities.length - 1;
  });
  const n = order.length, c = identities.length;
  const w = await RecordIOWriter.create(rec);
  try {
    await w.write(0, packIR({ label: [n + 1, n + 1 + c] }, new Uint8Array(0)));
    // Reads run READ_AHEAD records ahead of the writer (file opens overlap the writes), in a
    // ring of READ_AHEAD slots.
    const reads: Promise<Uint8Array>[] = new Array(READ_AHEAD);
    const start = (i: number) => {
      if (i >= n) return;
      const p = readFace(order[i]);
      p.catch(() => {}); // awaited in order below; a later failure must not go unhandled
      reads[i % READ_AHEAD] = p;
    };
    for (let i = 0; i < READ_AHEAD; i++) start(i);
    for (let i = 0; i < n; i++) {
      const jpeg = await reads[i % READ_AHEAD];
      start(i + READ_AHEAD);
      await w.write(i + 1, packIR({ label: labels[i], id: i + 1 }, jpeg));
      onRecord?.(i + 1);
    }
    for (let k = 0; k < c; k++) {
      await w.write(n + 1 + k, packIR({ label: ranges[k], id: n + 1 + k }, new Uint8Array(0)));
    }
  } catch (e) {
    await w.abort();
    throw e;
  }
  const bytes = w.offset;
  await w.close();
  return { images: n, classes: c, bytes, identities, items: order, labels };
}
