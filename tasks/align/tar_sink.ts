/**
 * WebDataset tar output of `deno task align`: `<key>.jpg` then `<key>.json` per face (ustar).
 *
 * A `.tar` file is written as `<out>.part` and renamed when complete. A rerun after an
 * interruption reads the `.part`, keeps every sample whose `.json` (written last) is complete,
 * truncates the rest and appends; a rerun on a finished `.tar` has nothing left to do. Images
 * skipped for having no face are listed in the report (`<out>.report.json`), not in the tar.
 * `-` streams the tar to stdout (no resume).
 */
import type { FaceRecord, ImageRecord } from "../../pipeline/records.ts";
import { encodeErrorMember, encodeTarEntry } from "../../pipeline/formats/tar.ts";
import { type AlignSink, faceMeta } from "./sink.ts";
import { writeFileAtomic } from "../../pipeline/atomic_write.ts";
import { scanTar } from "../../pipeline/formats/tar_scan.ts";
import { exists } from "../../pipeline/path_exists.ts";

const enc = new TextEncoder();

class TarSink implements AlignSink {
  private readonly done = new Set<string>();
  private readonly skipped: string[] = [];
  constructor(
    private readonly out: WritableStreamDefaultWriter<Uint8Array>,
    private readonly file: Deno.FsFile | null,
    private readonly path: string,
    done: Iterable<string>,
  ) {
    for (const k of done) this.done.add(k);
  }

  has(key: string): Promise<boolean> {
    return Promise.resolve(this.done.has(key));
  }

  skip(rec: ImageRecord): void {
    this.skipped.push(rec.key);
  }

  async write(face: FaceRecord, jpeg: Uint8Array): Promise<void> {
    const meta = enc.encode(JSON.stringify(faceMeta(face)));
    for (const [ext, data] of [["jpg", jpeg], ["json", meta]] as const) {
      for (const part of encodeTarEntry({ name: `${face.key}.${ext}`, data })) {
        if (part.length) await this.out.write(part);
      }
    }
  }

  async fail(error: unknown): Promise<void> {
    // stdout only: a .part file stays resumable, and the next run truncates to whole samples.
    if (this.file) return;
    await this.out.write(encodeErrorMember("align", error)).catch(() => {});
  }

  async close(summary: object): Promise<void> {
    await this.out.write(new Uint8Array(1024)); // end-of-archive marker
    await this.out.close();
    if (this.file) {
      await Deno.rename(`${this.path}.part`, this.path);
      await writeFileAtomic(`${this.path}.report.json`, JSON.stringify(summary, null, 1) + "\n");
    }
  }
}

/** Opens `-` (stdout) or a `.tar` path, resuming a `.part` left by an interrupted run. */
export async function openTarSink(output: string): Promise<AlignSink> {
  if (output === "-") return new TarSink(Deno.stdout.writable.getWriter(), null, "-", []);
  const part = `${output}.part`;
  // A finished archive reopens as a .part (minus its end marker) to append anything new.
  if (await exists(output)) await Deno.rename(output, part);
  let done: string[] = [];
  if (await exists(part)) {
    const k = keysOf(await scanTar(part));
    done = k.keys;
    await Deno.truncate(part, k.end);
  }
  const file = await Deno.open(part, { create: true, append: true });
  return new TarSink(file.writable.getWriter(), file, output, done);
}

/** Keys with a complete `.json` (written after the `.jpg`), and where the last one ends. */
function keysOf(entries: { name: string; end: number }[]): { keys: string[]; end: number } {
  const keys: string[] = [];
  let end = 0;
  for (const e of entries) {
    if (e.name.endsWith(".json")) keys.push(e.name.slice(0, -5)), end = e.end;
  }
  return { keys, end };
}
