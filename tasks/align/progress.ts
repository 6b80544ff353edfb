/**
 * The progress bar of `deno task align` on a terminal's stderr: done/total, faces/s, images without
 * a face, elapsed time and ETA, redrawn in place four times a second by `@std/cli` ProgressBar.
 * Nothing is drawn when stderr is not a terminal (a log file gets the summary at the end only).
 */
import { ProgressBar, type ProgressBarFormatter } from "@std/cli/unstable-progress-bar";

export interface ProgressOptions {
  /** Draw nothing. @default false */
  quiet?: boolean;
  /** Whether to draw: stderr is a terminal. @default Deno.stderr.isTerminal() */
  tty?: boolean;
  /** Where the bar goes. @default Deno.stderr.writable */
  writable?: WritableStream<Uint8Array>;
}

/** Redraw period on a terminal, ms. */
const REDRAW_MS = 250;

export class Progress {
  readonly #total?: number;
  readonly #bar?: ProgressBar;
  #n = 0;
  #faces = 0;

  /** `total` is unknown (undefined) for records streamed on stdin: no bar, counts only. */
  constructor(total: number | undefined, options: ProgressOptions = {}) {
    this.#total = total;
    if (options.quiet || !(options.tty ?? Deno.stderr.isTerminal())) return;
    this.#bar = new ProgressBar({
      max: total ?? Infinity,
      barLength: 30,
      interval: REDRAW_MS,
      writable: options.writable,
      formatter: (f) => this.#format(f),
    });
  }

  /** One image done; `face` when a face was detected in it. */
  tick(face: boolean): void {
    this.#n++;
    if (face) this.#faces++;
    if (this.#bar) this.#bar.value = this.#n;
  }

  /** Draws the last state and ends the line (the bar's timer stops). */
  async done(): Promise<void> {
    await this.#bar?.stop();
  }

  #format(f: ProgressBarFormatter): string {
    const s = f.time / 1000;
    const rate = this.#n / Math.max(s, 1e-9);
    let text = `${this.#n}`;
    if (this.#total) {
      const frac = Math.min(1, this.#n / this.#total);
      const eta = (this.#total - this.#n) / Math.max(rate, 1e-9);
      text = `[${f.progressBar}] ${this.#n}/${this.#total} ${(frac * 100).toFixed(1)}% ` +
        `ETA ${clock(eta)}`;
    }
    return `${text} ${(this.#faces / Math.max(s, 1e-9)).toFixed(1)} faces/s, ${
      this.#n - this.#faces
    } without a face, ${clock(s)} elapsed`;
  }
}

/** `m:ss` or `h:mm:ss`. */
export function clock(seconds: number): string {
  const t = Math.round(seconds);
  const h = Math.floor(t / 3600), m = Math.floor((t % 3600) / 60), s = t % 60;
  return `${h > 0 ? `${h}:` : ""}${String(m).padStart(h > 0 ? 2 : 1, "0")}:${
    String(s).padStart(2, "0")
  }`;
}
