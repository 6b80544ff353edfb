/**
 * Training log: the seed's fields (epoch, step, total loss, inference loss, weight-decay loss,
 * training accuracy, images/s) as text (`log.txt`) and JSON lines (`log.jsonl`) in the run folder,
 * echoed to a sink (stdout by default), plus a one-line progress bar on a terminal's stderr.
 */
import { join } from "node:path";

/** One log entry (a JSON line of `log.jsonl`). */
export interface LogEntry {
  time: string;
  epoch: number;
  step: number;
  totalLoss: number;
  inferenceLoss: number;
  weightDecayLoss: number;
  accuracy: number;
  lr: number;
  imagesPerSec: number;
}

export interface TrainLogOptions {
  /** Where text lines go besides log.txt. Default: console.log. */
  print?: (line: string) => void;
  /** Show a progress bar on stderr. Default: stderr is a terminal. */
  progress?: boolean;
}

export class TrainLog {
  readonly dir: string;
  #print: (line: string) => void;
  #progress: boolean;
  #enc = new TextEncoder();

  constructor(dir: string, options: TrainLogOptions = {}) {
    this.dir = dir;
    this.#print = options.print ?? ((l) => console.log(l));
    this.#progress = options.progress ?? Deno.stderr.isTerminal();
  }

  /** Formats an entry the way the seed printed it. */
  static format(e: LogEntry): string {
    return `epoch ${e.epoch}, step ${e.step}, total loss ${e.totalLoss.toFixed(4)}, ` +
      `inference loss ${e.inferenceLoss.toFixed(4)}, weight decay loss ${
        e.weightDecayLoss.toFixed(4)
      }, training accuracy ${e.accuracy.toFixed(4)}, lr ${e.lr.toExponential(3)}, ${
        e.imagesPerSec.toFixed(2)
      } images/s`;
  }

  /** Appends an entry to log.txt and log.jsonl and prints it. */
  async entry(e: LogEntry): Promise<void> {
    this.clearProgress();
    const line = TrainLog.format(e);
    this.#print(line);
    await this.#append("log.txt", line + "\n");
    await this.#append("log.jsonl", JSON.stringify(e) + "\n");
  }

  /** Appends a held-out evaluation to heldout.jsonl (drawn by train_plot.ts). */
  async heldout(
    e: { time: string; step: number; accuracy: number; std: number; auc: number; pairs: number },
  ): Promise<void> {
    await this.#append("heldout.jsonl", JSON.stringify(e) + "\n");
  }

  /** Appends a free-form line (start, checkpoint, evaluation, stop) to log.txt and prints it. */
  async note(line: string): Promise<void> {
    this.clearProgress();
    this.#print(line);
    await this.#append("log.txt", line + "\n");
  }

  /** Redraws the progress bar: `[#####.....] step/total loss images/s`. */
  progress(step: number, total: number, loss: number, imagesPerSec: number): void {
    if (!this.#progress) return;
    const width = 30;
    const done = Math.round(width * Math.min(1, step / Math.max(1, total)));
    const bar = "#".repeat(done) + ".".repeat(width - done);
    const text = `\r[${bar}] ${step}/${total} loss ${loss.toFixed(3)} ${
      imagesPerSec.toFixed(1)
    } img/s`;
    Deno.stderr.writeSync(this.#enc.encode(text));
  }

  clearProgress(): void {
    if (this.#progress) Deno.stderr.writeSync(this.#enc.encode("\r\x1b[K"));
  }

  async #append(name: string, text: string): Promise<void> {
    await Deno.mkdir(this.dir, { recursive: true });
    await Deno.writeTextFile(join(this.dir, name), text, { append: true });
  }
}
