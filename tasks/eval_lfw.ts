/**
 * `deno task eval-lfw`: face verification with the insightface protocol (10 folds in file order,
 * squared-L2 thresholds 0..4 step 0.01 chosen on 9 folds, accuracy on the 10th; TAR@FAR=1e-3,
 * AUC, EER) on LFW pairs.txt + images, an insightface `.bin`, or precomputed embeddings.
 */
import { parseArgs } from "node:util";
import { allowNegativeValues } from "./negative_args.ts";

const HELP = `Usage: deno task eval-lfw [options]

Inputs (one of):
  --pairs FILE --data DIR     pairs.txt ("10 300" header, or "N" like pairsDevTest.txt) and the
                              image folder (Name/Name_0001.jpg)
  --bin FILE                  an insightface verification .bin (lfw.bin, cfp_fp.bin, ...);
                              its images are aligned faces already (no MTCNN)
  --pairs FILE --embeddings E a float32 .npy [2N, D]: rows 2i, 2i+1 = pair i (insightface order)
Model (with --data or --bin):
  --model FILE                model.json of a TF.js graph or layers model (arcstream exports too)
  --input-size N              model input side; faces are resized bilinearly (default: model's)
  --normalize M               arcface (x-127.5)/128 | raw 0-255 | unit x/255 (default: the
                              export's metadata; required for other models)
  --output NAME               which model output is the embedding (default: the widest)
  --list-outputs              print the model's outputs and exit
  --aligned                   images are aligned faces already (skip MTCNN)
  --on-missing P              missing image / no face: skip (the pair) | center-crop | fail
                              (default skip; center-crop applies to faceless images, a missing
                              file still skips its pairs; always printed in the report)
  --batch-size N              images per forward pass (default 32)
  --backend B                 auto | wasm | cpu | webgpu | tensorflow (default auto)
Output:
  --out DIR                   report.json + roc.svg (default eval_out)
  --save-embeddings FILE      write the [2N, D] .npy (a skipped pair's rows are zeros)
  --label NAME                name in the report and plot (default: the model or input name)
  --cache FILE                resumable embedding cache (NDJSON): a rerun embeds only the rest
  --limit-pairs N             N pairs spread over the folds: the first N/2F same and N/2F
                              different pairs of each of the F folds (needs N >= 2F)
  --quiet                     no progress on stderr
  -h, --help                  this help

Examples:
  deno task eval-lfw --data ../shared/data/lfw/lfw-deepfunneled --pairs ../shared/data/lfw/pairs.txt \\
    --model ../shared/models/faceres/faceres.json --input-size 224 --normalize raw
  deno task eval-lfw --bin lfw.bin --model runs/r50/export/model.json
  deno task eval-lfw --pairs pairs.txt --embeddings lfw_embeddings.npy
`;

export async function main(args: string[]): Promise<number> {
  const { values: v } = parseArgs({
    args: allowNegativeValues(args),
    options: {
      data: { type: "string" },
      pairs: { type: "string" },
      bin: { type: "string" },
      embeddings: { type: "string" },
      model: { type: "string" },
      "input-size": { type: "string" },
      normalize: { type: "string" },
      output: { type: "string" },
      "list-outputs": { type: "boolean", default: false },
      aligned: { type: "boolean", default: false },
      "on-missing": { type: "string", default: "skip" },
      "batch-size": { type: "string", default: "32" },
      backend: { type: "string", default: "auto" },
      out: { type: "string", default: "eval_out" },
      "save-embeddings": { type: "string" },
      label: { type: "string" },
      cache: { type: "string" },
      "limit-pairs": { type: "string" },
      quiet: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (v.help) {
    console.log(HELP);
    return 0;
  }
  const int = (name: string, s: string | undefined, min: number) => {
    if (s === undefined) return undefined;
    const n = Number(s);
    if (!Number.isInteger(n) || n < min) {
      throw new RangeError(`--${name} must be an integer >= ${min}, got "${s}"`);
    }
    return n;
  };
  const inputSize = int("input-size", v["input-size"], 8);
  const batchSize = int("batch-size", v["batch-size"], 1)!;
  const limit = int("limit-pairs", v["limit-pairs"], 1);
  const onMissing = v["on-missing"] as "skip" | "center-crop" | "fail";
  if (!["skip", "center-crop", "fail"].includes(onMissing)) {
    throw new RangeError(`--on-missing must be skip, center-crop or fail, got "${onMissing}"`);
  }
  if (v.normalize !== undefined && !["arcface", "raw", "unit"].includes(v.normalize)) {
    throw new RangeError(`--normalize must be arcface, raw or unit, got "${v.normalize}"`);
  }
  const { runEval } = await import("./eval_run.ts");
  return await runEval({
    data: v.data,
    pairs: v.pairs,
    bin: v.bin,
    embeddings: v.embeddings,
    model: v.model,
    inputSize,
    normalize: v.normalize as "arcface" | "raw" | "unit" | undefined,
    output: v.output,
    listOutputs: v["list-outputs"],
    aligned: v.aligned,
    onMissing,
    batchSize,
    backend: v.backend!,
    out: v.out!,
    saveEmbeddings: v["save-embeddings"],
    label: v.label,
    cache: v.cache,
    limitPairs: limit,
    quiet: v.quiet,
  });
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (e) {
    console.error(`eval-lfw: ${(e as Error).message}`);
    Deno.exit(1);
  }
}
