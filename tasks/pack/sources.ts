/**
 * The inputs of `deno task pack` as `PackItem`s: align output folders (one run, or shards sharing
 * or not sharing a folder), plain aligned image-folder trees, and aligned WebDataset tars. The
 * identity of a face is its key's folder (`Name/Name_0001` -> `Name`), as `align` writes keys that
 * mirror its input tree. Anything that cannot be read whole is refused with the file named.
 */
import { join } from "node:path";
import type { PackItem } from "../../pipeline/list/record_io_pack.ts";
import { walkImages } from "../../pipeline/list/folder_walk.ts";
import { scanTar } from "../../pipeline/formats/tar_scan.ts";
import { CONFIG_FILE } from "../align/folder_config.ts";
import { exists } from "../../pipeline/path_exists.ts";

/** `Name/Name_0001` -> `Name`; a key without a folder has no identity and is refused. */
function identityOf(key: string, source: string): string {
  const slash = key.lastIndexOf("/");
  if (slash <= 0) {
    throw new Error(
      `Face "${key}" of "${source}" has no identity folder: pack takes the identity from the ` +
        `key's folder (<identity>/<image>)`,
    );
  }
  const id = key.slice(0, slash);
  // One string per identity (MS1M: ~68 faces each share it), not a slice per face.
  let same = IDENTITIES.get(id);
  if (same === undefined) IDENTITIES.set(id, same = id);
  return same;
}

const IDENTITIES = new Map<string, string>();

/**
 * Checks an align output folder is finished: every shard it names in `align_report.i-of-n.json`
 * (or `align_report.json`) has its report, so a killed array task is not packed half done.
 */
async function checkAlignReports(root: string): Promise<void> {
  const reports: string[] = [];
  for await (const e of Deno.readDir(root)) {
    if (/^align_report(\.\d+-of-\d+)?\.json$/.test(e.name)) reports.push(e.name);
  }
  if (reports.length === 0) {
    throw new Error(
      `"${root}" is an align output without align_report*.json: its align has not finished ` +
        `(rerun the same align command; it resumes)`,
    );
  }
  if (reports.includes("align_report.json")) return;
  const n = Number(/-of-(\d+)/.exec(reports[0])![1]);
  for (let i = 0; i < n; i++) {
    if (!reports.includes(`align_report.${i}-of-${n}.json`)) {
      throw new Error(
        `"${root}" lacks align_report.${i}-of-${n}.json: shard ${i} of ${n} has not finished ` +
          `(rerun it; it resumes)`,
      );
    }
  }
}

// Faces are class instances, not closures: MS1M has 5.8 M of them (about 0.9 KB each as
// closures with their strings, measured; see docs/benchmarks.md).

/** A face in its own file. */
class FileFace implements PackItem {
  constructor(readonly key: string, readonly identity: string, readonly source: string) {}
  read(): Promise<Uint8Array> {
    return Deno.readFile(this.source);
  }
}

/**
 * One open handle per tar, reads queued (seek + read must not interleave): opening the file
 * for every face cost more than the read itself.
 */
export class TarReader {
  #file: Deno.FsFile | null = null;
  #queue: Promise<unknown> = Promise.resolve();
  constructor(readonly path: string) {}

  read(offset: number, size: number): Promise<Uint8Array> {
    const p = this.#queue.then(async () => {
      this.#file ??= await Deno.open(this.path);
      return await readAt(this.#file, this.path, offset, size);
    });
    this.#queue = p.catch(() => {});
    return p;
  }

  /** Closes the handle once the queued reads are done (a later read reopens it). */
  async close(): Promise<void> {
    await this.#queue;
    this.#file?.close();
    this.#file = null;
  }
}

/** A face stored in a tar at [start, start + size). */
class TarFace implements PackItem {
  constructor(
    readonly key: string,
    readonly identity: string,
    private readonly tar: TarReader,
    private readonly start: number,
    private readonly size: number,
  ) {}
  get source(): string {
    return this.tar.path;
  }
  read(): Promise<Uint8Array> {
    return this.tar.read(this.start, this.size);
  }
}

/** Faces of a folder: an align output (sidecars required) or a plain aligned tree. */
export async function folderItems(root: string): Promise<PackItem[]> {
  const isAlign = await exists(join(root, CONFIG_FILE));
  if (isAlign) await checkAlignReports(root);
  const items: PackItem[] = [];
  for (const segs of await walkImages(root)) {
    const rel = segs.join("/");
    const key = rel.slice(0, rel.lastIndexOf("."));
    const path = join(root, ...segs);
    if (isAlign && !(await exists(join(root, `${key}.json`)))) {
      throw new Error(
        `"${path}" has no sidecar ${key}.json: an align of "${root}" was cut off mid-image ` +
          `(rerun it; it resumes)`,
      );
    }
    items.push(new FileFace(key, identityOf(key, root), path));
  }
  return items;
}

/**
 * Faces of an aligned WebDataset tar (`<key>.jpg` [+ `<key>.json`]), read by offset through one
 * handle per tar; its reader is added to `readers`, for the caller to close.
 */
export async function tarItems(path: string, readers: TarReader[]): Promise<PackItem[]> {
  let entries;
  try {
    entries = await scanTar(path);
  } catch (e) {
    throw new Error(`Cannot read tar "${path}": ${(e as Error).message}`);
  }
  const total = (await Deno.stat(path)).size;
  const end = entries.at(-1)?.end ?? 0;
  if (!(await zeroTail(path, end, total))) {
    throw new Error(`"${path}" is truncated or damaged after byte ${end}: not a whole tar`);
  }
  const items: PackItem[] = [];
  const reader = new TarReader(path);
  readers.push(reader);
  for (const e of entries) {
    if (!/\.(jpg|jpeg|png)$/i.test(e.name)) continue;
    const key = e.name.slice(0, e.name.lastIndexOf("."));
    const start = e.end - Math.ceil(e.size / 512) * 512;
    items.push(new TarFace(key, identityOf(key, path), reader, start, e.size));
  }
  return items;
}

/** True when bytes [from, total) are the tar's end: at least two zero blocks, nothing else. */
async function zeroTail(path: string, from: number, total: number): Promise<boolean> {
  if (total - from < 1024) return false;
  const tail = await readRange(path, from, Math.min(total - from, 1 << 20));
  return tail.every((b) => b === 0);
}

async function readRange(path: string, offset: number, size: number): Promise<Uint8Array> {
  using f = await Deno.open(path);
  return await readAt(f, path, offset, size);
}

async function readAt(f: Deno.FsFile, path: string, offset: number, size: number) {
  await f.seek(offset, Deno.SeekMode.Start);
  const buf = new Uint8Array(size);
  let got = 0;
  while (got < size) {
    const r = await f.read(buf.subarray(got));
    if (r === null) throw new Error(`"${path}" ends at byte ${offset + got}`);
    got += r;
  }
  return buf;
}

/** The faces of every input, and `close()` for the tar handles their reads open. */
export interface PackInputs {
  items: PackItem[];
  /** Closes every tar opened for reading (1000 shard tars would exhaust the open-file limit). */
  close(): Promise<void>;
}

/** The faces of every input (folders and `.tar` files), unsorted. */
export async function inputItems(inputs: string[]): Promise<PackInputs> {
  const all: PackItem[] = [];
  const readers: TarReader[] = [];
  const close = async () => {
    for (const r of readers) await r.close();
  };
  try {
    for (const input of inputs) {
      let info: Deno.FileInfo;
      try {
        info = await Deno.stat(input);
      } catch (e) {
        throw new Error(`Cannot read pack input "${input}": ${(e as Error).message}`);
      }
      // A shard may hold no face (few images, many shards); only an empty whole is refused.
      const items = info.isDirectory ? await folderItems(input) : await tarItems(input, readers);
      for (const it of items) all.push(it);
    }
    if (all.length === 0) {
      throw new Error(`No faces in ${inputs.map((i) => `"${i}"`).join(", ")}`);
    }
  } catch (e) {
    await close();
    throw e;
  }
  return { items: all, close };
}
