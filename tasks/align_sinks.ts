/**
 * Where `deno task align` puts its faces: a folder (`<key>.jpg` + `<key>.json` sidecar), a `.tar`
 * file or stdout (WebDataset tar: `<key>.jpg` + `<key>.json`). Folder writes are atomic (temp +
 * rename, sidecar last), so "the sidecar exists" means "finished", which is what resume checks.
 */
import { join } from "node:path";
import type { FaceRecord, ImageRecord } from "../pipeline/records.ts";
import { writeFileAtomic } from "../pipeline/atomic_write.ts";
import { type AlignSink, faceMeta } from "./align_sink.ts";

export type { AlignSink } from "./align_sink.ts";

/** Writes a file of the output tree, creating its folder (keys may hold `identity/`). */
function writeAtomic(path: string, data: Uint8Array | string): Promise<void> {
  return writeFileAtomic(path, data, { mkdir: true });
}

class FolderSink implements AlignSink {
  private readonly pending = new Set<Promise<void>>();
  constructor(private readonly root: string) {}

  async has(key: string): Promise<boolean> {
    try {
      await Deno.stat(join(this.root, `${key}.json`));
      return true;
    } catch {
      return false;
    }
  }

  skip(rec: ImageRecord): void {
    const meta = { ...faceMeta(rec, "skipped"), box: null, score: null, landmarks: null };
    const p = writeAtomic(join(this.root, `${rec.key}.json`), JSON.stringify(meta) + "\n")
      .finally(() => this.pending.delete(p));
    this.pending.add(p);
  }

  async write(face: FaceRecord, jpeg: Uint8Array): Promise<void> {
    await writeAtomic(join(this.root, `${face.key}.jpg`), jpeg);
    const meta = { ...faceMeta(face), image: `${face.key.split("/").pop()}.jpg` };
    await writeAtomic(join(this.root, `${face.key}.json`), JSON.stringify(meta) + "\n");
  }

  async close(summary: object, suffix: string): Promise<void> {
    await Promise.all(this.pending);
    await writeAtomic(
      join(this.root, `align_report${suffix}.json`),
      JSON.stringify(summary, null, 1) + "\n",
    );
  }
}

/** Opens the sink for an output argument: folder, `.tar` or `-`. */
export async function openSink(output: string, _quality: number): Promise<AlignSink> {
  if (output === "-" || output.endsWith(".tar")) {
    const { openTarSink } = await import("./align_tar_sink.ts");
    return await openTarSink(output);
  }
  await Deno.mkdir(output, { recursive: true });
  return new FolderSink(output);
}
