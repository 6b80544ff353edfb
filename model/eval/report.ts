/**
 * The evaluation report: which pairs were counted and why others were not, the protocol's
 * numbers, timings; written as JSON + an SVG ROC curve, and printed as a short table.
 */
import { join } from "node:path";
import type { PairSpec, ScoredPairs } from "./score_pairs.ts";
import { writeFileAtomic } from "../../pipeline/atomic_write.ts";
import { writeRocSvg } from "./roc_plot.ts";

/** An image that did not yield an embedding (or yielded one by a fallback), with its pairs. */
export interface ImageIssue {
  key: string;
  reason: string;
  /** 0-based indices of the pairs that use the image. */
  pairs: number[];
}

/** Pair indices of each image key. */
export function pairsOfImages(pairs: PairSpec[]): Map<string, number[]> {
  const m = new Map<string, number[]>();
  pairs.forEach((p, i) => {
    for (const k of p.a === p.b ? [p.a] : [p.a, p.b]) {
      const l = m.get(k);
      if (l) l.push(i);
      else m.set(k, [i]);
    }
  });
  return m;
}

const pct = (x: number) => `${(100 * x).toFixed(2)}%`;

/** The short human table printed to stdout. */
export function formatTable(
  title: string,
  scored: ScoredPairs,
  total: number,
  policy: string,
): string {
  const r = scored.result;
  const ths = r.foldThresholds;
  return [
    `${title}`,
    `  pairs          ${scored.counted} counted of ${total} (${scored.skippedPairs.length} skipped; on-missing: ${policy})`,
    `  accuracy       ${pct(r.accuracyMean)} +- ${
      pct(r.accuracyStd)
    }  (${r.foldSizes.length}-fold, insightface protocol)`,
    `  folds          ${r.foldAccuracy.map((a) => (100 * a).toFixed(1)).join(" ")}`,
    `  threshold      ${r.bestThreshold.toFixed(2)} on all pairs (folds ${
      Math.min(...ths).toFixed(2)
    }..${Math.max(...ths).toFixed(2)}), squared L2 of unit embeddings`,
    `  TAR@FAR=${r.farTarget}  ${pct(r.tar.mean)} +- ${pct(r.tar.std)} (held-out FAR ${
      pct(r.tar.far)
    }; exact ROC: ${pct(r.tarAtFarExact)})`,
    `  AUC            ${r.auc.toFixed(5)}`,
    `  EER            ${pct(r.eer)} (distance ${r.eerThreshold.toFixed(3)})`,
  ].join("\n");
}

/** Writes `report.json` and `roc.svg` into `dir` (atomically); returns their paths. */
export async function writeReport(
  dir: string,
  report: Record<string, unknown>,
  scored: ScoredPairs,
  label: string,
): Promise<{ json: string; svg: string }> {
  await Deno.mkdir(dir, { recursive: true });
  const json = join(dir, "report.json"), svg = join(dir, "roc.svg");
  // Indented, but arrays of numbers/strings on one line (the ROC has thousands of points).
  const text = JSON.stringify(report, null, 1).replace(
    /\[\s+([^\[\]{}]*?)\s+\]/g,
    (_, inner: string) => `[${inner.replace(/\s*\n\s*/g, " ")}]`,
  );
  await writeFileAtomic(json, text + "\n");
  const r = scored.result;
  await writeRocSvg(svg, [{ label, far: r.roc.far, tar: r.roc.tar }], {
    title: `${label}: ${pct(r.accuracyMean)} +- ${pct(r.accuracyStd)}, AUC ${r.auc.toFixed(4)}`,
    minFar: Math.min(0.1, Math.max(1e-4, 10 ** Math.floor(Math.log10(1 / Math.max(1, r.nDiff))))),
  });
  return { json, svg };
}
