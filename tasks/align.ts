/**
 * `deno task align <input> <output>`: MTCNN-detect and align a whole data set onto the ArcFace
 * 112x112 template. Resumable (a rerun skips images whose sidecar exists; every write is temp +
 * rename) and shardable (`--shard i/n` takes the images whose key hashes to i mod n), so Slurm
 * arrays, Kubernetes indexed jobs or GNU parallel can split millions of images.
 */
import { parseFlags, runTask, UsageError } from "./cli.ts";
import type { AlignCliOptions } from "./align/options.ts";
import { shardFromEnv } from "./align/shard.ts";
import { ARCFACE_SIZE } from "../pipeline/align/similarity.ts";

const HELP = `Usage: deno task align <input> <output> [options]

  <input>   an image-folder tree (any depth, symlinks followed), a list file ("path label"
            clean-list lines or plain paths, relative to the list's folder), or - for records
            on stdin: NDJSON {key, label, path} or a WebDataset tar (.jpg/.png bytes or decoded
            .rgb + .json, as deno task list / decode write them)
  <output>  a folder (mirrors the input's relative paths: <key>.jpg + <key>.json sidecar, plus
            align_report[.i-of-n].json), a .tar (WebDataset: <key>.jpg + <key>.json), or - for
            a tar stream on stdout

Options:
  --min-face-size N      smallest face side in pixels (default 20)
  --thresholds A,B,C     P/R/O-Net score thresholds (default 0.6,0.7,0.7)
  --factor F             pyramid scale factor (default 0.709)
  --nms A,B,C,D          NMS thresholds: P-Net per scale, across scales, R-Net, O-Net ('Min')
                         (default 0.5,0.7,0.7,0.7)
  --channel-order O      rgb | bgr: channel order fed to the nets (default rgb; docs/alignment.md)
  --flavor F             original | facenet-pytorch: whose MTCNN arithmetic to follow
                         (default original; facenet-pytorch clips border crops, docs/alignment.md)
  --border B             pad | clip: R/O-Net crops crossing the border (default: the flavor's)
  --pick R               center | largest | score: which face is the subject (default center)
  --on-no-face P         skip | center-crop | fail (default skip; skips are counted and listed)
  --on-decode-error P    skip | fail: an unreadable image (default skip; counted and listed)
  --dct-scale auto|off   accepted as train/decode/eval-lfw take it; align decodes every image whole
                         either way (MTCNN and the warp read full resolution): cv2.imread's pixels
  --center-crop-fraction F  centre square side / short side for center-crop (default 0.53)
  --size N               output side (default 112)
  --quality Q            JPEG quality of the crops (default 95)
  --shard i/n            process only shard i (0-based) of n, by a hash of the key
  --shard auto           i and n from SLURM_ARRAY_TASK_ID / SLURM_ARRAY_TASK_COUNT (a Slurm
                         array), or JOB_COMPLETION_INDEX with --shards N (Kubernetes Indexed Job)
  --shards N             with --shard auto: the shard count (overrides SLURM_ARRAY_TASK_COUNT,
                         e.g. for one task resubmitted alone)
  --limit N              stop after N input images (after sharding and resume)
  --backend B            auto | wasm | cpu | webgpu | tensorflow (default auto)
  --threads N            wasm XNNPACK threads, 1-8 (default ARCSTREAM_WASM_THREADS, else 1)
  --overwrite            redo every image of an output folder made with other settings
                         (recorded in <output>/align_config.json; without it such a rerun is an error)
  --adopt                an output folder without align_config.json (older arcstream): record the
                         settings given now as its settings and keep its crops
  --quiet                no progress bar
  -h, --help             this help

Examples:
  deno task align ../shared/data/lfw/lfw-deepfunneled /tmp/lfw_aligned
  sbatch --array=0-99 --wrap 'deno task align imgs/ out/ --shard auto'   (docs/cluster.md)
`;

const BACKENDS = ["auto", "wasm", "cpu", "webgpu", "tensorflow"] as const;

/** The flags of `deno task align` (defaults as in HELP). */
const FLAGS = {
  "min-face-size": { type: "number", above: 0, default: 20 },
  thresholds: { type: "string", default: "0.6,0.7,0.7" },
  nms: { type: "string", default: "0.5,0.7,0.7,0.7" },
  border: { type: "string", choices: ["pad", "clip"] },
  factor: { type: "number", above: 0, below: 1, default: 0.709 },
  "channel-order": { type: "string", choices: ["rgb", "bgr"], default: "rgb" },
  flavor: { type: "string", choices: ["original", "facenet-pytorch"], default: "original" },
  "on-decode-error": { type: "string", choices: ["skip", "fail"], default: "skip" },
  "dct-scale": { type: "string", choices: ["auto", "off"], default: "auto" },
  pick: { type: "string", choices: ["center", "largest", "score"], default: "center" },
  "on-no-face": { type: "string", choices: ["skip", "center-crop", "fail"], default: "skip" },
  "center-crop-fraction": { type: "number", above: 0, max: 1, default: 0.53 },
  size: { type: "int", min: 8, default: ARCFACE_SIZE },
  quality: { type: "int", min: 1, max: 100, default: 95 },
  shard: { type: "string", default: "0/1" },
  shards: { type: "int", min: 1 },
  limit: { type: "int", min: 0, default: 0 },
  backend: { type: "string", choices: BACKENDS, default: "auto" },
  threads: { type: "int", min: 1, max: 8 },
  quiet: { type: "boolean" },
  overwrite: { type: "boolean" },
  adopt: { type: "boolean" },
} as const;

/** A comma-separated list of `n` numbers, e.g. `--thresholds 0.6,0.7,0.7`. */
function numberList(name: string, s: string, n: number): number[] {
  const xs = s.split(",").map(Number);
  if (xs.length !== n || s.split(",").some((t) => t.trim() === "") || !xs.every(isFinite)) {
    throw new UsageError(`--${name} needs ${n} comma-separated numbers, got "${s}"`);
  }
  return xs;
}

/** Parses the command line; throws a `UsageError` naming the flag (`HelpRequested` for --help). */
export function parseAlignArgs(
  args: string[],
  env: Record<string, string | undefined> = Deno.env.toObject(),
): AlignCliOptions {
  const { flags: v, positionals } = parseFlags(args, FLAGS, {
    help: HELP,
    positionals: [2, 2],
    positionalName: "<input> <output>",
  });
  if (v.shards !== undefined && v.shard !== "auto") {
    throw new UsageError("--shards N goes with --shard auto");
  }
  const m = /^(\d+)\/(\d+)$/.exec(v.shard);
  const shard = v.shard === "auto"
    ? shardFromEnv(env, v.shards)
    : m && [Number(m[1]), Number(m[2])];
  if (!shard || shard[1] < 1 || shard[0] >= shard[1]) {
    throw new UsageError(`--shard must be i/n with 0 <= i < n, or auto, got "${v.shard}"`);
  }
  return {
    input: positionals[0],
    output: positionals[1],
    minFaceSize: v["min-face-size"],
    thresholds: numberList("thresholds", v.thresholds, 3) as [number, number, number],
    nms: numberList("nms", v.nms, 4) as [number, number, number, number],
    border: v.border,
    factor: v.factor,
    channelOrder: v["channel-order"],
    flavor: v.flavor,
    onDecodeError: v["on-decode-error"],
    dctScale: v["dct-scale"] as "auto" | "off",
    pick: v.pick,
    onNoFace: v["on-no-face"],
    centerCropFraction: v["center-crop-fraction"],
    size: v.size,
    quality: v.quality,
    shard: shard as [number, number],
    limit: v.limit,
    backend: v.backend,
    threads: v.threads,
    quiet: v.quiet,
    overwrite: v.overwrite,
    adopt: v.adopt,
  };
}

if (import.meta.main) {
  await runTask("align", async () => {
    const opts = parseAlignArgs(Deno.args);
    const { runAlign } = await import("./align/run.ts");
    const summary = await runAlign(opts);
    if (!opts.quiet) console.error(JSON.stringify(summary));
  });
}
