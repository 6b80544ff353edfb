/**
 * A pool of Deno Workers, each with its own sharp, so decoding uses every core: the main thread
 * only posts paths (or bytes) and receives transferred pixel buffers.
 */
import {
  type DecodedImage,
  DecodeError,
  decodeImage,
  type DecodeImageOptions,
} from "./decode_image.ts";
import { trainImage, type TrainImageOptions } from "./train_image.ts";

/** Anything that decodes one image; `decodeImage` itself is one. */
export type Decoder = (
  input: string | Uint8Array,
  options?: DecodeImageOptions,
) => Promise<DecodedImage>;

/**
 * Decode workers when none are asked for: 2, measured on the 2-core development machine (more
 * workers than cores only add context switches; `deno task bench pipeline --workers N`).
 */
export const DEFAULT_DECODE_WORKERS = 2;

export interface DecodePoolOptions {
  /**
   * Number of workers; 0 decodes in this thread.
   * @default {DEFAULT_DECODE_WORKERS} (2)
   */
  workers?: number;
}

interface Pending {
  // deno-lint-ignore no-explicit-any
  resolve: (msg: any) => void;
  reject: (e: Error) => void;
  worker: number;
}

/** Worker pool with least-loaded dispatch. Call `close()` when done (workers keep a process alive). */
export class DecodePool {
  readonly workers: number;
  #ws: Worker[] = [];
  #load: number[] = [];
  #pending = new Map<number, Pending>();
  #next = 0;
  #closed = false;

  constructor(options: DecodePoolOptions = {}) {
    const n = options.workers ?? DEFAULT_DECODE_WORKERS;
    if (!Number.isInteger(n) || n < 0 || n > 64) {
      throw new RangeError(`workers must be an integer in [0, 64], got ${n}`);
    }
    this.workers = n;
  }

  #start(): void {
    if (this.#ws.length > 0 || this.workers === 0) return;
    for (let i = 0; i < this.workers; i++) {
      const w = new Worker(new URL("./decode_worker.ts", import.meta.url), { type: "module" });
      w.onmessage = (e) => this.#done(e.data);
      w.onerror = (e) => {
        e.preventDefault();
        this.#failWorker(i, new Error(`decode worker ${i} crashed: ${e.message}`));
      };
      this.#ws.push(w);
      this.#load.push(0);
    }
  }

  #done(msg: {
    id: number;
    data?: Uint8Array | Float32Array;
    height?: number;
    width?: number;
    error?: string;
    source?: string;
    decodeError?: boolean;
  }): void {
    const p = this.#pending.get(msg.id);
    if (!p) return;
    this.#pending.delete(msg.id);
    this.#load[p.worker]--;
    if (msg.error !== undefined && !msg.decodeError) {
      p.reject(new Error(`decode worker failed on "${msg.source ?? "?"}": ${msg.error}`));
    } else if (msg.error !== undefined) {
      const err = new DecodeError(msg.source ?? "?", "");
      err.message = msg.error;
      p.reject(err);
    } else p.resolve(msg);
  }

  #failWorker(i: number, err: Error): void {
    for (const [id, p] of this.#pending) {
      if (p.worker === i) {
        this.#pending.delete(id);
        p.reject(err);
      }
    }
  }

  #post<T>(kind: "image" | "train", input: string | Uint8Array, options: object): Promise<T> {
    // After close(), never respawn workers (a late job would keep the process alive).
    if (this.#closed) return Promise.reject(new Error("DecodePool is closed"));
    this.#start();
    let w = 0;
    for (let i = 1; i < this.#ws.length; i++) if (this.#load[i] < this.#load[w]) w = i;
    const id = this.#next++;
    this.#load[w]++;
    // Bytes travel as a copy of just this image, transferred: posting a view (e.g. one JPEG of
    // a 55 MB .bin read into one buffer) would structured-clone its whole underlying buffer.
    const own = typeof input === "string" ? input : input.slice();
    const transfer = typeof own === "string" ? [] : [own.buffer as ArrayBuffer];
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject, worker: w });
      this.#ws[w].postMessage({ id, kind, input: own, options }, transfer);
    });
  }

  /** Decodes in the least-loaded worker (or in this thread when `workers` is 0). */
  decode: Decoder = async (input, options = {}) => {
    if (this.workers === 0) return decodeImage(input, options);
    const m = await this.#post<{ data: Uint8Array; height: number; width: number }>(
      "image",
      input,
      options,
    );
    return { pixels: m.data, height: m.height, width: m.width };
  };

  /**
   * A training image (`trainImage`: resized, flipped, normalized float32) from a worker. With
   * `options.out` on a SharedArrayBuffer the worker writes it there; another `out` gets a copy.
   */
  async trainImage(input: string | Uint8Array, options: TrainImageOptions): Promise<Float32Array> {
    const { out, offset = 0 } = options;
    if (this.workers === 0) return trainImage(input, options);
    if (out && out.buffer instanceof SharedArrayBuffer) {
      await this.#post("train", input, options);
      return out;
    }
    const job = { ...options, out: undefined, offset: undefined };
    const data = (await this.#post<{ data: Float32Array }>("train", input, job)).data;
    if (!out) return data;
    out.set(data, offset);
    return out;
  }

  /** Terminates the workers; pending decodes reject. */
  close(): void {
    this.#closed = true;
    for (const w of this.#ws) w.terminate();
    for (const p of this.#pending.values()) p.reject(new Error("DecodePool closed"));
    this.#pending.clear();
    this.#ws = [];
    this.#load = [];
  }
}
