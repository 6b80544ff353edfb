/**
 * `deno task pack <input>... --out DIR`: aligned faces -> an insightface training folder
 * (`train.rec`, `train.idx`, `property`) that arcface_torch's `MXFaceDataset` reads; layout and
 * order in pipeline/list/record_io_pack.ts, the cluster hand-off in docs/cluster.md.
 */
import { join } from "node:path";
import { parseFlags, runTask, UsageError } from "./cli.ts";
import { writeFileAtomic, writeStreamAtomic } from "../pipeline/atomic_write.ts";
import { FolderLock } from "../pipeline/folder_lock.ts";
import type { PackResult } from "../pipeline/list/record_io_pack.ts";

const HELP = `Usage: deno task pack <input>... --out DIR [options]

Packs aligned faces into an insightface / arcface_torch training folder:
  DIR/train.rec, DIR/train.idx   RecordIO: record 0 = header [N+1, N+1+C), images 1..N (JPEG bytes
                                 as aligned, not re-encoded), identity ranges N+1..N+C
  DIR/property                   "C,S,S" (classes, image side)
  DIR/pack_index.tsv             "record<TAB>label<TAB>key" per image
  DIR/<set>.bin                  with --bins: insightface verification sets
Labels: identities (each face key's folder, <identity>/<image>) sorted, numbered 0..C-1; faces
sorted by identity then key. The same faces give the same bytes from one folder or N shards.
property is written last: a folder without it is not a whole pack.

  <input>      an align output folder (one run, or shards sharing it: every shard's
               align_report.i-of-n.json must exist), several shard folders, a plain aligned
               image-folder tree (<identity>/<image>.jpg), or aligned WebDataset .tar files
  --out DIR    the folder to write (created; an earlier pack there is replaced)
  --bins LIST  comma-separated pairs files (LFW pairs.txt format) whose faces are among the
               inputs: pairs.txt -> DIR/lfw.bin, <name>.txt -> DIR/<name>.bin (two files
               naming one .bin are refused). Those faces are then trained on too, which
               inflates the .bin's accuracy (a warning counts the identities): for an honest
               figure pack the validation faces separately (docs/cluster.md)
  --size N     image side written to property (default 112, align's default)
  -h, --help   this help

Prints a JSON summary (images, classes, bytes, seconds, records/s, MB/s, peak RSS).
Example: deno task pack aligned/ --out faces_pack --bins ../shared/data/lfw/pairs.txt`;

const FLAGS = {
  out: { type: "string" },
  bins: { type: "string" },
  size: { type: "int", min: 8, default: 112 },
} as const;

async function main(): Promise<void> {
  const { flags, positionals } = parseFlags(Deno.args, FLAGS, {
    help: HELP,
    positionals: [1, Infinity],
    positionalName: "<input>...",
  });
  if (!flags.out) throw new UsageError("--out DIR is required");
  const bins = flags.bins ? flags.bins.split(",").filter((s) => s !== "") : [];
  const out = flags.out;
  const { checkBinNames, removeBins, writeBins } = await import("./pack/bins.ts");
  checkBinNames(bins);
  let peak = 0;
  const sample = () => (peak = Math.max(peak, Deno.memoryUsage().rss));
  const timer = setInterval(sample, 100);
  try {
    const t0 = performance.now();
    const { inputItems } = await import("./pack/sources.ts");
    const { writeInsightfaceRec } = await import("../pipeline/list/record_io_pack.ts");
    // One pack per folder at a time: two would rename their files over each other's.
    const lock = await FolderLock.acquire(out, { name: ".pack.lock", what: "Pack folder" });
    let inputs, r, seconds, binSets = {};
    try {
      inputs = await inputItems(positionals);
      // No property = not whole: removed first, written last.
      await Deno.remove(join(out, "property")).catch(() => {});
      await removeBins(out);
      r = await writeInsightfaceRec(join(out, "train.rec"), inputs.items);
      seconds = (performance.now() - t0) / 1000;
      if (bins.length > 0) binSets = await writeBins(out, bins, r.items);
      await writeStreamAtomic(join(out, "pack_index.tsv"), indexLines(r));
      await writeFileAtomic(join(out, "property"), `${r.classes},${flags.size},${flags.size}\n`);
    } finally {
      await inputs?.close();
      await lock.release();
    }
    sample();
    const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;
    console.log(JSON.stringify({
      out,
      images: r.images,
      classes: r.classes,
      bytes: r.bytes,
      bins: binSets,
      seconds: round(seconds, 2),
      recordsPerSecond: Math.round(r.images / seconds),
      MBPerSecond: round(r.bytes / 1e6 / seconds),
      peakRssMB: Math.round(peak / 2 ** 20),
    }));
  } finally {
    clearInterval(timer);
  }
}

/** `record<TAB>label<TAB>key` lines in chunks of 4096 (MS1M: 5.8 M lines, never one string). */
function* indexLines(r: PackResult): Generator<string> {
  for (let i = 0; i < r.items.length; i += 4096) {
    const end = Math.min(r.items.length, i + 4096);
    let chunk = "";
    for (let j = i; j < end; j++) chunk += `${j + 1}\t${r.labels[j]}\t${r.items[j].key}\n`;
    yield chunk;
  }
}

if (import.meta.main) await runTask("pack", main);
