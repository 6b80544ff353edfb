/**
 * `deno task train [options]`: trains IR-ResNet + ArcFace (arXiv 1801.07698). With no arguments,
 * the small `lfw-small` preset on the bundled LFW fixture faces, ending with a held-out score.
 */
import { parseFlags, runTask, UsageError } from "./cli.ts";
import type { RunSummary } from "../model/train/run_types.ts";
import type { TrainConfig } from "../model/train/presets.ts";
import { TRAIN_FLAGS } from "./train/flags.ts";

const HELP = `Usage: deno task train [options]

Trains an IR-ResNet with an ArcFace (or CosFace / combined) margin head. With no options: the
"lfw-small" preset on fixtures/lfw_faces/train, then a verification score on the held-out pairs of
identities it did not train on (its time and score on 2 CPU cores: docs/benchmarks.md).

  --preset NAME          lfw-small (default), tiny, r18, r34, r50, r100, r50-ms1m, mbf, mbf-large
  --data PATH            image-folder tree, clean list ("path label" lines), or .rec;
                         "-": records on stdin, batched as they arrive (see below)
  --num-classes N        number of identities; required with --data - (a stream cannot be
                         read twice to count them), else 1 + the largest label
  --data-root DIR        root of relative paths in a clean list (default: the list's folder)
  --network NAME         r18, r34, r50, r100 (or 50), mbf, mbf-large (MobileFaceNet, 112)
  --width X              width multiplier (0.25 -> 16/32/64/128 channels)
  --input-size N         input side, a multiple of 16 (default 112; lfw-small, lfw-fold: 64)
  --embedding-size N     embedding (feature) size (default 512; lfw-small: 128)
  --net-style S          IR-ResNet details: arcstream (BN eps 2e-5, TF "same" stride-2 padding,
                         trained output-BN scale, Kaiming init) or arcface_torch (its iresnet.py:
                         eps 1e-5, symmetric padding, output-BN scale fixed at 1, normal(0, 0.1))
  --batch-size N         samples per optimizer step
  --micro-batch N        gradient accumulation: forward/backward N samples at a time
  --lr X                 base learning rate (scales the preset's schedule)
  --lr-steps A,B,...     piecewise schedule boundaries (steps); values lr, lr/10, lr/100, ...
  --warmup N             linear warmup steps, then polynomial (power 2) decay to 0
  --steps N | --epochs N training length
  --margin TYPE          arcface | cosface | combined
  --s X  --m X           scale and margin (combined: --m1 --m2 --m3)
  --margin-warmup N      softmax warm start: the first N steps train s*cos(theta) with no margin
  --wd X                 weight decay (default 5e-4)   --momentum X (default 0.9)
  --head-wd X            weight decay of the class weights alone (default: --wd; insightface's
                         fc7_wd_mult x wd): smaller class-centre norms, a higher effective lr
  --wd-on no-bias|all    decay every weight but biases and BN betas (no-bias, default: kernels,
                         class weights, BN gammas, PReLU alphas, as the original TensorFlow
                         ArcFace code) or every trained weight (arcface_torch's SGD weight_decay);
                         "seed" is the old name of no-bias
  --init-from FILE       fine-tune: start from a backbone (.pth from arcface_torch, .arcs, or an
                         arcstream model.json; its architecture wins) with a fresh margin head
  --dropout X            dropout rate of the output block (paper presets: 0.4)
  --crop-scale F         random crop: a box of F..1 of the image's side at a random place,
                         resized to the input (default 1: none)
  --jitter J             random tone: contrast x[1-J, 1+J], brightness +-J*128 (default 0: none)
  --seed N               data order / flip / crop / tone seed
  --net-seed N           seed of the network's initial weights (default 1): repeats of one
                         recipe on the same batches
  --out DIR              run folder (default runs/<preset>-<timestamp>)
  --resume               continue the run in --out from its newest intact checkpoint; flags that
                         would change the network, data or head are errors, --steps/--epochs/
                         --lr*/--warmup/--checkpoint-every/--keep/--log-every/--eval-* apply
  --overwrite            start a new run in a non-empty --out, deleting the old run's files
  --checkpoint-every N   --keep K   --log-every N
  --eval-pairs FILE      LFW-format pairs.txt of aligned faces (images beside it); "" for none
  --eval-data DIR        folder of the --eval-pairs images (default: the pairs file's folder)
  --eval-every N         evaluate every N steps (default: only at the end)
  --val-targets A,B,...  insightface .bin validation sets scored at each evaluation (flip test,
                         10 folds, highest so far), as arcface_torch does: a name is NAME.bin
                         beside the --data .rec (lfw,cfp_fp,agedb_30), else a path; "" for none
  --dct-scale auto|off   JPEG decode: auto (default) decodes at the 1/2, 1/4, 1/8 DCT scale covering
                         the input side, then area-resizes = OpenCV imread(IMREAD_REDUCED_COLOR_k) +
                         resize(INTER_AREA); off decodes whole = imread + INTER_AREA. Kept in
                         run.json; --resume repeats it
  --backend NAME         auto, tensorflow, webgpu, wasm, cpu
  --workers N            decode workers (default 2)
  --dry-run              write the run folder's run.json and stop (for train-order and
                         scripts/torch_run.py: the recipe run elsewhere)
  --threads N            wasm XNNPACK threads, 1-8 (default ARCSTREAM_WASM_THREADS, else one per
                         physical core; the choice and why are printed)
  -h, --help             this text

Training from a shell pipe (--data -): NDJSON records with paths, or a WebDataset tar of decoded
(.rgb + .json) or aligned (.jpg + .json) faces, each with its integer "label":
  deno task list DIR | deno task shuffle --seed 7 --epochs 20 | deno task decode |
    deno task train --data - --num-classes 25 --steps 234
The stream is batched in arrival order (shuffle upstream); training stops at --steps or when the
stream ends. --epochs needs a list (use --steps). --resume restores weights, optimizer and step and
continues with whatever the new stdin delivers: rerun the pipe with shuffle --epoch K to go on at
epoch K.

Outputs in the run folder: run.json, log.txt, log.jsonl, heldout.jsonl, curves.svg (the training
curves), events.out.tfevents.* (TensorBoard: losses, lr, accuracy, images/s, validation),
checkpoints/ckpt-<step>.arcs, export/model.json, and a lock while it trains (one trainer per
folder; see docs/runs.md).
Ctrl-C saves a checkpoint and exits; a NaN/Inf loss stops the run, keeping the last checkpoint.
Exit status: 0 done, 1 failure, 2 run-folder problem (in use, not empty, conflicting --resume flag).`;

async function main(): Promise<void> {
  const { flags: v } = parseFlags(Deno.args, TRAIN_FLAGS, { help: HELP });
  const { configFromFlags } = await import("./train/flags.ts");
  const { parseBackendName, initBackend, resolveWasmThreads } = await import(
    "../model/backend/backend.ts"
  );
  const { runTraining } = await import("../model/train/train_loop.ts");
  const { RunFolderError } = await import("../model/train/run_folder.ts");
  const { BackendOutOfMemoryError } = await import("../model/backend/backend_memory.ts");
  const { outOfMemoryAdvice } = await import("./train/advice.ts");
  const { resumeConfig, storedRunConfig } = await import("./train/resume.ts");

  let out = v.out;
  let config;
  if (v.resume) {
    if (!out) throw new UsageError("--resume needs --out <run folder>");
    if (v.overwrite) throw new UsageError("--resume and --overwrite exclude each other");
    // The run continues with its stored configuration; only extending flags may change it.
    const stored = await storedRunConfig(out);
    config = resumeConfig(stored.config, v, stored.source);
  } else {
    config = configFromFlags(v);
    const stamp = new Date().toISOString().replace(/[-:]/g, "").replace(/\..*/, "");
    out ??= `runs/${config.preset}-${stamp}`;
  }
  if (v["dry-run"]) return await dryRun(config, out!, v.resume === true);
  // --val-targets: every .bin found and readable before anything trains.
  const { loadValTargets, resolveValTargets } = await import("./train/val_targets.ts");
  const valTargets = await loadValTargets(
    await resolveValTargets(config.valTargets ?? [], config.data),
    config.network.inputSize,
    { dctScale: config.dctScale },
  );
  const backend = await initBackend({
    backend: parseBackendName(v.backend ?? "auto"),
    wasmThreads: resolveWasmThreads(v.threads, "--threads"),
  });
  console.log(`backend: ${backend.name} (${backend.detail})`);

  const abort = new AbortController();
  const { releaseHeldLocksSync } = await import("../pipeline/folder_lock.ts");
  const onSigint = () => {
    if (abort.signal.aborted) {
      releaseHeldLocksSync(); // second Ctrl-C: leave now, without leaving a stale lock
      Deno.exit(130);
    }
    console.error(
      "\ninterrupt: finishing the current step and saving a checkpoint (Ctrl-C again to quit)",
    );
    abort.abort();
  };
  Deno.addSignalListener("SIGINT", onSigint);
  const started = performance.now();
  const s = await runTraining({
    config,
    out: out!,
    resume: v.resume,
    overwrite: v.overwrite,
    signal: abort.signal,
    workers: v.workers,
    valTargets,
    stdin: pipedStdin,
  }).catch((e) => {
    // The library says what to do; the command line says which flag does it.
    if (e instanceof BackendOutOfMemoryError) throw outOfMemoryAdvice(e, config.batchSize);
    if (!(e instanceof RunFolderError && e.reason === "not empty")) throw e;
    const what = e.message.replace(/: resume its run or overwrite it$/, "");
    throw new RunFolderError(
      `${what}; add --resume to continue its run or --overwrite to replace it`,
    );
  });
  Deno.removeSignalListener("SIGINT", onSigint);
  console.log(summaryText(s, out!, backend.name, (performance.now() - started) / 1000));
  if (s.stoppedBy === "non-finite loss") throw new Error(s.error ?? "non-finite loss");
  if (s.stoppedBy === "interrupted") Deno.exit(130);
}

/**
 * --dry-run: the run folder's run.json for this config, nothing trained (what `train-order` and
 * scripts/torch_run.py read to run the recipe elsewhere).
 */
async function dryRun(config: TrainConfig, out: string, resume: boolean): Promise<void> {
  if (resume) throw new UsageError("--dry-run writes a new run's run.json; --resume has one");
  if (config.epochs !== undefined) throw new UsageError("--dry-run needs --steps, not --epochs");
  const { readRunJson, writeRunJson } = await import("../model/train/run_folder.ts");
  if (await readRunJson(out)) throw new UsageError(`"${out}" already holds a run.json`);
  await Deno.mkdir(out, { recursive: true });
  await writeRunJson(out, { version: 1, created: new Date().toISOString(), config, history: [] });
  console.log(`wrote ${out}/run.json (--dry-run: nothing trained)`);
}

/** The closing lines of a run: how it ended, the losses, the held-out score, where things are. */
function summaryText(s: RunSummary, out: string, backend: string, seconds: number): string {
  const fmt = (x: number | null, d = 4) => (x === null ? "-" : x.toFixed(d));
  return [
    "",
    `== ${s.stoppedBy === "done" ? "done" : s.stoppedBy} after ${s.step} steps in ${
      seconds.toFixed(1)
    } s (${s.imagesPerSec.toFixed(1)} images/s on ${backend})`,
    `loss ${fmt(s.firstLoss)} -> ${fmt(s.lastLoss)}; training accuracy ${fmt(s.firstAccuracy)} -> ${
      fmt(s.lastAccuracy)
    }`,
    s.heldout
      ? `held-out verification: ${(100 * s.heldout.accuracy).toFixed(2)}% +- ${
        (100 * s.heldout.std).toFixed(2)
      } (AUC ${s.heldout.auc.toFixed(4)}, ${s.heldout.pairs} pairs of unseen identities)`
      : "held-out verification: not run",
    ...(s.val ?? []).map((r) =>
      `${r.name}: ${(100 * r.accuracy).toFixed(2)}% +- ${(100 * r.std).toFixed(2)} ` +
      `(highest ${(100 * r.highest).toFixed(2)}%, ${r.pairs} pairs, flip test)`
    ),
    `checkpoint: ${s.checkpoint ?? "-"}`,
    `export: ${s.exportDir ? `${s.exportDir}/model.json` : "-"}`,
    `curves: ${s.plot ?? "-"} (loss, accuracy, lr, held-out; open in a browser)`,
    `log: ${out}/log.txt, ${out}/log.jsonl, TensorBoard: tensorboard --logdir ${out}`,
  ].join("\n");
}

/** `--data -`: the records piped in (a terminal is a usage error, not a hang). */
function pipedStdin(): ReadableStream<Uint8Array> {
  if (Deno.stdin.isTerminal()) {
    throw new TypeError("--data - reads records from stdin: pipe them in (see --help)");
  }
  return Deno.stdin.readable;
}

await runTask("train", main);
