/**
 * `deno task bench eval`: (1) the verification protocol alone on 6,000 pairs of synthetic
 * embeddings (random 512-d unit vectors; a same pair's second vector is the first mixed with noise
 * so accuracies land near a real model's), (2) with `--model` and `--data`/`--pairs` (or `--bin`),
 * end-to-end pairs/s of `eval-lfw` on the first `--limit-pairs` pairs. Prints one JSON object.
 */
import { parseFlags, runTask } from "../tasks/cli.ts";

const HELP = `Usage: deno task bench eval [options]

  --pairs-count N     synthetic pairs for the protocol timing (default 6000)
  --dim D             synthetic embedding size (default 512)
  --repeats R         protocol runs; the median is reported (default 5)
  --seed S            synthetic data seed (default 1)
  --model FILE        also time eval-lfw end to end with this model.json
  --data DIR          LFW images (default ../shared/data/lfw/lfw-deepfunneled)
  --pairs FILE        pairs file (default ../shared/data/lfw/pairs.txt)
  --bin FILE          an insightface .bin instead of --data/--pairs
  --input-size N, --normalize M, --aligned, --backend B, --batch-size N   passed to eval-lfw
  --limit-pairs N     pairs for the end-to-end timing (default 300)
`;

export async function main(args: string[]): Promise<void> {
  const { flags: v } = parseFlags(args, {
    "pairs-count": { type: "int", min: 20, default: 6000 },
    dim: { type: "int", min: 2, default: 512 },
    repeats: { type: "int", min: 1, default: 5 },
    seed: { type: "int", min: 0, default: 1 },
    model: { type: "string" },
    data: { type: "string", default: "../shared/data/lfw/lfw-deepfunneled" },
    pairs: { type: "string", default: "../shared/data/lfw/pairs.txt" },
    bin: { type: "string" },
    "input-size": { type: "int", min: 8 },
    normalize: { type: "string", choices: ["arcface", "raw", "unit"] },
    aligned: { type: "boolean" },
    backend: { type: "string", default: "auto" },
    "batch-size": { type: "int", min: 1, default: 32 },
    "limit-pairs": { type: "int", min: 1, default: 300 },
  }, { help: HELP });
  const { "pairs-count": N, dim: D, repeats: R, seed } = v;
  const { Prng } = await import("../pipeline/shuffle/prng.ts");
  const { evaluateVerification, pairDistances } = await import("../model/eval/verification.ts");
  const rng = new Prng(seed);
  const gauss = () =>
    Math.sqrt(-2 * Math.log(1 - rng.nextFloat())) * Math.cos(2 * Math.PI * rng.nextFloat());
  const unit = (x: Float32Array) => {
    const n = Math.hypot(...x);
    for (let k = 0; k < x.length; k++) x[k] /= n;
    return x;
  };
  // [2N, D]: LFW layout, folds of 300 same then 300 different pairs.
  const emb = new Float32Array(2 * N * D);
  const issame: boolean[] = [];
  for (let i = 0; i < N; i++) {
    const same = i % 600 < 300;
    const a = unit(Float32Array.from({ length: D }, gauss));
    const noise = unit(Float32Array.from({ length: D }, gauss));
    // Same pair: cos ~ 0.4 +- 0.15; different: independent (cos ~ 0 +- 1/sqrt(D)).
    const c = 0.4 + 0.15 * gauss();
    const b = same
      ? unit(a.map((x, k) => c * x + Math.sqrt(Math.max(0, 1 - c * c)) * noise[k]))
      : unit(Float32Array.from({ length: D }, gauss));
    emb.set(a, 2 * i * D);
    emb.set(b, (2 * i + 1) * D);
    issame.push(same);
  }
  const times: number[] = [], distTimes: number[] = [];
  let result = evaluateVerification(pairDistances(emb, D), issame);
  for (let r = 0; r < R; r++) {
    const t0 = performance.now();
    const dist = pairDistances(emb, D);
    const t1 = performance.now();
    result = evaluateVerification(dist, issame);
    times.push(performance.now() - t0);
    distTimes.push(t1 - t0);
  }
  const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
  const out: Record<string, unknown> = {
    bench: "eval",
    protocol: {
      pairs: N,
      dim: D,
      repeats: R,
      msMedian: +median(times).toFixed(2),
      distancesMsMedian: +median(distTimes).toFixed(2),
      msAll: times.map((t) => +t.toFixed(2)),
      accuracy: +result.accuracyMean.toFixed(4),
      tarAtFar1e3: +result.tar.mean.toFixed(4),
      auc: +result.auc.toFixed(5),
    },
  };
  if (v.model) out.endToEnd = await endToEnd(v);
  console.log(JSON.stringify(out));
}

/** Runs eval-lfw on a subset in a child process and reads its report's timing. */
async function endToEnd(v: Record<string, string | number | boolean | undefined>) {
  const dir = await Deno.makeTempDir({ prefix: "bench_eval_" });
  try {
    const args = [
      "run",
      "-A",
      new URL("../tasks/eval_lfw.ts", import.meta.url).pathname,
      "--quiet",
    ];
    const s = (k: string) => String(v[k]);
    if (v.bin) args.push("--bin", s("bin"));
    else args.push("--data", s("data"), "--pairs", s("pairs"));
    args.push("--model", s("model"), "--limit-pairs", s("limit-pairs"));
    args.push("--backend", s("backend"), "--batch-size", s("batch-size"));
    args.push("--out", dir);
    if (v["input-size"]) args.push("--input-size", s("input-size"));
    if (v.normalize) args.push("--normalize", s("normalize"));
    if (v.aligned) args.push("--aligned");
    const t0 = performance.now();
    const p = await new Deno.Command(Deno.execPath(), { args, stdout: "null", stderr: "piped" })
      .output();
    const wall = (performance.now() - t0) / 1000;
    if (p.code !== 0) throw new Error(new TextDecoder().decode(p.stderr).trim().split("\n").pop());
    const rep = JSON.parse(await Deno.readTextFile(`${dir}/report.json`));
    return {
      pairs: rep.counts.pairs,
      images: rep.counts.images,
      aligned: rep.policy.aligned,
      backend: rep.backend,
      embedSeconds: +rep.timing.embedSeconds.toFixed(2),
      pairsPerSecond: +rep.timing.pairsPerSecond.toFixed(3),
      imagesPerSecond: +rep.timing.imagesPerSecond.toFixed(3),
      wallSecondsIncludingStartup: +wall.toFixed(2),
      accuracyOnSubset: rep.result.accuracyMean,
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) await runTask("bench eval", () => main(Deno.args));
