/**
 * Server-sent events that follow a run's `log.jsonl` and `heldout.jsonl` while it trains: the
 * files are polled every `pollMs` (appends from another process; `Deno.watchFs` is not reliable on
 * every file system), each new complete line is parsed, and the curves are redrawn with the
 * trainer's own `trainPlotSvg` (model/train/train_plot.ts), so the page shows the same plot as
 * `curves.svg`. A file that shrinks (a resume cuts the log back) or is replaced (a new inode: the
 * cut log is renamed over the old one) is read again from the start.
 */
import { join } from "node:path";
import type { LogEntry } from "../../model/train/train_log.ts";
import { type HeldoutEntry, trainPlotSvg } from "../../model/train/train_plot.ts";

/** Reads the complete lines appended to a file since the last call. */
class LineTail<T> {
  entries: T[] = [];
  #offset = 0;
  #rest = "";
  #ino: number | null = null;
  constructor(readonly path: string) {}

  /** Reads what was appended; true when entries changed. */
  async poll(): Promise<boolean> {
    let size: number, ino: number | null;
    try {
      ({ size, ino } = await Deno.stat(this.path));
    } catch {
      return false;
    }
    const replaced = ino !== null && this.#ino !== null && ino !== this.#ino;
    this.#ino = ino;
    if (replaced || size < this.#offset) [this.entries, this.#offset, this.#rest] = [[], 0, ""];
    if (replaced && size === 0) return true; // replaced by an empty log: the curves are cleared
    if (size === this.#offset) return false;
    const f = await Deno.open(this.path);
    let text: string;
    try {
      await f.seek(this.#offset, Deno.SeekMode.Start);
      const buf = new Uint8Array(size - this.#offset);
      let n = 0;
      while (n < buf.length) {
        const r = await f.read(buf.subarray(n));
        if (r === null) break;
        n += r;
      }
      this.#offset += n;
      text = this.#rest + new TextDecoder().decode(buf.subarray(0, n));
    } finally {
      f.close();
    }
    const lines = text.split("\n");
    this.#rest = lines.pop() ?? ""; // an unterminated line is being written: wait for its end
    let changed = false;
    for (const line of lines) {
      if (!line.trim()) continue;
      try {
        this.entries.push(JSON.parse(line));
        changed = true;
      } catch {
        // A torn line (the writer died mid-line) is left out, as train_plot.ts does.
      }
    }
    return changed;
  }
}

/** Options of `followRunLog`. */
export interface FollowOptions {
  /** How often the files are looked at, ms. @default {250} */
  pollMs?: number;
  /** The plot's title. @default the folder's name */
  title?: string;
  /** Ends the stream (the server is stopping: open event streams would hold its shutdown). */
  signal?: AbortSignal;
}

/**
 * An SSE response body for the run folder `dir`: `event: curves` (data: the SVG as a JSON string,
 * sent at once and after each change) and `event: step` (data: `{step, entries}`).
 */
export function followRunLog(dir: string, options: FollowOptions = {}): ReadableStream<Uint8Array> {
  const pollMs = options.pollMs ?? 250;
  const log = new LineTail<LogEntry>(join(dir, "log.jsonl"));
  const held = new LineTail<HeldoutEntry>(join(dir, "heldout.jsonl"));
  const enc = new TextEncoder();
  let timer: ReturnType<typeof setInterval> | undefined;
  let busy = false;
  let onAbort: (() => void) | undefined;
  return new ReadableStream({
    start(controller) {
      const send = (event: string, data: unknown) => {
        try {
          controller.enqueue(enc.encode(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`));
        } catch {
          clearInterval(timer); // the page went away
        }
      };
      const tick = async (first: boolean) => {
        if (busy) return;
        busy = true;
        try {
          const a = await log.poll(), b = await held.poll();
          if (!(first || a || b)) return;
          const last = log.entries[log.entries.length - 1];
          send("curves", trainPlotSvg(log.entries, held.entries, options.title));
          send("step", { step: last?.step ?? 0, entries: log.entries.length });
        } catch (e) {
          send("problem", { message: (e as Error).message });
        } finally {
          busy = false;
        }
      };
      timer = setInterval(() => tick(false), pollMs);
      onAbort = () => {
        clearInterval(timer);
        try {
          controller.close();
        } catch {
          // closed already
        }
      };
      options.signal?.addEventListener("abort", onAbort, { once: true });
      return tick(true);
    },
    cancel() {
      clearInterval(timer);
      // The signal is the server's, alive for every connection: a listener left on it would keep
      // this closed stream (and its tails' entries) in memory until the server stops.
      if (onAbort) options.signal?.removeEventListener("abort", onAbort);
    },
  });
}
