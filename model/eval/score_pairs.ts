/**
 * Scores keyed pairs with the verification protocol (`model/eval/verification.ts`): squared L2 between
 * the two images' embeddings, pairs without both embeddings left out but kept out of the folds'
 * arithmetic, so the others stay in their original folds. Shared by `deno task eval-lfw` and the
 * trainer's held-out check, so both report the same number for the same model.
 */
import { kfoldSizes } from "./np_compat.ts";
import { evaluateVerification, type VerificationResult } from "./verification.ts";

/** One pair to score. */
export interface PairSpec {
  a: string;
  b: string;
  issame: boolean;
  /** Line in the pairs file, when there is one. */
  line?: number;
}

/** The scored pairs and the bookkeeping of those left out. */
export interface ScoredPairs {
  result: VerificationResult;
  counted: number;
  skippedPairs: { index: number; line?: number; a: string; b: string; because: string[] }[];
  protocolMs: number;
}

/**
 * Scores the pairs whose two images have embeddings. Skipped pairs keep the others in their
 * original folds (the pairs.txt folds, or KFold(10) over the full list), so folds never shift.
 */
export function scorePairs(
  pairs: PairSpec[],
  embeddings: Map<string, Float32Array>,
  foldSizes: number[] | null,
): ScoredPairs {
  const t0 = performance.now();
  const sizes = foldSizes ?? kfoldSizes(pairs.length, Math.min(10, pairs.length));
  const dist: number[] = [], same: boolean[] = [], kept = new Array(sizes.length).fill(0);
  const skippedPairs: ScoredPairs["skippedPairs"] = [];
  let fold = 0, foldEnd = sizes[0];
  pairs.forEach((p, i) => {
    while (i >= foldEnd) foldEnd += sizes[++fold];
    const ea = embeddings.get(p.a), eb = embeddings.get(p.b);
    if (!ea || !eb) {
      const because = [...(ea ? [] : [p.a]), ...(eb || p.a === p.b ? [] : [p.b])];
      skippedPairs.push({ index: i, line: p.line, a: p.a, b: p.b, because });
      return;
    }
    if (ea.length !== eb.length) {
      throw new RangeError(`Pair ${i}: embeddings of ${ea.length} and ${eb.length} values`);
    }
    let s = 0;
    for (let k = 0; k < ea.length; k++) s += (ea[k] - eb[k]) ** 2;
    dist.push(s);
    same.push(p.issame);
    kept[fold]++;
  });
  const empty = kept.findIndex((k) => k === 0);
  if (empty >= 0) throw new RangeError(`Fold ${empty} has no pair left to count`);
  const result = evaluateVerification(dist, same, { foldSizes: kept });
  return { result, counted: dist.length, skippedPairs, protocolMs: performance.now() - t0 };
}
