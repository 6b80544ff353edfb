/**
 * Several training runs in one SVG (`deno task plot runA runB --out both.svg`): the panels of a
 * run's `curves.svg` (./train_plot.ts) with one line per run: softmax (margin) loss, training
 * accuracy, learning rate, held-out verification accuracy. Any folder holding `log.jsonl` (and
 * `heldout.jsonl`) in arcstream's format works, e.g. a PyTorch peer run of scripts/torch_run.py.
 */
import { basename, resolve } from "node:path";
import { writeFileAtomic } from "../../pipeline/atomic_write.ts";
import { esc } from "../eval/roc_plot.ts";
import type { LogEntry } from "./train_log.ts";
import { type HeldoutEntry, lastPerStep, panel, readRunLog, type Series } from "./train_plot.ts";

/** One run's curves. */
export interface RunCurves {
  /** Legend label. */
  name: string;
  log: LogEntry[];
  heldout: HeldoutEntry[];
}

/** The runs' four panels as an SVG document (string). */
export function comparePlotSvg(runs: RunCurves[], title = "Training runs"): string {
  const runs1 = runs.map((r) => ({
    ...r,
    log: lastPerStep(r.log),
    heldout: lastPerStep(r.heldout),
  }));
  const maxStep = Math.max(
    1,
    ...runs1.flatMap((r) => [...r.log.map((e) => e.step), ...r.heldout.map((e) => e.step)]),
  );
  const W = 960, Hh = 660, pw = W / 2, ph = (Hh - 30) / 2;
  const box = (c: number, r: number) => ({ x0: c * pw, y0: 30 + r * ph, w: pw, h: ph, maxStep });
  const per = (value: (e: LogEntry) => number): Series[] =>
    runs1.map((r) => ({
      label: r.name,
      steps: r.log.map((e) => e.step),
      values: r.log.map(value),
    }));
  const held: Series[] = runs1.map((r) => ({
    label: r.name,
    steps: r.heldout.map((e) => e.step),
    values: r.heldout.map((e) => e.accuracy),
    dots: true,
  }));
  const lowest = Math.min(1, ...held.flatMap((s) => s.values));
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${Hh}" viewBox="0 0 ${W} ${Hh}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${Hh}" fill="white"/>`,
    `<text x="${W / 2}" y="20" text-anchor="middle" font-size="15">${esc(title)}</text>`,
    ...panel("Softmax (margin) loss", per((e) => e.inferenceLoss), box(0, 0)),
    ...panel("Training accuracy", per((e) => e.accuracy), box(1, 0), [0, 1]),
    ...panel("Learning rate", per((e) => e.lr), box(0, 1)),
    // Chance is 0.5; lower scores widen the axis rather than leave it.
    ...panel("Held-out verification accuracy", held, box(1, 1), [
      Math.min(0.5, Math.floor(10 * lowest) / 10),
      1,
    ]),
    "</svg>\n",
  ].join("\n");
}

/**
 * Reads each folder's log.jsonl + heldout.jsonl and writes their plot to `out` (atomically).
 * `names` label the runs (default: the folders' names); a folder without log.jsonl is an error.
 */
export async function writeComparePlot(
  dirs: string[],
  out: string,
  options: { names?: string[]; title?: string } = {},
): Promise<string> {
  if (dirs.length === 0) throw new RangeError("Cannot plot: no run folders given");
  if (options.names && options.names.length !== dirs.length) {
    throw new RangeError(`${options.names.length} names for ${dirs.length} runs`);
  }
  const runs: RunCurves[] = [];
  for (const [i, dir] of dirs.entries()) {
    // Training lines only: a validation line shares its step and would replace the step's line.
    const { train: log, heldout } = await readRunLog(dir);
    if (log.length === 0) throw new Error(`"${dir}" has no log.jsonl entries: not a run folder`);
    runs.push({ name: options.names?.[i] ?? basename(resolve(dir)), log, heldout });
  }
  await writeFileAtomic(out, comparePlotSvg(runs, options.title));
  return out;
}
