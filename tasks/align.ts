/**
 * `deno task align <input> <output>`: MTCNN-detect and align a whole data set onto the ArcFace
 * 112x112 template. Resumable (a rerun skips images whose sidecar exists; every write is temp +
 * rename) and shardable (`--shard i/n` takes the images whose key hashes to i mod n), so Slurm
 * arrays, Kubernetes indexed jobs or GNU parallel can split millions of images.
 */
import { parseArgs } from "node:util";
import { allowNegativeValues } from "./negative_args.ts";

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
  --channel-order O      rgb | bgr: channel order fed to the nets (default rgb, see README)
  --flavor F             original | facenet-pytorch: whose MTCNN arithmetic to follow
                         (default original; facenet-pytorch clips border crops, see README)
  --border B             pad | clip: R/O-Net crops crossing the border (default: the flavor's)
  --pick R               center | largest | score: which face is the subject (default center)
  --on-no-face P         skip | center-crop | fail (default skip; skips are counted and listed)
  --on-decode-error P    skip | fail: an unreadable image (default skip; counted and listed)
  --center-crop-fraction F  centre square side / short side for center-crop (default 0.53)
  --size N               output side (default 112)
  --quality Q            JPEG quality of the crops (default 95)
  --shard i/n            process only shard i (0-based) of n, by a hash of the key
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
  sbatch --array=0-99 --wrap 'deno task align imgs/ out/ --shard $SLURM_ARRAY_TASK_ID/100'
`;

/** The parsed command line, every default filled in (the defaults are those in HELP). */
export interface AlignCliOptions {
  input: string;
  output: string;
  minFaceSize: number;
  thresholds: [number, number, number];
  nms: [number, number, number, number];
  border?: "pad" | "clip";
  factor: number;
  channelOrder: "rgb" | "bgr";
  flavor: "original" | "facenet-pytorch";
  onDecodeError: "skip" | "fail";
  pick: "center" | "largest" | "score";
  onNoFace: "skip" | "center-crop" | "fail";
  centerCropFraction: number;
  size: number;
  quality: number;
  shard: [number, number];
  limit: number;
  backend: string;
  threads?: number;
  quiet: boolean;
  /** Redo a folder made with other settings. */
  overwrite?: boolean;
  /** Take a folder without align_config.json as made with the current settings. */
  adopt?: boolean;
}

/** Parses the command line; throws a one-line error for bad input. */
export function parseAlignArgs(args: string[]): AlignCliOptions | null {
  const { values: v, positionals } = parseArgs({
    args: allowNegativeValues(args),
    allowPositionals: true,
    options: {
      "min-face-size": { type: "string", default: "20" },
      thresholds: { type: "string", default: "0.6,0.7,0.7" },
      nms: { type: "string", default: "0.5,0.7,0.7,0.7" },
      border: { type: "string" },
      factor: { type: "string", default: "0.709" },
      "channel-order": { type: "string", default: "rgb" },
      flavor: { type: "string", default: "original" },
      "on-decode-error": { type: "string", default: "skip" },
      pick: { type: "string", default: "center" },
      "on-no-face": { type: "string", default: "skip" },
      "center-crop-fraction": { type: "string", default: "0.53" },
      size: { type: "string", default: "112" },
      quality: { type: "string", default: "95" },
      shard: { type: "string", default: "0/1" },
      limit: { type: "string", default: "0" },
      backend: { type: "string", default: "auto" },
      threads: { type: "string" },
      quiet: { type: "boolean", default: false },
      overwrite: { type: "boolean", default: false },
      adopt: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (v.help) return null;
  if (positionals.length !== 2) {
    throw new SyntaxError(`expected <input> <output>, got ${positionals.length} argument(s)`);
  }
  const num = (name: string, s: string) => {
    const x = Number(s);
    if (s.trim() === "" || !Number.isFinite(x)) {
      throw new SyntaxError(`--${name}: "${s}" is not a number`);
    }
    return x;
  };
  const oneOf = <T extends string>(name: string, s: string, allowed: readonly T[]): T => {
    if (!allowed.includes(s as T)) {
      throw new SyntaxError(`--${name} must be ${allowed.join(" | ")}, got "${s}"`);
    }
    return s as T;
  };
  const th = v.thresholds!.split(",").map((s) => num("thresholds", s));
  if (th.length !== 3) throw new SyntaxError(`--thresholds needs 3 numbers, got "${v.thresholds}"`);
  const nms = v.nms!.split(",").map((s) => num("nms", s));
  if (nms.length !== 4) throw new SyntaxError(`--nms needs 4 numbers, got "${v.nms}"`);
  const int = (name: string, s: string, min: number, max = Infinity) => {
    const x = num(name, s);
    if (!Number.isInteger(x) || x < min || x > max) {
      const range = max === Infinity ? `>= ${min}` : `in [${min}, ${max}]`;
      throw new SyntaxError(`--${name} must be an integer ${range}, got "${s}"`);
    }
    return x;
  };
  const m = /^(\d+)\/(\d+)$/.exec(v.shard!);
  if (!m || Number(m[2]) < 1 || Number(m[1]) >= Number(m[2])) {
    throw new SyntaxError(`--shard must be i/n with 0 <= i < n, got "${v.shard}"`);
  }
  return {
    input: positionals[0],
    output: positionals[1],
    minFaceSize: num("min-face-size", v["min-face-size"]!),
    thresholds: th as [number, number, number],
    nms: nms as [number, number, number, number],
    border: v.border === undefined
      ? undefined
      : oneOf("border", v.border, ["pad", "clip"] as const),
    factor: num("factor", v.factor!),
    channelOrder: oneOf("channel-order", v["channel-order"]!, ["rgb", "bgr"] as const),
    flavor: oneOf("flavor", v.flavor!, ["original", "facenet-pytorch"] as const),
    onDecodeError: oneOf("on-decode-error", v["on-decode-error"]!, ["skip", "fail"] as const),
    pick: oneOf("pick", v.pick!, ["center", "largest", "score"] as const),
    onNoFace: oneOf("on-no-face", v["on-no-face"]!, ["skip", "center-crop", "fail"] as const),
    centerCropFraction: num("center-crop-fraction", v["center-crop-fraction"]!),
    size: int("size", v.size!, 8),
    quality: int("quality", v.quality!, 1, 100),
    shard: [Number(m[1]), Number(m[2])],
    limit: int("limit", v.limit!, 0),
    backend: oneOf("backend", v.backend!, ["auto", "wasm", "cpu", "webgpu", "tensorflow"] as const),
    threads: v.threads === undefined ? undefined : num("threads", v.threads),
    quiet: v.quiet!,
    overwrite: v.overwrite,
    adopt: v.adopt,
  };
}

if (import.meta.main) {
  let opts: AlignCliOptions | null;
  try {
    opts = parseAlignArgs(Deno.args);
  } catch (e) {
    console.error(`align: ${(e as Error).message} (see --help)`);
    Deno.exit(2);
  }
  if (!opts) {
    console.log(HELP);
    Deno.exit(0);
  }
  try {
    const { runAlign } = await import("./align_run.ts");
    const summary = await runAlign(opts);
    if (!opts.quiet) console.error(JSON.stringify(summary));
  } catch (e) {
    // The reader of `-` went away (`| head`): a normal end for a stage, as in the other tasks.
    if (e instanceof Deno.errors.BrokenPipe) Deno.exit(0);
    console.error(`align: ${(e as Error).message}`);
    Deno.exit(1);
  }
}
