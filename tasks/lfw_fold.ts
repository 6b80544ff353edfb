/**
 * `deno task lfw-fold --aligned DIR --pairs pairs.txt --fold k --out DIR`: an unseen-identity
 * LFW protocol. Writes a clean list of every aligned LFW image of the people who are not in fold k
 * (`train.lst`, name labels), fold k's 600 pairs as a pairs file of 10 sub-folds (`pairs.txt`)
 * and `split.json` (./lfw_fold/split.ts), then prints the `deno task train` command that trains on
 * the list and scores fold k during and after training. `--folds 1,2,3` runs the whole protocol
 * for each fold (./lfw_fold/folds_run.ts) and prints the mean and spread.
 */
import { join } from "node:path";
import { parseFlags, runTask, UsageError } from "./cli.ts";

const HELP = `Usage: deno task lfw-fold --aligned DIR --pairs FILE [--fold K] [--out DIR]
       deno task lfw-fold --aligned DIR --pairs FILE --folds 1,2,3 [--out DIR] [-- TRAIN FLAGS]

Splits LFW by the identity-disjoint folds of pairs.txt: train on everyone outside fold K, test
on fold K's 600 pairs (10-fold protocol over 10 sub-folds of 30 + 30 pairs).
  --aligned DIR   MTCNN-aligned LFW faces, DIR/<Name>/<Name>_NNNN.jpg
                  (make it with: deno task align lfw-deepfunneled DIR --on-no-face center-crop)
  --pairs FILE    the official View 2 pairs.txt ("10 300" header)
  --fold K        the test fold, 1-10 (default 1): write its split and print the train command
  --out DIR       where train.lst, pairs.txt and split.json go (default runs/lfw-fold<K>-split)
  --folds LIST    the whole protocol for each fold of LIST (e.g. 1,2,3): its split in
                  DIR/fold<K>/split, a deno task train --preset lfw-fold run in DIR/fold<K>/run
                  (flags after -- go to every run), then each fold's final held-out accuracy and
                  their mean and spread as JSON on stdout (also DIR/summary.json; default DIR
                  runs/lfw-folds-<LIST>). Run it again to resume: finished folds are read, a cut
                  off run is resumed.
  -h, --help      this help

Examples:
  deno task align ../shared/data/lfw/lfw-deepfunneled lfw_aligned --on-no-face center-crop
  deno task lfw-fold --aligned lfw_aligned --pairs ../shared/data/lfw/pairs.txt --fold 1
  deno task lfw-fold --aligned lfw_aligned --pairs ../shared/data/lfw/pairs.txt --folds 1,2,3 \\
    -- --steps 2300`;

/** "1,2,3" -> [1, 2, 3] (each 1-10, no repeats). */
function parseFolds(text: string): number[] {
  const folds = text.split(",").map((s) => Number(s.trim()));
  if (folds.some((k) => !Number.isInteger(k) || k < 1 || k > 10) || text.trim() === "") {
    throw new UsageError(`--folds must be fold numbers 1-10 separated by commas, got "${text}"`);
  }
  if (new Set(folds).size !== folds.length) {
    throw new UsageError(`--folds repeats a fold: "${text}"`);
  }
  return folds;
}

await runTask("lfw-fold", async () => {
  const { flags, positionals } = parseFlags(Deno.args, {
    aligned: { type: "string" },
    pairs: { type: "string" },
    fold: { type: "int", min: 1, max: 10 },
    folds: { type: "string" },
    out: { type: "string" },
  }, { help: HELP, positionals: [0, 1000], positionalName: "train flags after --" });
  if (!flags.aligned || !flags.pairs) throw new UsageError("--aligned and --pairs are required");
  if (flags.folds !== undefined) {
    if (flags.fold !== undefined) throw new UsageError("give --fold or --folds, not both");
    const folds = parseFolds(flags.folds);
    const out = flags.out ?? `runs/lfw-folds-${folds.join("-")}`;
    const { runFolds } = await import("./lfw_fold/folds_run.ts");
    const { writeFileAtomic } = await import("../pipeline/atomic_write.ts");
    const summary = await runFolds({
      aligned: flags.aligned,
      pairs: flags.pairs,
      folds,
      out,
      train: positionals,
    });
    const text = JSON.stringify(summary, null, 2);
    await writeFileAtomic(join(out, "summary.json"), text + "\n");
    console.error(
      `lfw-fold: folds ${folds.join(",")}: mean ${(100 * summary.mean).toFixed(2)}% ` +
        `+- ${(100 * summary.spread).toFixed(2)} (min ${(100 * summary.min).toFixed(2)}, ` +
        `max ${(100 * summary.max).toFixed(2)}) -> ${join(out, "summary.json")}`,
    );
    console.log(text);
    return;
  }
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  const k = flags.fold ?? 1;
  const out = flags.out ?? `runs/lfw-fold${k}-split`;
  const { writeFoldSplit, trainArgs } = await import("./lfw_fold/split.ts");
  const split = await writeFoldSplit(flags.aligned, flags.pairs, k, out);
  console.error(
    `lfw-fold: fold ${k}: ${split.pairs} test pairs of ${split.testPeople} people; ` +
      `${split.trainImages} training images of ${split.trainPeople} others -> ${out}`,
  );
  console.log(`deno task train ${trainArgs(out, flags.aligned).join(" ")}`);
});
