/**
 * `deno task lfw-fold --aligned DIR --pairs pairs.txt --fold k --out DIR`: an unseen-identity
 * LFW protocol. Writes a clean list of every aligned LFW image of the people who are not in fold k
 * (`train.lst`, name labels), fold k's 600 pairs as a pairs file of 10 sub-folds (`pairs.txt`)
 * and `split.json`, then prints the `deno task train` command that trains on the list and scores
 * fold k during and after training.
 */
import { join, relative } from "node:path";
import { parseFlags, runTask, UsageError } from "./cli.ts";

const HELP = `Usage: deno task lfw-fold --aligned DIR --pairs FILE [--fold K] [--out DIR]

Splits LFW by the identity-disjoint folds of pairs.txt: train on everyone outside fold K, test
on fold K's 600 pairs (10-fold protocol over 10 sub-folds of 30 + 30 pairs).
  --aligned DIR   MTCNN-aligned LFW faces, DIR/<Name>/<Name>_NNNN.jpg
                  (make it with: deno task align lfw-deepfunneled DIR --on-no-face center-crop)
  --pairs FILE    the official View 2 pairs.txt ("10 300" header)
  --fold K        the test fold, 1-10 (default 1)
  --out DIR       where train.lst, pairs.txt and split.json go (default runs/lfw-fold<K>-split)
  -h, --help      this help

Example:
  deno task align ../shared/data/lfw/lfw-deepfunneled lfw_aligned --on-no-face center-crop
  deno task lfw-fold --aligned lfw_aligned --pairs ../shared/data/lfw/pairs.txt --fold 1`;

await runTask("lfw-fold", async () => {
  const { flags } = parseFlags(Deno.args, {
    aligned: { type: "string" },
    pairs: { type: "string" },
    fold: { type: "int", min: 1, max: 10, default: 1 },
    out: { type: "string" },
  }, { help: HELP });
  if (!flags.aligned || !flags.pairs) throw new UsageError("--aligned and --pairs are required");
  const k = flags.fold;
  const out = flags.out ?? `runs/lfw-fold${k}-split`;
  const { readPairs } = await import("../pipeline/formats/pairs_reader.ts");
  const { lfwFold, foldPairsText, personOf } = await import("../pipeline/formats/lfw_folds.ts");
  const { readImageFolder } = await import("../pipeline/list/list_reader.ts");
  const { writeFileAtomic } = await import("../pipeline/atomic_write.ts");
  const fold = lfwFold(await readPairs(flags.pairs), k, flags.pairs);
  const { records } = await readImageFolder(flags.aligned);
  const have = new Set(records.map((r) => r.key));
  const missing = [...new Set(fold.pairs.flatMap((p) => [p.a, p.b]))].filter((x) => !have.has(x));
  if (missing.length > 0) {
    throw new Error(
      `${missing.length} image(s) of fold ${k} are not in "${flags.aligned}", e.g. ` +
        `"${missing[0]}.jpg": align with --on-no-face center-crop so every pair can be scored`,
    );
  }
  const train = records.filter((r) => !fold.people.has(personOf(r.key)));
  const people = new Set(train.map((r) => personOf(r.key)));
  const lines = train.map((r) => `${relative(flags.aligned!, r.path!)} ${personOf(r.key)}`);
  await Deno.mkdir(out, { recursive: true });
  await writeFileAtomic(join(out, "train.lst"), lines.join("\n") + "\n");
  await writeFileAtomic(join(out, "pairs.txt"), foldPairsText(fold));
  const split = {
    fold: k,
    pairs: fold.pairs.length,
    testPeople: fold.people.size,
    trainImages: train.length,
    trainPeople: people.size,
    aligned: flags.aligned,
    source: flags.pairs,
  };
  await writeFileAtomic(join(out, "split.json"), JSON.stringify(split, null, 2) + "\n");
  console.error(
    `lfw-fold: fold ${k}: ${fold.pairs.length} test pairs of ${fold.people.size} people; ` +
      `${train.length} training images of ${people.size} others -> ${out}`,
  );
  console.log(
    `deno task train --preset lfw-fold --data ${join(out, "train.lst")} --data-root ` +
      `${flags.aligned} --eval-pairs ${join(out, "pairs.txt")} --eval-data ${flags.aligned}`,
  );
});
