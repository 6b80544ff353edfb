/**
 * The WebDataset sample layout of the tar wire format (docs/formats.md, "Wire format between
 * shell stages"): a record is `<key>.jpg|.png` (encoded bytes) or `<key>.rgb` (raw HxWx3 uint8),
 * then `<key>.json` (the rest of the record; `height`/`width` for `.rgb`), consecutive tar entries
 * grouped by key.
 */
import type { AnyRecord, ImageRecord } from "../records.ts";
import { checkRecord, recordMeta } from "./record_json.ts";
import type { TarEntry } from "./tar.ts";

const enc = new TextEncoder();

/** Sniffs an encoded image's extension from its magic bytes. */
export function imageExtension(b: Uint8Array): "jpg" | "png" | "bin" {
  if (b[0] === 0xff && b[1] === 0xd8) return "jpg";
  if (b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47) return "png";
  return "bin";
}

/** One record's WebDataset tar entries: `<key>.rgb|.jpg|.png` (if it has data), `<key>.json`. */
export function recordEntries(r: AnyRecord): TarEntry[] {
  const base = r.key.slice(r.key.lastIndexOf("/") + 1);
  if (base.includes(".") || r.key.startsWith("/") || r.key.split("/").includes("..")) {
    throw new TypeError(
      `Cannot write key "${r.key}" as WebDataset: the name after the last "/" may not ` +
        `contain "." and keys must be relative`,
    );
  }
  const out: TarEntry[] = [];
  const img = r as ImageRecord;
  if (img.pixels) {
    if (img.pixels.length !== img.height * img.width * 3) {
      throw new RangeError(`Record "${r.key}": pixels are not ${img.height}x${img.width}x3`);
    }
    out.push({ name: `${r.key}.rgb`, data: img.pixels });
  } else if (r.bytes) {
    out.push({ name: `${r.key}.${imageExtension(r.bytes)}`, data: r.bytes });
  }
  out.push({ name: `${r.key}.json`, data: enc.encode(JSON.stringify(recordMeta(r))) });
  return out;
}

/**
 * Records -> WebDataset tar entries (`<key>.rgb|.jpg|.png` then `<key>.json`).
 * @example
 * ```ts
 * import { DecodeStream, ListReaderStream, TarEncodeStream, WdsEncodeStream } from "../mod.ts";
 *
 * await new ListReaderStream({ root: "fixtures/pipeline/images" })
 *   .pipeThrough(new DecodeStream())
 *   .pipeThrough(new WdsEncodeStream()) // <key>.rgb, <key>.json
 *   .pipeThrough(new TarEncodeStream())
 *   .pipeTo(Deno.stdout.writable);
 * ```
 */
export class WdsEncodeStream extends TransformStream<AnyRecord, TarEntry> {
  constructor() {
    super({
      transform(r, c) {
        for (const e of recordEntries(r)) c.enqueue(e);
      },
    });
  }
}

/**
 * WebDataset tar entries -> records, grouping consecutive files that share a key.
 * @example
 * ```ts
 * import { TarDecodeStream, WdsDecodeStream } from "../mod.ts";
 *
 * const records = Deno.stdin.readable // a tar as `deno task decode` writes
 *   .pipeThrough(new TarDecodeStream("stdin"))
 *   .pipeThrough(new WdsDecodeStream("stdin"));
 * for await (const r of records) console.log(r.key, r.label);
 * ```
 */
export class WdsDecodeStream extends TransformStream<TarEntry, AnyRecord> {
  constructor(source = "stdin") {
    const dec = new TextDecoder();
    let key: string | null = null;
    let parts: Map<string, Uint8Array> = new Map();
    const emit = (c: TransformStreamDefaultController<AnyRecord>) => {
      if (key === null) return;
      const where = `Cannot read tar sample "${key}" of ${source}`;
      const json = parts.get("json");
      if (!json) throw new SyntaxError(`${where}: no ${key}.json`);
      let meta: unknown;
      try {
        meta = JSON.parse(dec.decode(json));
      } catch (e) {
        throw new SyntaxError(`${where}: ${(e as Error).message}`);
      }
      const r = checkRecord(meta, where) as ImageRecord;
      delete (r as { channels?: number }).channels;
      r.key = key;
      const rgb = parts.get("rgb");
      const bytes = parts.get("jpg") ?? parts.get("jpeg") ?? parts.get("png");
      if (rgb) {
        if (!Number.isInteger(r.height) || !Number.isInteger(r.width)) {
          throw new SyntaxError(`${where}: ${key}.json needs integer "height" and "width"`);
        }
        if (rgb.length !== r.height * r.width * 3) {
          throw new SyntaxError(`${where}: ${rgb.length} bytes is not ${r.height}x${r.width}x3`);
        }
        r.pixels = rgb;
      } else if (bytes) r.bytes = bytes;
      c.enqueue(r);
    };
    super({
      transform(e, c) {
        // WebDataset key rule: everything before the first "." of the file name.
        const slash = e.name.lastIndexOf("/");
        const dot = e.name.indexOf(".", slash + 1);
        const k = dot < 0 ? e.name : e.name.slice(0, dot);
        const ext = dot < 0 ? "" : e.name.slice(dot + 1).toLowerCase();
        if (k !== key) {
          emit(c);
          key = k;
          parts = new Map();
        }
        parts.set(ext, e.data);
      },
      flush(c) {
        emit(c);
      },
    });
  }
}
