/**
 * A resumable embedding cache for long evaluations (`eval-lfw --cache FILE`): NDJSON, a first line
 * with the settings that produced the embeddings, then one `{ key, e }` line per image (`e`:
 * base64 of little-endian float32). A rerun with the same settings embeds only what is missing;
 * a line torn by a crash at the end is ignored.
 */

/** Embeddings already computed, and an appender for new ones (one process per cache file). */
export class EmbeddingCache {
  readonly path: string;
  readonly done = new Map<string, Float32Array>();
  #file: Deno.FsFile | null = null;
  #pending: string[] = [];

  private constructor(path: string) {
    this.path = path;
  }

  /** Opens (or creates) the cache; throws if it was made with different `settings`. */
  static async open(path: string, settings: Record<string, unknown>): Promise<EmbeddingCache> {
    const c = new EmbeddingCache(path);
    const head = JSON.stringify({ arcstreamEmbeddingCache: 1, settings });
    let text = "";
    try {
      text = await Deno.readTextFile(path);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) {
        throw new Error(`Cannot read cache "${path}": ${(e as Error).message}`);
      }
    }
    const lines = text.split("\n");
    if (text !== "" && lines[0] !== head) {
      throw new Error(
        `Cache "${path}" was made with other settings (${
          lines[0].slice(0, 200)
        }); use another file`,
      );
    }
    for (let i = 1; i < lines.length; i++) {
      if (lines[i] === "") continue;
      try {
        const { key, e } = JSON.parse(lines[i]);
        const bytes = Uint8Array.from(atob(e), (ch) => ch.charCodeAt(0));
        c.done.set(key, new Float32Array(bytes.buffer));
      } catch {
        if (i < lines.length - 2) {
          throw new SyntaxError(`Cannot read cache "${path}" line ${i + 1}`);
        }
      }
    }
    // Rewrite when the file is new or ends in a torn line, so appends start on a clean line.
    if (text === "" || !text.endsWith("\n")) {
      const body = [...c.done].map(([k, v]) => line(k, v)).join("");
      await Deno.writeTextFile(path, head + "\n" + body);
    }
    c.#file = await Deno.open(path, { append: true });
    return c;
  }

  /** Queues one embedding; written by `flush()`. */
  add(key: string, embedding: Float32Array): void {
    this.done.set(key, embedding);
    this.#pending.push(line(key, embedding));
  }

  /** Appends the queued lines. */
  async flush(): Promise<void> {
    if (!this.#file || this.#pending.length === 0) return;
    const bytes = new TextEncoder().encode(this.#pending.join(""));
    this.#pending = [];
    for (let off = 0; off < bytes.length;) off += await this.#file.write(bytes.subarray(off));
  }

  async close(): Promise<void> {
    await this.flush();
    this.#file?.close();
    this.#file = null;
  }
}

function line(key: string, v: Float32Array): string {
  const b = new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  let s = "";
  for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i]);
  return JSON.stringify({ key, e: btoa(s) }) + "\n";
}
