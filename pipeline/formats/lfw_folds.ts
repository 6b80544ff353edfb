/**
 * An unseen-identity split of LFW by the folds of `pairs.txt`. The 10 folds of the official
 * View 2 file are identity-disjoint, so a model trained on every LFW image of the people who do
 * not appear in fold k, and scored on fold k's 600 pairs, is tested on identities it never saw
 * (fold 1: 12,052 training images of 5,314 people).
 */
import type { Pair, PairList } from "./pairs_reader.ts";

/** Fold k's pairs and the identities they name. */
export interface LfwFold {
  /** 1-based fold number. */
  fold: number;
  pairs: Pair[];
  /** Every person named by a pair of the fold. */
  people: Set<string>;
}

/** The person of an LFW image key ("Name/Name_0001" -> "Name"). */
export function personOf(key: string): string {
  return key.slice(0, key.indexOf("/"));
}

/**
 * Fold `k` (1-based) of a folded pairs list; a list without folds, or k out of range, throws.
 * @example
 * ```ts
 * import { lfwFold, readPairs } from "../mod.ts";
 *
 * const fold = lfwFold(await readPairs("fixtures/lfw_faces/heldout/pairs.txt"), 1);
 * console.log(fold);
 * ```
 */
export function lfwFold(list: PairList, k: number, name = "pairs.txt"): LfwFold {
  if (!list.foldSizes) {
    throw new RangeError(
      `"${name}" has no folds (header "N"); an unseen-identity split needs "F N"`,
    );
  }
  if (!Number.isInteger(k) || k < 1 || k > list.foldSizes.length) {
    throw new RangeError(`fold must be an integer in [1, ${list.foldSizes.length}], got ${k}`);
  }
  const start = list.foldSizes.slice(0, k - 1).reduce((a, b) => a + b, 0);
  const pairs = list.pairs.slice(start, start + list.foldSizes[k - 1]);
  const people = new Set<string>();
  for (const p of pairs) {
    people.add(personOf(p.a));
    people.add(personOf(p.b));
  }
  return { fold: k, pairs, people };
}

/**
 * Fold pairs as an LFW pairs file of `parts` sub-folds (`parts (n/parts/2)` header), each holding
 * an equal share of the fold's same and different pairs in file order. The 10-fold protocol then
 * picks each sub-fold's threshold on the other nine, with both kinds of pair in every sub-fold
 * (a bare "N" header would split the file order into folds of one kind only).
 */
export function foldPairsText(fold: LfwFold, parts = 10): string {
  const same = fold.pairs.filter((p) => p.issame);
  const diff = fold.pairs.filter((p) => !p.issame);
  if (same.length !== diff.length || same.length % parts !== 0) {
    throw new RangeError(
      `Fold ${fold.fold} has ${same.length} same and ${diff.length} different pairs; ` +
        `cannot split them into ${parts} equal sub-folds`,
    );
  }
  const per = same.length / parts;
  const split = (key: string) => {
    const name = personOf(key);
    return [name, String(Number(key.slice(key.lastIndexOf("_") + 1)))];
  };
  const lines = [`${parts} ${per}`];
  for (let i = 0; i < parts; i++) {
    for (const p of same.slice(i * per, (i + 1) * per)) {
      lines.push([...split(p.a), split(p.b)[1]].join("\t"));
    }
    for (const p of diff.slice(i * per, (i + 1) * per)) {
      lines.push([...split(p.a), ...split(p.b)].join("\t"));
    }
  }
  return lines.join("\n") + "\n";
}
