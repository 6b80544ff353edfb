/**
 * Where `deno task align` puts its faces: a folder (`<key>.jpg` + `<key>.json` sidecar), a `.tar`
 * file or stdout (WebDataset tar: `<key>.jpg` + `<key>.json`). Folder writes are atomic (temp +
 * rename, sidecar last), so "the sidecar exists" means "finished", which is what resume checks.
 */
import { join } from "node:path";
import type { FaceRecord, ImageRecord } from "../../pipeline/records.ts";
import { writeFileAtomic } from "../../pipeline/atomic_write.ts";
import { type AlignSink, faceMeta } from "./sink.ts";

export type { AlignSink } from "./sink.ts";

/** Writes a file of the output tree, creating its folder (keys may hold `identity/`). */
function writeAtomic(path: string, data: Uint8Array | string): Promise<void> {
  return writeFileAtomic(path, data, { mkdir: true });
}

/** The folder's settings id (tasks/align/folder_config.ts); `adopted`: sidecars without one count. */
export interface FolderConfig {
  id: string;
  adopted: boolean;
}

class FolderSink implements AlignSink {
  private readonly pending = new Set<Promise<void>>();
  constructor(private readonly root: string, private readonly config?: FolderConfig) {}

  /** Done = a sidecar made with the current settings (its `config` id), so no silent mix. */
  async has(key: string): Promise<boolean> {
    let text: string;
    try {
      text = await Deno.readTextFile(join(this.root, `${key}.json`));
    } catch {
      return false;
    }
    if (!this.config) return true;
    let id: unknown;
    try {
      id = JSON.parse(text).config;
    } catch {
      return false; // a damaged sidecar: redo the image
    }
    return id === this.config.id || (id === undefined && this.config.adopted);
  }

  skip(rec: ImageRecord): void {
    const meta = {
      ...faceMeta(rec, "skipped"),
      box: null,
      score: null,
      landmarks: null,
      config: this.config?.id,
    };
    const p = writeAtomic(join(this.root, `${rec.key}.json`), JSON.stringify(meta) + "\n")
      .finally(() => this.pending.delete(p));
    this.pending.add(p);
  }

  async write(face: FaceRecord, jpeg: Uint8Array): Promise<void> {
    await writeAtomic(join(this.root, `${face.key}.jpg`), jpeg);
    const image = `${face.key.split("/").pop()}.jpg`;
    const meta = { ...faceMeta(face), image, config: this.config?.id };
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
export async function openSink(
  output: string,
  _quality: number,
  config?: FolderConfig,
): Promise<AlignSink> {
  if (isTarOutput(output)) {
    const { openTarSink } = await import("./tar_sink.ts");
    return await openTarSink(output);
  }
  await Deno.mkdir(output, { recursive: true });
  return new FolderSink(output, config);
}

/** `-` (stdout) and `*.tar` are tar outputs; anything else is a folder. */
export function isTarOutput(output: string): boolean {
  return output === "-" || output.endsWith(".tar");
}
