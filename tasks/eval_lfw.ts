/**
 * `deno task eval-lfw`: face verification with the insightface protocol (10 folds in file order,
 * squared-L2 thresholds 0..4 step 0.01 chosen on 9 folds, accuracy on the 10th; TAR@FAR=1e-3,
 * AUC, EER) on LFW pairs.txt + images, an insightface `.bin`, or precomputed embeddings.
 */
import { parseFlags, runTask } from "./cli.ts";
import { NORMALIZE_MODES } from "../pipeline/decode/network_input.ts";

const HELP = `Usage: deno task eval-lfw [options]

Inputs (one of):
  --pairs FILE --data DIR     pairs.txt ("10 300" header, or "N" like pairsDevTest.txt) and the
                              image folder (Name/Name_0001.jpg)
  --bin FILE                  an insightface verification .bin (lfw.bin, cfp_fp.bin, ...);
                              its images are aligned faces already (no MTCNN)
  --pairs FILE --embeddings E a float32 .npy [2N, D]: rows 2i, 2i+1 = pair i (insightface order);
                              E1,E2,... scores an ensemble (each file's rows L2-normalized, then
                              concatenated: a pair's cosine is the mean of the models'); a
                              value naming an existing file is that one file, commas and all
Model (with --data or --bin):
  --model FILE                model.json of a TF.js graph or layers model (arcstream exports too)
  --input-size N              model input side; faces are resized as in training (area when
                              shrinking, bilinear when enlarging) (default: model's)
  --normalize M               arcface (x-127.5)/128 | raw 0-255 | unit x/255 |
                              arcface_torch (x/255-0.5)/0.5 (default: the
                              export's metadata; required for other models)
  --output NAME               which model output is the embedding (default: the widest)
  --list-outputs              print the model's outputs and exit
  --aligned                   images are aligned faces already (skip MTCNN)
  --dct-scale auto|off        aligned faces (--aligned, --bin): auto decodes a JPEG at the DCT scale
                              covering the input side, then area-resizes, as train does (OpenCV's
                              IMREAD_REDUCED_COLOR_k + INTER_AREA); off: whole (imread + INTER_AREA)
                              (default auto; in report.json)
  --on-missing P              missing image / no face: skip (the pair) | center-crop | fail
                              (default skip; center-crop applies to faceless images, a missing
                              file still skips its pairs; always printed in the report)
  --batch-size N              images per forward pass (default 32)
  --backend B                 auto | wasm | cpu | webgpu | tensorflow (default auto)
  --threads N                 wasm XNNPACK threads, 1-8 (default ARCSTREAM_WASM_THREADS, else
                              one per physical core)
Output:
  --out DIR                   report.json + roc.svg, review.json + faces/ of the worst pairs
                              (what deno task serve shows; default eval_out)
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

const FLAGS = {
  data: { type: "string" },
  pairs: { type: "string" },
  bin: { type: "string" },
  embeddings: { type: "string" },
  model: { type: "string" },
  "input-size": { type: "int", min: 8 },
  normalize: { type: "string", choices: NORMALIZE_MODES },
  output: { type: "string" },
  "list-outputs": { type: "boolean" },
  aligned: { type: "boolean" },
  "dct-scale": { type: "string", choices: ["auto", "off"], default: "auto" },
  "on-missing": { type: "string", choices: ["skip", "center-crop", "fail"], default: "skip" },
  "batch-size": { type: "int", min: 1, default: 32 },
  backend: {
    type: "string",
    choices: ["auto", "wasm", "cpu", "webgpu", "tensorflow"],
    default: "auto",
  },
  threads: { type: "int", min: 1, max: 8 },
  out: { type: "string", default: "eval_out" },
  "save-embeddings": { type: "string" },
  label: { type: "string" },
  cache: { type: "string" },
  "limit-pairs": { type: "int", min: 1 },
  quiet: { type: "boolean" },
} as const;

/** Parses the flags and runs the evaluation; resolves to the exit status. */
export async function main(args: string[]): Promise<number> {
  const { flags: v } = parseFlags(args, FLAGS, { help: HELP });
  const { runEval } = await import("./eval_lfw/run.ts");
  return await runEval({
    data: v.data,
    pairs: v.pairs,
    bin: v.bin,
    embeddings: v.embeddings,
    model: v.model,
    inputSize: v["input-size"],
    normalize: v.normalize,
    output: v.output,
    listOutputs: v["list-outputs"],
    aligned: v.aligned,
    dctScale: v["dct-scale"] as "auto" | "off",
    onMissing: v["on-missing"],
    batchSize: v["batch-size"],
    backend: v.backend,
    threads: v.threads,
    out: v.out,
    saveEmbeddings: v["save-embeddings"],
    label: v.label,
    cache: v.cache,
    limitPairs: v["limit-pairs"],
    quiet: v.quiet,
  });
}

if (import.meta.main) await runTask("eval-lfw", () => main(Deno.args));
