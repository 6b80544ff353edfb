/**
 * `deno task train --val-targets lfw,cfp_fp,agedb_30`: the insightface validation sets a run
 * scores every `--eval-every` steps (arcface_torch's `CallBackVerification`; recorded by
 * `model/train/val_targets.ts`). A name is `<name>.bin` in the folder of the `.rec` given as
 * `--data` (arcface_torch's `rec_prefix`); anything with a slash or ending in `.bin` is a path.
 *
 * Everything is checked before training starts: a missing file is a usage error naming it, a file
 * that is not a `.bin` or holds an image that does not decode is a failure naming both. Scoring
 * reuses `eval-lfw --bin`'s code: its pair loader (identical images shared), its embedding path
 * (decode as training decodes, flip test) and its protocol (`model/eval/score_pairs.ts`).
 */
import { basename, dirname, join } from "node:path";
import { type DctScale, decodeImage } from "../../pipeline/decode/decode_image.ts";
import { embedAll } from "../../model/eval/embed_images.ts";
import { Embedder } from "../../model/eval/embed_stream.ts";
import { scorePairs } from "../../model/eval/score_pairs.ts";
import type { ValTarget } from "../../model/train/val_targets.ts";
import { UsageError } from "../cli.ts";
import { loadEvalPairs } from "../eval_lfw/pairs.ts";

/** A target resolved to its file. */
export interface ValTargetFile {
  name: string;
  path: string;
}

const isPath = (t: string) => /[\/\\]/.test(t) || t.endsWith(".bin");

/** Resolves `--val-targets` entries against `--data`; a missing file is a `UsageError`. */
export async function resolveValTargets(targets: string[], data: string): Promise<ValTargetFile[]> {
  const out: ValTargetFile[] = [];
  for (const t of targets) {
    let path = t;
    if (!isPath(t)) {
      if (!data.endsWith(".rec")) {
        throw new UsageError(
          `--val-targets "${t}": a bare name means "${t}.bin" beside the --data .rec file, but ` +
            `--data is "${data}"; give the .bin's path instead`,
        );
      }
      path = join(dirname(data), `${t}.bin`);
    }
    const stat = await Deno.stat(path).catch(() => null);
    if (!stat?.isFile) {
      throw new UsageError(`--val-targets "${t}": no such file "${path}"`);
    }
    const name = basename(path).replace(/\.bin$/, "");
    if (out.some((o) => o.name === name)) {
      throw new UsageError(`--val-targets: "${name}" is given twice`);
    }
    out.push({ name, path });
  }
  return out;
}

/**
 * Reads each target (`loadEvalPairs`, as `eval-lfw --bin` does) and decodes every face once, so a
 * damaged set fails now and not hours into training; returns the targets the trainer scores.
 */
export async function loadValTargets(
  files: ValTargetFile[],
  inputSize: number,
  // The run's decode rule (config.dctScale), as the held-out check uses: default "auto".
  options: { dctScale?: DctScale } = {},
): Promise<ValTarget[]> {
  const { dctScale } = options;
  const out: ValTarget[] = [];
  for (const { name, path } of files) {
    const set = await loadEvalPairs({ bin: path });
    if (set.pairs.length < 10) {
      throw new RangeError(`"${path}" holds ${set.pairs.length} pairs; 10 folds need at least 10`);
    }
    for (const im of set.images) {
      await decodeImage(im.bytes!, {
        name: `${path} image ${im.key}`,
        reduceTo: inputSize,
        dctScale,
      });
    }
    out.push({
      name,
      path,
      pairs: set.pairs.length,
      evaluate: async (model) => {
        const embedder = new Embedder(model, { inputSize, normalize: "arcface", flip: true });
        const { embeddings } = await embedAll(set.images, embedder, {
          aligned: true, // .bin files hold aligned faces
          onMissing: "fail",
          dctScale,
        });
        return scorePairs(set.pairs, embeddings, set.foldSizes).result;
      },
    });
  }
  return out;
}
