/**
 * Training log: the original TensorFlow ArcFace code's fields (epoch, step, total loss, inference
 * loss, weight-decay loss, training accuracy, images/s; means over the steps since the last line,
 * `StepWindow`) as text (`log.txt`) and JSON lines (`log.jsonl`) in the run folder,
 * echoed to a sink (stdout by default), plus a one-line progress bar on a terminal's stderr
 * (`@std/cli` ProgressBar; nothing when stderr is not a terminal), and with `events` the same
 * scalars in a TensorBoard event file (`events.out.tfevents.*`, model/io/tensorboard_writer.ts).
 */
import * as tf from "@tensorflow/tfjs";
import { join } from "node:path";
import { ProgressBar } from "@std/cli/unstable-progress-bar";
import { TensorBoardWriter } from "../io/tensorboard_writer.ts";
import type { StepMetrics } from "./trainer.ts";

/** One held-out verification (a JSON line of `heldout.jsonl`). */
export interface HeldoutEntry {
  time: string;
  step: number;
  /** 10-fold mean accuracy in [0, 1]. */
  accuracy: number;
  std: number;
  auc: number;
  pairs: number;
  /** Squared-L2 threshold on all pairs (what `deno task serve`'s try-it page applies). */
  threshold?: number;
}

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
  /** `tf.memory().numTensors` after the step (flat in a healthy run). */
  numTensors?: number;
  /** Resident set size of the process in bytes (flat in a healthy run). */
  rssBytes?: number;
}

export interface TrainLogOptions {
  /** Where text lines go besides log.txt. Default: console.log. */
  print?: (line: string) => void;
  /** Show a progress bar on stderr. @default Deno.stderr.isTerminal() */
  progress?: boolean;
  /** Where the progress bar goes. @default Deno.stderr.writable */
  progressWritable?: WritableStream<Uint8Array>;
  /** Also write the scalars to a TensorBoard event file in the folder. @default false */
  events?: boolean;
}

export class TrainLog {
  readonly dir: string;
  #print: (line: string) => void;
  #progress: boolean;
  #writable?: WritableStream<Uint8Array>;
  #bar?: ProgressBar;
  #stopping?: Promise<void>;
  #last = { loss: 0, imagesPerSec: 0 };
  #events: boolean;
  #writer?: Promise<TensorBoardWriter>;

  constructor(dir: string, options: TrainLogOptions = {}) {
    this.dir = dir;
    this.#print = options.print ?? ((l) => console.log(l));
    this.#progress = options.progress ?? Deno.stderr.isTerminal();
    this.#writable = options.progressWritable;
    this.#events = options.events ?? false;
  }

  /** Formats an entry the way the original TensorFlow ArcFace code printed it. */
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
    await this.scalars(e.step, {
      loss: e.totalLoss,
      "loss/margin_softmax": e.inferenceLoss,
      "loss/weight_decay": e.weightDecayLoss,
      learning_rate: e.lr,
      "train/accuracy": e.accuracy,
      "train/images_per_sec": e.imagesPerSec,
    });
  }

  /** Appends a line that is not a step window (a validation result) to log.jsonl. */
  async json(e: object): Promise<void> {
    await this.#append("log.jsonl", JSON.stringify(e) + "\n");
  }

  /** Appends a held-out evaluation to heldout.jsonl (drawn by train_plot.ts). */
  async heldout(e: HeldoutEntry): Promise<void> {
    await this.#append("heldout.jsonl", JSON.stringify(e) + "\n");
    await this.scalars(e.step, { heldout: e.accuracy });
  }

  /**
   * Writes scalars (tag -> value) at `step` to the TensorBoard event file, with `events` (the
   * file is opened on the first call: a resumed run appends to its cut-back newest one).
   */
  async scalars(step: number, values: Readonly<Record<string, number>>): Promise<void> {
    if (!this.#events) return;
    this.#writer ??= TensorBoardWriter.open(this.dir);
    await (await this.#writer).scalars(step, values);
  }

  /** Appends a free-form line (start, checkpoint, evaluation, stop) to log.txt and prints it. */
  async note(line: string): Promise<void> {
    this.clearProgress();
    this.#print(line);
    await this.#append("log.txt", line + "\n");
  }

  /**
   * Updates the progress bar (`[#####-----] step/total loss images/s`, redrawn every 250 ms); it
   * is created on the first call and stopped, ending its line, when `step` reaches `total`.
   */
  progress(step: number, total: number, loss: number, imagesPerSec: number): void {
    if (!this.#progress) return;
    this.#last = { loss, imagesPerSec };
    this.#bar ??= new ProgressBar({
      max: total,
      value: step,
      barLength: 30,
      interval: 250,
      writable: this.#writable,
      formatter: (f) =>
        `[${f.progressBar}] ${f.value}/${f.max} loss ${this.#last.loss.toFixed(3)} ${
          this.#last.imagesPerSec.toFixed(1)
        } img/s`,
    });
    this.#bar.max = total;
    this.#bar.value = step;
    if (step >= total) void this.stopProgress();
  }

  /** Stops the progress bar (drawing its last state); a later `progress()` starts a new one. */
  async stopProgress(): Promise<void> {
    const bar = this.#bar;
    this.#bar = undefined;
    if (bar) this.#stopping = bar.stop();
    await this.#stopping;
  }

  /** Erases the bar's line so that a log line can be printed; the next redraw brings it back. */
  clearProgress(): void {
    if (this.#bar && !this.#writable) {
      Deno.stderr.writeSync(new TextEncoder().encode("\r\x1b[K"));
    }
  }

  async #append(name: string, text: string): Promise<void> {
    await Deno.mkdir(this.dir, { recursive: true });
    await Deno.writeTextFile(join(this.dir, name), text, { append: true });
  }
}

/** Sums over the steps since the last log line; a log line carries their means. */
export class StepWindow {
  images = 0;
  seconds = 0;
  loss = 0;
  inference = 0;
  decay = 0;
  acc = 0;
  n = 0;

  add(images: number, seconds: number, m: StepMetrics): void {
    this.images += images;
    this.seconds += seconds;
    this.loss += m.totalLoss;
    this.inference += m.inferenceLoss;
    this.decay += m.weightDecayLoss;
    this.acc += m.accuracy;
    this.n++;
  }

  /** The window's means as a log line (as the original TF ArcFace code averaged its display values). */
  entry(epoch: number, step: number, lr: number): LogEntry {
    return {
      time: new Date().toISOString(),
      epoch,
      step,
      totalLoss: this.loss / this.n,
      inferenceLoss: this.inference / this.n,
      weightDecayLoss: this.decay / this.n,
      accuracy: this.acc / this.n,
      lr,
      imagesPerSec: this.images / this.seconds,
      numTensors: tf.memory().numTensors,
      rssBytes: Deno.memoryUsage().rss,
    };
  }
}
