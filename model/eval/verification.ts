/**
 * The face-verification protocol of insightface (`recognition/arcface_torch/eval/verification.py`,
 * after FaceNet's lfw.py), as used for the LFW/CFP/AgeDB numbers of ArcFace (arXiv 1801.07698):
 *
 * - distance = squared L2 between the L2-normalized embeddings of the two images of a pair;
 *   a pair is predicted "same" when distance < threshold (strict);
 * - 10 contiguous folds in file order (sklearn KFold(10, shuffle=False), or the folds of pairs.txt);
 * - accuracy: thresholds 0, 0.01, ..., 3.99; in each fold the first threshold with the best
 *   accuracy on the other nine folds is applied to the held-out fold; mean +- std (population);
 * - TAR@FAR (`calculate_val`): thresholds 0, 0.001, ..., 3.999; per fold the threshold reaching
 *   the target FAR on the training folds is found by scipy `interp1d(far, thr, kind='slinear')`
 *   (reproduced in np_compat.ts to the floating-point operation), else 0; TAR and FAR on the
 *   held-out fold.
 *
 * Counts come from sorted distances (one sweep per fold), so 6,000 pairs take milliseconds.
 * AUC, EER and the plotted curve come from the exact ROC over all pairs (every distance a
 * threshold), which insightface does not report; its fold-averaged ROC is returned too.
 */
import { kfoldSizes, npMeanStd, slinearInterp } from "./np_compat.ts";

/** Options of `evaluateVerification`. */
export interface VerificationOptions {
  /** Number of contiguous folds when `foldSizes` is not given. Default: 10. */
  nFolds?: number;
  /** Pairs per fold in order (e.g. [600 x 10] from pairs.txt). Default: sklearn KFold sizes. */
  foldSizes?: number[] | null;
  /** FAR at which TAR is reported. Default: 1e-3. */
  farTarget?: number;
}

/** The protocol's results. Accuracies and rates are fractions in [0, 1]. */
export interface VerificationResult {
  nPairs: number;
  nSame: number;
  nDiff: number;
  foldSizes: number[];
  /** Held-out accuracy of each fold. */
  foldAccuracy: number[];
  /** Threshold chosen on the other folds, for each fold. */
  foldThresholds: number[];
  accuracyMean: number;
  accuracyStd: number;
  /** First grid threshold with the best accuracy over all pairs (for deployment; not the score). */
  bestThreshold: number;
  farTarget: number;
  /** insightface `calculate_val`: mean/std of held-out TAR, mean held-out FAR. */
  tar: { mean: number; std: number; far: number };
  /** TAR at FAR <= farTarget on the exact all-pairs ROC. */
  tarAtFarExact: number;
  /** Area under the exact ROC (ties count one half). */
  auc: number;
  /** Equal error rate (FAR = 1 - TAR), interpolated on the exact ROC, and its distance threshold. */
  eer: number;
  eerThreshold: number;
  /** insightface's fold-averaged ROC on the 400-threshold grid. */
  gridRoc: { thresholds: number[]; tpr: number[]; fpr: number[] };
  /** Exact ROC corner points (FAR ascending), from (0, 0) to (1, 1). */
  roc: { far: number[]; tar: number[]; threshold: number[] };
}

/**
 * Squared L2 distances of pairs (rows 2i, 2i+1) of an [2N, D] row-major matrix, in float64.
 * @example
 * ```ts
 * import { pairDistances } from "../mod.ts";
 *
 * // Rows [a0, b0, a1, b1] of 2-d unit embeddings -> squared L2 per pair: [0, 2].
 * console.log(pairDistances(new Float32Array([1, 0, 1, 0, 1, 0, 0, 1]), 2));
 * ```
 */
export function pairDistances(embeddings: ArrayLike<number>, dim: number): Float64Array {
  if (!Number.isInteger(dim) || dim <= 0 || embeddings.length % (2 * dim) !== 0) {
    throw new RangeError(
      `pairDistances(): ${embeddings.length} values is not a whole number of [2, ${dim}] pairs`,
    );
  }
  const n = embeddings.length / (2 * dim);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    const a = 2 * i * dim, b = a + dim;
    for (let k = 0; k < dim; k++) {
      const d = embeddings[a + k] - embeddings[b + k];
      s += d * d;
    }
    out[i] = s;
  }
  return out;
}

/** Cosine similarities of unit vectors to squared L2 distances: |a - b|^2 = 2 - 2 cos. */
export function distancesFromCosine(similarities: ArrayLike<number>): Float64Array {
  return Float64Array.from(similarities as ArrayLike<number>, (s) => 2 - 2 * s);
}

/** For sorted ascending `sorted` and increasing `thresholds`: counts[t] = #{x < thresholds[t]}. */
function countBelow(sorted: Float64Array, thresholds: Float64Array): Int32Array {
  const out = new Int32Array(thresholds.length);
  let j = 0;
  for (let t = 0; t < thresholds.length; t++) {
    while (j < sorted.length && sorted[j] < thresholds[t]) j++;
    out[t] = j;
  }
  return out;
}

const grid = (n: number, step: number) => Float64Array.from({ length: n }, (_, i) => i * step);
/** np.arange(0, 4, 0.01) and np.arange(0, 4, 0.001): value i * step, exactly as numpy fills them. */
export const ACC_THRESHOLDS = grid(400, 0.01);
export const VAL_THRESHOLDS = grid(4000, 0.001);

/** Per fold: its same-pair and different-pair distances, each sorted ascending. */
interface Fold {
  s: Float64Array;
  d: Float64Array;
}

/**
 * Runs the protocol on pair distances (squared L2 of unit embeddings, in [0, 4]) and labels.
 * @example
 * ```ts
 * import { evaluateVerification, pairDistances } from "../mod.ts";
 *
 * // Two pairs of 2-d unit embeddings, rows [a0, b0, a1, b1]: a same pair and a different one.
 * const embeddings = new Float32Array([1, 0, 1, 0, 1, 0, 0, 1]);
 * const result = evaluateVerification(pairDistances(embeddings, 2), [true, false], { nFolds: 2 });
 * console.log(result.accuracyMean, result.accuracyStd, result.bestThreshold);
 * ```
 */
export function evaluateVerification(
  distances: ArrayLike<number>,
  issame: ArrayLike<boolean | number>,
  options: VerificationOptions = {},
): VerificationResult {
  const n = distances.length;
  if (issame.length !== n) {
    throw new RangeError(`evaluateVerification(): ${n} distances but ${issame.length} labels`);
  }
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(distances[i])) {
      throw new RangeError(`evaluateVerification(): distance of pair ${i} is ${distances[i]}`);
    }
  }
  const farTarget = options.farTarget ?? 1e-3;
  const sizes = options.foldSizes ?? kfoldSizes(n, options.nFolds ?? 10);
  if (sizes.reduce((a, b) => a + b, 0) !== n || sizes.some((s) => !(s > 0))) {
    throw new RangeError(
      `evaluateVerification(): fold sizes [${sizes}] do not add up to ${n} pairs`,
    );
  }
  const dist = Float64Array.from(distances as ArrayLike<number>);
  const same = Uint8Array.from(issame as ArrayLike<number>, (v) => (v ? 1 : 0));
  const folds: Fold[] = [];
  let lo = 0;
  for (const size of sizes) {
    const s: number[] = [], d: number[] = [];
    for (let i = lo; i < lo + size; i++) (same[i] ? s : d).push(dist[i]);
    folds.push({ s: Float64Array.from(s).sort(), d: Float64Array.from(d).sort() });
    lo += size;
  }
  const nSame = folds.reduce((a, f) => a + f.s.length, 0);
  const nDiff = n - nSame;
  const roc = accuracyProtocol(folds, sizes, nDiff);
  const acc = npMeanStd(roc.foldAccuracy);
  return {
    nPairs: n,
    nSame,
    nDiff,
    foldSizes: sizes,
    foldAccuracy: roc.foldAccuracy,
    foldThresholds: roc.foldThresholds,
    accuracyMean: acc.mean,
    accuracyStd: acc.std,
    bestThreshold: roc.bestThreshold,
    farTarget,
    tar: tarAtFar(folds, nDiff, farTarget),
    ...exactRoc(dist, same, nSame, nDiff, farTarget),
    gridRoc: roc.gridRoc,
  };
}

/**
 * Accuracy as insightface's `calculate_roc`: each fold uses the threshold with the most correct
 * predictions on the other folds; also the best threshold over all pairs and the mean grid ROC.
 */
function accuracyProtocol(folds: Fold[], sizes: number[], nDiff: number) {
  const K = sizes.length;
  // Correct predictions: true accepts + true rejects (the denominator is fixed per fold).
  const accOf = (tp: number, fp: number, nd: number) => tp + (nd - fp);
  const T = ACC_THRESHOLDS;
  const tpF = folds.map((f) => countBelow(f.s, T));
  const fpF = folds.map((f) => countBelow(f.d, T));
  const tpAll = new Int32Array(T.length), fpAll = new Int32Array(T.length);
  for (let k = 0; k < K; k++) {
    for (let t = 0; t < T.length; t++) {
      tpAll[t] += tpF[k][t];
      fpAll[t] += fpF[k][t];
    }
  }
  const foldAccuracy: number[] = [], foldThresholds: number[] = [];
  const tprs: number[][] = [], fprs: number[][] = [];
  for (let k = 0; k < K; k++) {
    const nd = nDiff - folds[k].d.length;
    let best = 0, bestCorrect = -1;
    for (let t = 0; t < T.length; t++) {
      const c = accOf(tpAll[t] - tpF[k][t], fpAll[t] - fpF[k][t], nd);
      if (c > bestCorrect) [best, bestCorrect] = [t, c];
    }
    const fs = folds[k].s.length, fd = folds[k].d.length;
    foldThresholds.push(T[best]);
    foldAccuracy.push(accOf(tpF[k][best], fpF[k][best], fd) / sizes[k]);
    tprs.push(Array.from(tpF[k], (tp) => (fs === 0 ? 0 : tp / fs)));
    fprs.push(Array.from(fpF[k], (fp) => (fd === 0 ? 0 : fp / fd)));
  }
  let bestAll = 0, bestAllCorrect = -1;
  for (let t = 0; t < T.length; t++) {
    const c = accOf(tpAll[t], fpAll[t], nDiff);
    if (c > bestAllCorrect) [bestAll, bestAllCorrect] = [t, c];
  }
  const colMean = (m: number[][], t: number) => m.reduce((a, r) => a + r[t], 0) / K;
  return {
    foldAccuracy,
    foldThresholds,
    bestThreshold: T[bestAll],
    gridRoc: {
      thresholds: Array.from(T),
      tpr: Array.from(T, (_, t) => colMean(tprs, t)),
      fpr: Array.from(T, (_, t) => colMean(fprs, t)),
    },
  };
}

/** TAR at FAR as insightface's `calculate_val`: the threshold interpolated on the other folds. */
function tarAtFar(folds: Fold[], nDiff: number, farTarget: number) {
  const V = VAL_THRESHOLDS;
  const faF = folds.map((f) => countBelow(f.d, V));
  const faAll = new Int32Array(V.length);
  for (const fa of faF) for (let t = 0; t < V.length; t++) faAll[t] += fa[t];
  const vals: number[] = [], fars: number[] = [];
  for (let k = 0; k < folds.length; k++) {
    const nd = nDiff - folds[k].d.length;
    const farTrain = Float64Array.from(faAll, (fa, t) => (fa - faF[k][t]) / nd);
    let maxFar = -Infinity;
    for (const f of farTrain) maxFar = Math.max(maxFar, f);
    const th = maxFar >= farTarget ? slinearInterp(farTrain, V, farTarget) : 0.0;
    let ta = 0, fa = 0;
    for (const x of folds[k].s) if (x < th) ta++;
    for (const x of folds[k].d) if (x < th) fa++;
    vals.push(ta / folds[k].s.length);
    fars.push(fa / folds[k].d.length);
  }
  const val = npMeanStd(vals);
  return { mean: val.mean, std: val.std, far: npMeanStd(fars).mean };
}

/** Exact ROC over all pairs: one point per distinct distance; AUC, EER, TAR at FAR. */
function exactRoc(
  dist: Float64Array,
  same: Uint8Array,
  nSame: number,
  nDiff: number,
  farT: number,
) {
  const order = Array.from(dist.keys()).sort((i, j) => dist[i] - dist[j]);
  const far = [0], tar = [0], threshold = [dist.length ? dist[order[0]] : 0];
  let tp = 0, fp = 0, auc = 0;
  for (let i = 0; i < order.length;) {
    const v = dist[order[i]];
    let ds = 0, dd = 0;
    for (; i < order.length && dist[order[i]] === v; i++) same[order[i]] ? ds++ : dd++;
    // Pairs tied at v: different-pair credit for the same pairs below, half for ties.
    auc += dd * (tp + ds / 2);
    tp += ds;
    fp += dd;
    far.push(nDiff ? fp / nDiff : 0);
    tar.push(nSame ? tp / nSame : 0);
    // Accepting "distance <= v" (i.e. threshold just above v).
    threshold.push(i < order.length ? (v + dist[order[i]]) / 2 : v + 1e-6);
  }
  auc = nSame && nDiff ? auc / (nSame * nDiff) : NaN;
  // EER: FRR = 1 - TAR crosses FAR between consecutive points; interpolate linearly.
  let eer = NaN, eerThreshold = NaN;
  for (let i = 1; i < far.length; i++) {
    const g0 = 1 - tar[i - 1] - far[i - 1], g1 = 1 - tar[i] - far[i];
    if (g0 >= 0 && g1 <= 0) {
      const a = g0 === g1 ? 0 : g0 / (g0 - g1);
      eer = far[i - 1] + a * (far[i] - far[i - 1]);
      eerThreshold = threshold[i - 1] + a * (threshold[i] - threshold[i - 1]);
      break;
    }
  }
  let tarAtFarExact = 0;
  for (let i = 0; i < far.length; i++) if (far[i] <= farT) tarAtFarExact = tar[i];
  // Keep corner points only (where FAR changes, plus the last TAR before the change).
  const keep: number[] = [];
  for (let i = 0; i < far.length; i++) {
    if (i === 0 || i === far.length - 1 || far[i] !== far[i + 1] || far[i] !== far[i - 1]) {
      keep.push(i);
    }
  }
  return {
    tarAtFarExact,
    auc,
    eer,
    eerThreshold,
    roc: {
      far: keep.map((i) => far[i]),
      tar: keep.map((i) => tar[i]),
      threshold: keep.map((i) => threshold[i]),
    },
  };
}
