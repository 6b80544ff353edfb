/**
 * Streaming tar (POSIX ustar) writer and reader, enough for WebDataset shards: regular files only,
 * long names via the ustar prefix field or a pax `path` record; reads GNU `L` long names too.
 *
 * Kept hand-written rather than `@std/tar` (TarStream / UntarStream): on 2,000 decoded 112x112
 * faces (`deno task bench wire`, 2-core machine under load, three runs) it encodes 6-18x and
 * decodes 4-8x faster, because `@std/tar` hands every entry over as a ReadableStream of its own
 * (which a reader must drain before the next header) where WebDataset samples are small and
 * whole. TarStream also reads through a byte stream that detaches the buffers it is given (a
 * record's pixels).
 */

export interface TarEntry {
  name: string;
  data: Uint8Array;
}

const BLOCK = 512;

/**
 * The member a failed writer appends instead of the end-of-archive marker (docs/reliability.md):
 * `{"error": "...", "stage": "..."}`. GNU tar and Python's tarfile accept an archive that simply
 * stops, so the failure is also written as a member that `tar tvf`, `tarfile` and a WebDataset
 * reader show (a sample with key `__error__` and no image).
 */
export const ERROR_MEMBER = "__error__.json";

/** The bytes of the error member (header + JSON + padding); no end-of-archive marker follows. */
export function encodeErrorMember(stage: string, error: unknown): Uint8Array {
  const message = error instanceof Error ? error.message : String(error);
  const data = enc.encode(JSON.stringify({ error: message, stage }) + "\n");
  const parts = encodeTarEntry({ name: ERROR_MEMBER, data });
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) out.set(p, o), o += p.length;
  return out;
}
const enc = new TextEncoder();
const dec = new TextDecoder();

function putString(h: Uint8Array, off: number, len: number, s: string): void {
  const b = enc.encode(s);
  if (b.length > len) throw new RangeError(`tar field too long: "${s}"`);
  h.set(b, off);
}

function putOctal(h: Uint8Array, off: number, len: number, v: number): void {
  putString(h, off, len, v.toString(8).padStart(len - 1, "0") + "\0");
}

function header(name: string, size: number, type: string, prefix = ""): Uint8Array {
  const h = new Uint8Array(BLOCK);
  putString(h, 0, 100, name);
  putOctal(h, 100, 8, 0o644);
  putOctal(h, 108, 8, 0);
  putOctal(h, 116, 8, 0);
  putOctal(h, 124, 12, size);
  putOctal(h, 136, 12, 0); // mtime 0: byte-identical output for identical input
  h.fill(0x20, 148, 156); // checksum is computed with its own field as spaces
  putString(h, 156, 1, type);
  putString(h, 257, 6, "ustar\0");
  putString(h, 263, 2, "00");
  putString(h, 345, 155, prefix);
  let sum = 0;
  for (const b of h) sum += b;
  putString(h, 148, 8, sum.toString(8).padStart(6, "0") + "\0 ");
  return h;
}

function padding(size: number): Uint8Array {
  return new Uint8Array((BLOCK - (size % BLOCK)) % BLOCK);
}

/** Encodes one entry as header block(s) + data + padding. */
export function encodeTarEntry(entry: TarEntry): Uint8Array[] {
  const nameBytes = enc.encode(entry.name).length;
  const out: Uint8Array[] = [];
  let name = entry.name;
  let prefix = "";
  if (nameBytes > 100) {
    const cut = entry.name.lastIndexOf("/", 155);
    const rest = cut > 0 ? entry.name.slice(cut + 1) : "";
    if (
      cut > 0 && enc.encode(rest).length <= 100 &&
      enc.encode(entry.name.slice(0, cut)).length <= 155
    ) {
      prefix = entry.name.slice(0, cut);
      name = rest;
    } else {
      // pax extended header: "<len> path=<name>\n", where <len> counts itself.
      const body = ` path=${entry.name}\n`;
      let len = enc.encode(body).length;
      len += String(len + String(len).length).length;
      const rec = enc.encode(`${len}${body}`);
      out.push(header("PaxHeader", rec.length, "x"), rec, padding(rec.length));
      name = entry.name.slice(-100).replace(/^[^/]*\//, "") || "long";
    }
  }
  out.push(header(name, entry.data.length, "0", prefix), entry.data, padding(entry.data.length));
  return out;
}

/**
 * TarEntry -> tar bytes (ends with the two zero blocks).
 * @example
 * ```ts
 * import { TarEncodeStream } from "../mod.ts";
 *
 * const entries = ReadableStream.from([{ name: "a.txt", data: new TextEncoder().encode("hi\n") }]);
 * await entries.pipeThrough(new TarEncodeStream()).pipeTo(Deno.stdout.writable);
 * ```
 */
export class TarEncodeStream extends TransformStream<TarEntry, Uint8Array> {
  constructor() {
    super({
      transform(entry, c) {
        for (const part of encodeTarEntry(entry)) if (part.length) c.enqueue(part);
      },
      flush(c) {
        c.enqueue(new Uint8Array(2 * BLOCK));
      },
    });
  }
}

/** Byte queue that hands out exact-length pieces across chunk boundaries. */
export class ByteQueue {
  #chunks: Uint8Array[] = [];
  #head = 0;
  length = 0;

  push(b: Uint8Array): void {
    if (b.length) {
      this.#chunks.push(b);
      this.length += b.length;
    }
  }

  /** Removes and returns the first n bytes (n <= length). */
  take(n: number): Uint8Array {
    const first = this.#chunks[0];
    if (first && first.length - this.#head >= n) {
      const out = first.subarray(this.#head, this.#head + n);
      this.#head += n;
      if (this.#head === first.length) {
        this.#chunks.shift();
        this.#head = 0;
      }
      this.length -= n;
      return out;
    }
    const out = new Uint8Array(n);
    let o = 0;
    while (o < n) {
      const c = this.#chunks[0];
      const k = Math.min(n - o, c.length - this.#head);
      out.set(c.subarray(this.#head, this.#head + k), o);
      o += k;
      this.#head += k;
      if (this.#head === c.length) {
        this.#chunks.shift();
        this.#head = 0;
      }
    }
    this.length -= n;
    return out;
  }
}

function errorOf(data: Uint8Array): string {
  try {
    const e = JSON.parse(dec.decode(data)).error;
    if (typeof e === "string") return e;
  } catch { /* not JSON: show the text */ }
  return JSON.stringify(dec.decode(data.subarray(0, 200)));
}

function cstr(b: Uint8Array): string {
  const z = b.indexOf(0);
  return dec.decode(z < 0 ? b : b.subarray(0, z));
}

/**
 * Tar bytes -> TarEntry (regular files; directories and other types are skipped).
 * @example
 * ```ts
 * import { TarDecodeStream } from "../mod.ts";
 *
 * const file = await Deno.open("fixtures/gnu_tar/gnu.tar");
 * for await (const entry of file.readable.pipeThrough(new TarDecodeStream("gnu.tar"))) {
 *   console.log(entry.name, entry.data.length);
 * }
 * ```
 */
export class TarDecodeStream extends TransformStream<Uint8Array, TarEntry> {
  constructor(source = "input") {
    const q = new ByteQueue();
    let offset = 0;
    let pending: { name: string; size: number; type: string } | null = null;
    let longName: string | null = null;
    let ended = false;
    const step = (c: TransformStreamDefaultController<TarEntry>) => {
      for (;;) {
        if (ended) {
          if (q.length) q.take(q.length);
          return;
        }
        if (!pending) {
          if (q.length < BLOCK) return;
          const h = q.take(BLOCK);
          const at = offset;
          offset += BLOCK;
          if (h.every((b) => b === 0)) {
            ended = true; // end-of-archive marker
            continue;
          }
          let sum = 0;
          for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i];
          const stored = parseInt(cstr(h.subarray(148, 156)).trim(), 8);
          if (stored !== sum) {
            throw new SyntaxError(`Bad tar header checksum at byte ${at} of ${source}`);
          }
          const prefix = cstr(h.subarray(345, 500));
          const base = cstr(h.subarray(0, 100));
          const sizeField = cstr(h.subarray(124, 136)).trim();
          const size = parseInt(sizeField || "0", 8);
          if (!Number.isFinite(size)) {
            throw new SyntaxError(`Bad tar size at byte ${at} of ${source}`);
          }
          pending = {
            name: longName ?? (prefix ? `${prefix}/${base}` : base),
            size,
            type: String.fromCharCode(h[156] || 0x30),
          };
          longName = null;
        }
        const padded = pending.size + padding(pending.size).length;
        if (q.length < padded) return;
        const data = q.take(pending.size);
        q.take(padded - pending.size);
        offset += padded;
        const { name, type } = pending;
        pending = null;
        if (type === "x") {
          const m = /(?:^|\n)\d+ path=([^\n]*)\n/.exec(dec.decode(data));
          if (m) longName = m[1];
        } else if (type === "L") longName = cstr(data);
        else if (name === ERROR_MEMBER || name.endsWith(`/${ERROR_MEMBER}`)) {
          throw new Error(`The stage that wrote ${source} failed: ${errorOf(data)}`);
        } else if (type === "0" || type === "7") c.enqueue({ name, data: data.slice() });
      }
    };
    super({
      transform(chunk, c) {
        q.push(chunk);
        step(c);
      },
      flush() {
        if (pending || q.length) {
          throw new SyntaxError(`Truncated tar stream at byte ${offset} of ${source}`);
        }
        // A writer that failed stops before the two zero blocks: treat their absence as a failure,
        // so `a | b` fails in b even when a's error member was lost.
        if (!ended && offset > 0) {
          throw new SyntaxError(
            `Truncated tar stream: ${source} ends at byte ${offset} without the end-of-archive ` +
              `marker (the stage writing it failed or was cut off)`,
          );
        }
      },
    });
  }
}
