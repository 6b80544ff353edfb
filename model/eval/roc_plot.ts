/**
 * ROC curve as a self-contained SVG: TAR (y, linear) against FAR (x, log10, the usual face
 * verification view), one or more curves, a FAR marker and a legend. No dependencies.
 */
import { writeFileAtomic } from "../../pipeline/atomic_write.ts";

/** One curve: FAR ascending with its TAR (e.g. `VerificationResult.roc`). */
export interface RocCurve {
  label: string;
  far: number[];
  tar: number[];
}

/** Options of `rocSvg`. */
export interface RocPlotOptions {
  /** Title above the plot. Default: "ROC". */
  title?: string;
  /** Smallest FAR on the axis (a power of ten). Default: 1e-4. */
  minFar?: number;
  /** Smallest TAR on the axis. Default: 0. */
  minTar?: number;
  /** FAR at which to draw a vertical marker, or null. Default: 1e-3. */
  markFar?: number | null;
  /** Width and height in px. Default: 640 x 480. */
  width?: number;
  height?: number;
}

/** Line colours of the project's plots (matplotlib's first six). */
export const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"];
/** Escapes text for SVG/XML content and attribute values. */
export const esc = (s: string): string =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

/** Renders curves as an SVG document (string). */
export function rocSvg(curves: RocCurve[], options: RocPlotOptions = {}): string {
  const W = options.width ?? 640, H = options.height ?? 480;
  const minFar = options.minFar ?? 1e-4, minTar = options.minTar ?? 0;
  const markFar = options.markFar === undefined ? 1e-3 : options.markFar;
  if (!(minFar > 0 && minFar < 1)) throw new RangeError(`minFar must be in (0, 1), got ${minFar}`);
  if (!(minTar >= 0 && minTar < 1)) throw new RangeError(`minTar must be in [0, 1), got ${minTar}`);
  for (const c of curves) {
    if (c.far.length !== c.tar.length) {
      throw new RangeError(`ROC curve "${c.label}": ${c.far.length} FARs, ${c.tar.length} TARs`);
    }
  }
  const m = { l: 64, r: 20, t: 40, b: 52 };
  const pw = W - m.l - m.r, ph = H - m.t - m.b;
  const lo = Math.log10(minFar);
  const frame: RocFrame = {
    H,
    m,
    pw,
    ph,
    lo,
    minTar,
    x: (far: number) => m.l + ((Math.log10(Math.max(far, minFar)) - lo) / -lo) * pw,
    y: (tar: number) => m.t + (1 - (Math.max(tar, minTar) - minTar) / (1 - minTar)) * ph,
  };
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="24" text-anchor="middle" font-size="15">${
      esc(options.title ?? "ROC")
    }</text>`,
    ...rocAxes(frame),
  ];
  if (markFar !== null && markFar > minFar && markFar < 1) {
    const mx = f(frame.x(markFar));
    out.push(
      `<line x1="${mx}" y1="${m.t}" x2="${mx}" y2="${
        m.t + ph
      }" stroke="#888" stroke-dasharray="4 3"/>`,
    );
  }
  curves.forEach((c, i) => out.push(...rocCurve(frame, c, i)));
  out.push("</svg>\n");
  return out.join("\n");
}

/** The plot area of `rocSvg` and its data-to-pixel maps. */
interface RocFrame {
  /** Image height, px. */
  H: number;
  /** Margins around the plot area, px. */
  m: { l: number; r: number; t: number; b: number };
  /** Plot area width and height, px. */
  pw: number;
  ph: number;
  /** log10 of the smallest FAR on the axis. */
  lo: number;
  minTar: number;
  /** FAR (log axis) -> x px. */
  x: (far: number) => number;
  /** TAR -> y px. */
  y: (tar: number) => number;
}

/** A pixel coordinate as written to the SVG. */
const f = (v: number) => v.toFixed(1);

/** Grid, tick labels, the plot frame and the axis titles. */
function rocAxes({ H, m, pw, ph, lo, minTar, x, y }: RocFrame): string[] {
  const out: string[] = [];
  // Grid: decades on x, tenths of the TAR range on y.
  for (let e = Math.ceil(lo); e <= 0; e++) {
    const gx = f(x(10 ** e));
    out.push(
      `<line x1="${gx}" y1="${m.t}" x2="${gx}" y2="${m.t + ph}" stroke="#ddd"/>`,
      `<text x="${gx}" y="${m.t + ph + 18}" text-anchor="middle">1e${e}</text>`,
    );
  }
  for (let i = 0; i <= 10; i++) {
    const v = minTar + (i / 10) * (1 - minTar);
    const gy = f(y(v));
    out.push(
      `<line x1="${m.l}" y1="${gy}" x2="${m.l + pw}" y2="${gy}" stroke="#ddd"/>`,
      `<text x="${m.l - 6}" y="${gy}" text-anchor="end" dominant-baseline="middle">${
        v.toFixed(2)
      }</text>`,
    );
  }
  out.push(
    `<rect x="${m.l}" y="${m.t}" width="${pw}" height="${ph}" fill="none" stroke="#333"/>`,
    `<text x="${m.l + pw / 2}" y="${
      H - 12
    }" text-anchor="middle">False accept rate (log scale)</text>`,
    `<text transform="translate(16 ${
      m.t + ph / 2
    }) rotate(-90)" text-anchor="middle">True accept rate</text>`,
  );
  return out;
}

/** Curve `i` as a step polyline, with its legend entry. */
function rocCurve({ m, pw, ph, x, y }: RocFrame, c: RocCurve, i: number): string[] {
  // Step curve: horizontal then vertical between consecutive points.
  const pts: string[] = [];
  let prev: [number, number] | null = null;
  for (let k = 0; k < c.far.length; k++) {
    const px = x(c.far[k]), py = y(c.tar[k]);
    if (prev) pts.push(`${f(px)},${f(prev[1])}`);
    pts.push(`${f(px)},${f(py)}`);
    prev = [px, py];
  }
  const color = COLORS[i % COLORS.length];
  return [
    `<polyline fill="none" stroke="${color}" stroke-width="1.8" points="${pts.join(" ")}"/>`,
    `<line x1="${m.l + pw - 200}" y1="${m.t + ph - 16 - 18 * i}" x2="${m.l + pw - 176}" y2="${
      m.t + ph - 16 - 18 * i
    }" stroke="${color}" stroke-width="3"/>`,
    `<text x="${m.l + pw - 170}" y="${m.t + ph - 16 - 18 * i}" dominant-baseline="middle">${
      esc(c.label)
    }</text>`,
  ];
}

/** Writes `rocSvg(curves, options)` to `path` atomically. */
export async function writeRocSvg(
  path: string,
  curves: RocCurve[],
  options: RocPlotOptions = {},
): Promise<void> {
  await writeFileAtomic(path, rocSvg(curves, options));
}
