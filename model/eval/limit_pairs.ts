/**
 * `eval-lfw --limit-pairs N` (docs/reliability.md): a subset that keeps the protocol meaningful.
 * The first N lines of pairs.txt are all same-person pairs (each fold lists its same pairs first),
 * which scores 100% with an undefined AUC; instead the limit is spread over the folds and the two
 * kinds: each of the F folds keeps its first q same and first q different pairs (q = floor(N/2F)),
 * the N - 2Fq left over going one each to the first (fold, kind) slots in order, so exactly N pairs
 * are kept, in file order, each fold holding both kinds. Fewer than 2F pairs cannot do that and
 * are refused.
 */
import { kfoldSizes } from "./np_compat.ts";

/** Which pairs a limit keeps (indices into the full list, ascending) and the kept fold sizes. */
export interface LimitedPairs {
  indices: number[];
  foldSizes: number[];
}

/**
 * Selects `limit` pairs of `issame` (the full list) across its folds (`foldSizes`, or KFold(10)
 * over the list when null) and kinds. Throws a RangeError when it cannot keep both kinds in every
 * fold.
 */
export function limitPairs(
  issame: readonly boolean[],
  foldSizes: readonly number[] | null,
  limit: number,
  name = "limit",
): LimitedPairs {
  const n = issame.length;
  if (!Number.isInteger(limit) || limit < 1) {
    throw new RangeError(`${name} must be an integer >= 1, got ${limit}`);
  }
  const folds = foldSizes ?? kfoldSizes(n, Math.min(10, n));
  if (limit >= n) return { indices: issame.map((_, i) => i), foldSizes: [...folds] };
  const F = folds.length;
  if (limit < 2 * F) {
    throw new RangeError(
      `${name} ${limit} is too few: keeping same and different pairs in each of the ` +
        `${F} folds needs at least ${2 * F}`,
    );
  }
  const q = Math.floor(limit / (2 * F));
  let extra = limit - 2 * F * q;
  const indices: number[] = [];
  const kept: number[] = [];
  let start = 0;
  for (let f = 0; f < F; f++) {
    const same: number[] = [], diff: number[] = [];
    for (let i = start; i < start + folds[f]; i++) (issame[i] ? same : diff).push(i);
    const want = [same, diff].map(() => q + (extra-- > 0 ? 1 : 0));
    extra = Math.max(extra, 0);
    [same, diff].forEach((list, k) => {
      if (list.length < want[k]) {
        throw new RangeError(
          `${name} ${limit}: fold ${f} has ${list.length} ${k ? "different" : "same"}-person ` +
            `pairs, fewer than the ${want[k]} its share needs`,
        );
      }
    });
    const chosen = [...same.slice(0, want[0]), ...diff.slice(0, want[1])].sort((a, b) => a - b);
    indices.push(...chosen);
    kept.push(chosen.length);
    start += folds[f];
  }
  return { indices, foldSizes: kept };
}
