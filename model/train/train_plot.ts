/**
 * Training curves as one self-contained SVG in the run folder (`curves.svg`: no script, no network,
 * opens in any browser): loss, training accuracy, learning rate and held-out verification accuracy
 * against steps, read from `log.jsonl` and `heldout.jsonl`. Redrawn (atomically) at every held-out
 * evaluation, every checkpoint and at the end of a run. Steps logged twice (a resumed run re-logs
 * the steps after its last checkpoint) keep their last value.
 */
import { join } from "node:path";
import { writeFileAtomic } from "../../pipeline/atomic_write.ts";
import { COLORS, esc } from "../eval/roc_plot.ts";
import type { HeldoutEntry, LogEntry } from "./train_log.ts";

export type { HeldoutEntry };
import { isValEntry, type ValEntry } from "./val_targets.ts";

/** A curve: y values at steps. */
export interface Series {
  label: string;
  steps: number[];
  values: number[];
  /** Mark each point (sparse series such as evaluations). Default: false. */
  dots?: boolean;
}

/** The plot's file name in the run folder. */
export const PLOT_FILE = "curves.svg";

/** Keeps the last entry of each step, sorted by step. */
export function lastPerStep<T extends { step: number }>(entries: T[]): T[] {
  const m = new Map<number, T>();
  for (const e of entries) m.set(e.step, e);
  return [...m.values()].sort((a, b) => a.step - b.step);
}

/** About `n` round tick values covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, n = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((k) => k * mag).find((s) => s >= raw)!;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) {
    out.push(+v.toPrecision(12));
  }
  return out;
}

const label = (v: number) =>
  v === 0 ? "0" : Math.abs(v) < 1e-3 || Math.abs(v) >= 1e5 ? v.toExponential(1) : String(v);

/** One panel at (x0, y0) of size w x h: axes, ticks, a polyline per series, a legend. */
export function panel(
  title: string,
  series: Series[],
  box: { x0: number; y0: number; w: number; h: number; maxStep: number },
  fixed?: [number, number],
): string[] {
  const m = { l: 58, r: 14, t: 28, b: 36 };
  const pw = box.w - m.l - m.r, ph = box.h - m.t - m.b;
  const left = box.x0 + m.l, top = box.y0 + m.t;
  const out = [
    `<text x="${box.x0 + box.w / 2}" y="${box.y0 + 18}" text-anchor="middle" font-size="14">${
      esc(title)
    }</text>`,
    `<rect x="${left}" y="${top}" width="${pw}" height="${ph}" fill="none" stroke="#333"/>`,
  ];
  const all = series.flatMap((s) => s.values).filter(Number.isFinite);
  if (all.length === 0) {
    out.push(
      `<text x="${left + pw / 2}" y="${top + ph / 2}" text-anchor="middle" fill="#888">` +
        `no data yet</text>`,
    );
    return out;
  }
  const [lo, hi] = valueRange(all, fixed);
  const area: PlotArea = {
    left,
    top,
    pw,
    ph,
    maxStep: box.maxStep,
    x: (s: number) => left + (s / Math.max(1, box.maxStep)) * pw,
    y: (v: number) => top + (1 - (v - lo) / (hi - lo)) * ph,
  };
  out.push(...panelAxes(area, niceTicks(lo, hi)));
  series.forEach((s, i) => out.push(...seriesLines(area, s, i, series.length)));
  return out;
}

/** The y range of a panel: `fixed`, else the data's, widened to whole ticks (never empty). */
function valueRange(all: number[], fixed?: [number, number]): [number, number] {
  let [lo, hi] = fixed ?? [Math.min(...all), Math.max(...all)];
  if (hi - lo < 1e-12) {
    const pad = Math.max(1e-3, Math.abs(lo) * 0.1);
    [lo, hi] = [lo - pad, hi + pad];
  }
  // Widen to whole tick steps, so the axis starts and ends on a labelled value.
  const t0 = niceTicks(lo, hi);
  const dt = t0.length > 1 ? t0[1] - t0[0] : 1;
  if (!fixed) [lo, hi] = [Math.floor(lo / dt + 1e-9) * dt, Math.ceil(hi / dt - 1e-9) * dt];
  return [lo, hi];
}

/** A panel's plot area (px) and its step -> x, value -> y maps. */
interface PlotArea {
  left: number;
  top: number;
  pw: number;
  ph: number;
  maxStep: number;
  x: (step: number) => number;
  y: (value: number) => number;
}

/** A pixel coordinate as written to the SVG. */
const f = (v: number) => v.toFixed(1);

/** Horizontal grid lines at the y ticks `yt`, step ticks and the "step" axis title. */
function panelAxes({ left, top, pw, ph, maxStep, x, y }: PlotArea, yt: number[]): string[] {
  const out: string[] = [];
  for (const v of yt) {
    out.push(
      `<line x1="${left}" y1="${f(y(v))}" x2="${left + pw}" y2="${f(y(v))}" stroke="#e4e4e4"/>`,
      `<text x="${left - 5}" y="${f(y(v))}" text-anchor="end" dominant-baseline="middle">${
        label(v)
      }</text>`,
    );
  }
  for (const s of niceTicks(0, Math.max(1, maxStep))) {
    out.push(
      `<line x1="${f(x(s))}" y1="${top + ph}" x2="${f(x(s))}" y2="${top + ph + 4}" stroke="#333"/>`,
      `<text x="${f(x(s))}" y="${top + ph + 16}" text-anchor="middle">${label(s)}</text>`,
    );
  }
  out.push(`<text x="${left + pw / 2}" y="${top + ph + 31}" text-anchor="middle">step</text>`);
  return out;
}

/** Series `i` of `count`: its polyline, dots if asked, and its legend entry (box on the first). */
function seriesLines(
  { left, top, pw, x, y }: PlotArea,
  s: Series,
  i: number,
  count: number,
): string[] {
  const out: string[] = [];
  const color = COLORS[i % COLORS.length];
  const pts = s.steps.map((st, k) => `${f(x(st))},${f(y(s.values[k]))}`);
  out.push(
    `<polyline data-series="${esc(s.label)}" fill="none" stroke="${color}" stroke-width="1.6" ` +
      `points="${pts.join(" ")}"/>`,
  );
  if (s.dots) {
    for (const p of pts) {
      const [cx, cy] = p.split(",");
      out.push(`<circle cx="${cx}" cy="${cy}" r="3" fill="${color}"/>`);
    }
  }
  const ly = top + 12 + 16 * i;
  if (i === 0) {
    out.push(
      `<rect x="${left + pw - 136}" y="${top + 3}" width="132" height="${16 * count + 2}" ` +
        `fill="white" fill-opacity="0.85"/>`,
    );
  }
  out.push(
    `<line x1="${left + pw - 130}" y1="${ly}" x2="${left + pw - 110}" y2="${ly}" ` +
      `stroke="${color}" stroke-width="3"/>`,
    `<text x="${left + pw - 105}" y="${ly}" dominant-baseline="middle">${esc(s.label)}</text>`,
  );
  return out;
}

/** The four panels as an SVG document (string). */
export function trainPlotSvg(
  log: (LogEntry | ValEntry)[],
  heldout: HeldoutEntry[],
  title = "Training",
): string {
  const L = lastPerStep(log.filter((e): e is LogEntry => !isValEntry(e)));
  const H = lastPerStep(heldout);
  const V = valSeries(log.filter(isValEntry));
  const steps = L.map((e) => e.step);
  const maxStep = Math.max(1, ...steps, ...H.map((e) => e.step), ...V.flatMap((v) => v.steps));
  const accuracies = [...H.map((e) => e.accuracy), ...V.flatMap((v) => v.values)];
  const W = 960, Hh = 660, pw = W / 2, ph = (Hh - 30) / 2;
  const box = (c: number, r: number) => ({ x0: c * pw, y0: 30 + r * ph, w: pw, h: ph, maxStep });
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${Hh}" viewBox="0 0 ${W} ${Hh}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${Hh}" fill="white"/>`,
    `<text x="${W / 2}" y="20" text-anchor="middle" font-size="15">${esc(title)}</text>`,
    ...panel("Loss", [
      { label: "total", steps, values: L.map((e) => e.totalLoss) },
      { label: "softmax (margin)", steps, values: L.map((e) => e.inferenceLoss) },
    ], box(0, 0)),
    ...panel(
      "Training accuracy",
      [
        { label: "training accuracy", steps, values: L.map((e) => e.accuracy) },
      ],
      box(1, 0),
      [0, 1],
    ),
    ...panel("Learning rate", [{ label: "lr", steps, values: L.map((e) => e.lr) }], box(0, 1)),
    ...panel(
      "Held-out verification accuracy",
      [
        ...(H.length
          ? [{
            label: "held-out pairs",
            steps: H.map((e) => e.step),
            values: H.map((e) => e.accuracy),
            dots: true,
          }]
          : []),
        ...V,
      ],
      box(1, 1),
      // Chance is 0.5; lower scores widen the axis rather than leave it.
      [Math.min(0.5, Math.floor(10 * Math.min(1, ...accuracies)) / 10), 1],
    ),
    "</svg>\n",
  ];
  return out.join("\n");
}

/** One dotted series per validation target (`--val-targets`), in order of first appearance. */
function valSeries(entries: ValEntry[]): Series[] {
  const names = [...new Set(entries.map((e) => e.val))];
  return names.map((name) => {
    const E = lastPerStep(entries.filter((e) => e.val === name));
    return {
      label: name,
      steps: E.map((e) => e.step),
      values: E.map((e) => e.accuracy),
      dots: true,
    };
  });
}

/** Reads a JSON-lines file; a missing file is empty, a torn last line (a crash) is left out. */
export async function readJsonLines<T>(path: string): Promise<T[]> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return [];
    throw e;
  }
  const lines = text.split("\n");
  const out: T[] = [];
  lines.forEach((line, i) => {
    if (line.trim() === "") return;
    try {
      out.push(JSON.parse(line));
    } catch (e) {
      if (i === lines.length - 1) return; // unterminated: written when the run died
      throw new SyntaxError(`Cannot read line ${i + 1} of "${path}": ${(e as Error).message}`);
    }
  });
  return out;
}

/** A run folder's curves, as every plot reads them. */
export interface RunLog {
  /** log.jsonl's training lines (one per logged step). */
  train: LogEntry[];
  /** log.jsonl's validation lines (a `val` field), written right after their step's line. */
  val: ValEntry[];
  /** heldout.jsonl. */
  heldout: HeldoutEntry[];
}

/** Reads `dir/log.jsonl` (split into training and validation lines) and `dir/heldout.jsonl`. */
export async function readRunLog(dir: string): Promise<RunLog> {
  const log = await readJsonLines<LogEntry | ValEntry>(join(dir, "log.jsonl"));
  const heldout = await readJsonLines<HeldoutEntry>(join(dir, "heldout.jsonl"));
  return {
    train: log.filter((e): e is LogEntry => !isValEntry(e)),
    val: log.filter(isValEntry),
    heldout,
  };
}

/** Draws `dir/curves.svg` from `dir/log.jsonl` + `dir/heldout.jsonl` (atomically); its path. */
export async function writeTrainPlot(dir: string, title?: string): Promise<string> {
  const { train, val, heldout } = await readRunLog(dir);
  const path = join(dir, PLOT_FILE);
  await writeFileAtomic(path, trainPlotSvg([...train, ...val], heldout, title));
  return path;
}
