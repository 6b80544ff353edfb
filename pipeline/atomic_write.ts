/**
 * Atomic file writes: data goes to a temp file beside the target, then a rename (atomic within a
 * folder on POSIX), so a reader (or a resumed run checking "does the file exist?") never sees a
 * half-written file, even if the process is killed mid-write.
 */
import { dirname } from "node:path";

export interface WriteAtomicOptions {
  /** Create the target's folder (and its parents) first. Default: false. */
  mkdir?: boolean;
}

let counter = 0;

/** A temp path beside `path`, unique per process and call (concurrent writers do not collide). */
function tempPathFor(path: string): string {
  return `${path}.tmp-${Deno.pid}-${counter++}`;
}

/**
 * Writes `data` (bytes or UTF-8 text) to `path` via a temp file in the same folder and a rename.
 * @example
 * ```ts
 * import { writeFileAtomic } from "./mod.ts";
 *
 * const out = `${await Deno.makeTempDir()}/run.json`;
 * await writeFileAtomic(out, JSON.stringify({ step: 10 }) + "\n"); // old or new, never half
 * ```
 */
export async function writeFileAtomic(
  path: string,
  data: Uint8Array | string,
  options: WriteAtomicOptions = {},
): Promise<void> {
  if (typeof path !== "string" || path === "") {
    throw new TypeError(`writeFileAtomic needs a file path, got ${JSON.stringify(path)}`);
  }
  if (options.mkdir) await Deno.mkdir(dirname(path), { recursive: true });
  const tmp = tempPathFor(path);
  try {
    if (typeof data === "string") await Deno.writeTextFile(tmp, data);
    else await Deno.writeFile(tmp, data);
    await Deno.rename(tmp, path);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw new Error(`Cannot write "${path}": ${(e as Error).message}`);
  }
}

/**
 * Streams `chunks` (bytes, or text written as UTF-8) to `path` via a temp file in the same folder
 * and a rename: for outputs too large to build in memory (MS1M's 5.8 M index lines). The temp
 * file is removed when a chunk or the write fails.
 * @example
 * ```ts
 * import { writeStreamAtomic } from "./atomic_write.ts";
 *
 * const out = `${await Deno.makeTempDir()}/index.tsv`;
 * await writeStreamAtomic(out, ["1\ta\n", "2\tb\n"]);
 * ```
 */
export async function writeStreamAtomic(
  path: string,
  chunks: AsyncIterable<Uint8Array> | Iterable<string>,
  options: WriteAtomicOptions = {},
): Promise<void> {
  if (typeof path !== "string" || path === "") {
    throw new TypeError(`writeStreamAtomic needs a file path, got ${JSON.stringify(path)}`);
  }
  if (options.mkdir) await Deno.mkdir(dirname(path), { recursive: true });
  const tmp = tempPathFor(path);
  try {
    const file = await Deno.open(tmp, { write: true, createNew: true });
    // pipeTo closes the file on success and aborts (closes) it on failure.
    await ReadableStream.from(asBytes(chunks)).pipeTo(file.writable);
    await Deno.rename(tmp, path);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw new Error(`Cannot write "${path}": ${(e as Error).message}`);
  }
}

async function* asBytes(
  chunks: AsyncIterable<Uint8Array> | Iterable<string>,
): AsyncGenerator<Uint8Array> {
  const encoder = new TextEncoder();
  for await (const c of chunks) yield typeof c === "string" ? encoder.encode(c) : c;
}
