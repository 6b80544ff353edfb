/**
 * One unseen-identity LFW split (`deno task lfw-fold`): every aligned LFW image of the people who
 * are not in fold k as a clean list (`train.lst`, name labels), fold k's 600 pairs as a pairs file
 * of 10 sub-folds (`pairs.txt`), and `split.json`.
 */
import { join, relative } from "node:path";

/** What a split holds (split.json). */
export interface FoldSplit {
  fold: number;
  pairs: number;
  testPeople: number;
  trainImages: number;
  trainPeople: number;
  aligned: string;
  source: string;
}

/** Writes fold `k`'s split of the faces in `aligned` into `out`; throws if a pair image is missing. */
export async function writeFoldSplit(
  aligned: string,
  pairsPath: string,
  k: number,
  out: string,
): Promise<FoldSplit> {
  const { readPairs } = await import("../../pipeline/formats/pairs_reader.ts");
  const { lfwFold, foldPairsText, personOf } = await import("../../pipeline/formats/lfw_folds.ts");
  const { readImageFolder } = await import("../../pipeline/list/list_reader.ts");
  const { writeFileAtomic } = await import("../../pipeline/atomic_write.ts");
  const fold = lfwFold(await readPairs(pairsPath), k, pairsPath);
  const { records } = await readImageFolder(aligned);
  const have = new Set(records.map((r) => r.key));
  const missing = [...new Set(fold.pairs.flatMap((p) => [p.a, p.b]))].filter((x) => !have.has(x));
  if (missing.length > 0) {
    throw new Error(
      `${missing.length} image(s) of fold ${k} are not in "${aligned}", e.g. ` +
        `"${missing[0]}.jpg": align with --on-no-face center-crop so every pair can be scored`,
    );
  }
  const train = records.filter((r) => !fold.people.has(personOf(r.key)));
  const people = new Set(train.map((r) => personOf(r.key)));
  const lines = train.map((r) => `${relative(aligned, r.path!)} ${personOf(r.key)}`);
  await Deno.mkdir(out, { recursive: true });
  await writeFileAtomic(join(out, "train.lst"), lines.join("\n") + "\n");
  await writeFileAtomic(join(out, "pairs.txt"), foldPairsText(fold));
  const split: FoldSplit = {
    fold: k,
    pairs: fold.pairs.length,
    testPeople: fold.people.size,
    trainImages: train.length,
    trainPeople: people.size,
    aligned,
    source: pairsPath,
  };
  await writeFileAtomic(join(out, "split.json"), JSON.stringify(split, null, 2) + "\n");
  return split;
}

/** The `deno task train` arguments that train on a split in `dir` and score its fold. */
export function trainArgs(dir: string, aligned: string): string[] {
  return [
    "--preset",
    "lfw-fold",
    "--data",
    join(dir, "train.lst"),
    "--data-root",
    aligned,
    "--eval-pairs",
    join(dir, "pairs.txt"),
    "--eval-data",
    aligned,
  ];
}
