/**
 * Exact re-implementations of the numpy / sklearn / scipy pieces insightface's verification.py
 * uses (KFold sizes, np.sum's pairwise summation, np.mean/np.std, interp1d 'slinear'), so
 * verification.ts reproduces its numbers to the last bit.
 */

/** sklearn KFold fold sizes: the first n % k folds get one more. */
export function kfoldSizes(n: number, k: number): number[] {
  if (!Number.isInteger(k) || k < 1 || k > n) {
    throw new RangeError(`Cannot split ${n} pairs into ${k} folds`);
  }
  return Array.from({ length: k }, (_, i) => Math.floor(n / k) + (i < n % k ? 1 : 0));
}

/** numpy's pairwise float64 sum (bit-identical for any length), used for mean and std. */
export function npSum(a: ArrayLike<number>, lo = 0, n = a.length): number {
  if (n < 8) {
    let res = 0; // numpy starts from -0.0; identical for any non-empty sum of finite values
    for (let i = 0; i < n; i++) res += a[lo + i];
    return n === 0 ? 0 : res;
  }
  if (n <= 128) {
    const r = [0, 1, 2, 3, 4, 5, 6, 7].map((j) => a[lo + j]);
    let i = 8;
    for (; i < n - (n % 8); i += 8) for (let j = 0; j < 8; j++) r[j] += a[lo + i + j];
    let res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; i++) res += a[lo + i];
    return res;
  }
  let n2 = Math.floor(n / 2);
  n2 -= n2 % 8;
  return npSum(a, lo, n2) + npSum(a, lo + n2, n - n2);
}

/** np.mean and np.std (ddof 0). */
export function npMeanStd(a: number[]): { mean: number; std: number } {
  const mean = npSum(a) / a.length;
  const sq = a.map((x) => (x - mean) * (x - mean));
  return { mean, std: Math.sqrt(npSum(sq) / a.length) };
}

/**
 * scipy interp1d(x, y, kind='slinear')(xv) for non-decreasing x within range: a degree-1 B-spline
 * with knots [x0, x..., xn-1], evaluated by find_interval + de Boor as scipy does.
 */
export function slinearInterp(x: Float64Array, y: Float64Array, xv: number): number {
  const n = x.length;
  const t = (i: number) => (i === 0 ? x[0] : i === n + 1 ? x[n - 1] : x[i - 1]);
  let l = 2; // find_interval: start at k=1, step once, then skip every knot <= xv
  while (xv >= t(l) && l !== n) l++;
  const m = l - 1; // t[m] <= xv < t[m+1]
  const xa = t(m), xb = t(m + 1);
  if (xb === xa) return 0;
  const w = 1 / (xb - xa);
  const h0 = w * (xb - xv), h1 = w * (xv - xa);
  return 0 + y[m - 1] * h0 + y[m] * h1;
}
