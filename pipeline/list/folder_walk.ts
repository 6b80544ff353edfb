/**
 * The one folder walker: image files under a root, sorted the same way on every machine (path
 * segment by segment, so `A/x.jpg` precedes `A-b/y.jpg` as the folder `A` precedes `A-b`),
 * following symbolic links (a folder of links can select part of a data set). The image-folder
 * list reader (`root/<identity>/<image>`) and the aligner's folder input both use it.
 */
import { join } from "node:path";

/** Image file extensions read from folders (case-insensitive): what `decodeImage` can decode. */
export const IMAGE_EXTENSIONS: readonly string[] = [
  ".jpg",
  ".jpeg",
  ".png",
  ".webp",
  ".tif",
  ".tiff",
];

/** True when `name` ends in one of `IMAGE_EXTENSIONS`. */
export function isImageFile(name: string): boolean {
  const lower = name.toLowerCase();
  return IMAGE_EXTENSIONS.some((x) => lower.endsWith(x));
}

export interface WalkOptions {
  /** Descend at most this many folder levels (1: files directly in root). Default: unlimited. */
  maxDepth?: number;
}

const bySegments = (a: string[], b: string[]) => {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1;
  }
  return a.length - b.length;
};

/** Image files under `root` as path segments relative to it (`["Name", "Name_0001.jpg"]`), sorted. */
export async function walkImages(root: string, options: WalkOptions = {}): Promise<string[][]> {
  const maxDepth = options.maxDepth ?? Infinity;
  const out: string[][] = [];
  const walk = async (dir: string, rel: string[]) => {
    const entries: Deno.DirEntry[] = [];
    for await (const e of Deno.readDir(dir)) entries.push(e);
    for (const e of entries) {
      const p = join(dir, e.name);
      const kind = e.isSymlink ? await Deno.stat(p) : e;
      if (kind.isDirectory && rel.length + 1 < maxDepth) await walk(p, [...rel, e.name]);
      else if (kind.isFile && isImageFile(e.name)) out.push([...rel, e.name]);
    }
  };
  try {
    await walk(root, []);
  } catch (e) {
    throw new Error(`Cannot read image folder "${root}": ${(e as Error).message}`);
  }
  return out.sort(bySegments);
}
