/**
 * `deno task train [options]`: trains IR-ResNet + ArcFace (arXiv 1801.07698). With no arguments,
 * the small `lfw-small` preset on the bundled LFW fixture faces, ending with a held-out score.
 */
import { parseArgs } from "node:util";

const HELP = `Usage: deno task train [options]

Trains an IR-ResNet with an ArcFace (or CosFace / combined) margin head. With no options: the
"lfw-small" preset on fixtures/lfw_faces/train (a few minutes on 2 CPU cores), then a verification
score on the held-out pairs of identities it did not train on.

  --preset NAME          lfw-small (default), tiny, r18, r34, r50, r100, r50-ms1m, mbf, mbf-large
  --data PATH            image-folder tree, clean list ("path label" lines), or .rec
  --data-root DIR        root of relative paths in a clean list (default: the list's folder)
  --network NAME         r18, r34, r50, r100 (or 50), mbf, mbf-large (MobileFaceNet, 112)
  --width X              width multiplier (0.25 -> 16/32/64/128 channels)
  --input-size N         input side, a multiple of 16 (default 112; lfw-small: 64)
  --batch-size N         samples per optimizer step
  --micro-batch N        gradient accumulation: forward/backward N samples at a time
  --lr X                 base learning rate (scales the preset's schedule)
  --lr-steps A,B,...     piecewise schedule boundaries (steps); values lr, lr/10, lr/100, ...
  --warmup N             linear warmup steps, then polynomial (power 2) decay to 0
  --steps N | --epochs N training length
  --margin TYPE          arcface | cosface | combined
  --s X  --m X           scale and margin (combined: --m1 --m2 --m3)
  --wd X                 weight decay (default 5e-4)   --momentum X (default 0.9)
  --dropout X            dropout rate of the output block (paper presets: 0.4)
  --seed N               data order / flip seed
  --out DIR              run folder (default runs/<preset>-<timestamp>)
  --resume               continue from the newest checkpoint in --out
  --checkpoint-every N   --keep K   --log-every N
  --eval-pairs FILE      LFW-format pairs.txt of aligned faces (images beside it); "" for none
  --eval-every N         evaluate every N steps (default: only at the end)
  --backend NAME         auto, tensorflow, webgpu, wasm, cpu
  --workers N            decode workers (default 2)
  -h, --help             this text

Outputs in the run folder: log.txt, log.jsonl, checkpoints/ckpt-<step>.arcs, export/model.json.
Ctrl-C saves a checkpoint and exits; a NaN/Inf loss stops the run, keeping the last checkpoint.`;

function fail(message: string): never {
  console.error(`train: ${message}`);
  Deno.exit(1);
}

const OPTIONS = {
  preset: { type: "string" },
  data: { type: "string" },
  "data-root": { type: "string" },
  network: { type: "string" },
  width: { type: "string" },
  "input-size": { type: "string" },
  "batch-size": { type: "string" },
  "micro-batch": { type: "string" },
  lr: { type: "string" },
  "lr-steps": { type: "string" },
  warmup: { type: "string" },
  steps: { type: "string" },
  epochs: { type: "string" },
  margin: { type: "string" },
  s: { type: "string" },
  m: { type: "string" },
  m1: { type: "string" },
  m2: { type: "string" },
  m3: { type: "string" },
  wd: { type: "string" },
  momentum: { type: "string" },
  dropout: { type: "string" },
  seed: { type: "string" },
  out: { type: "string" },
  resume: { type: "boolean" },
  "checkpoint-every": { type: "string" },
  keep: { type: "string" },
  "log-every": { type: "string" },
  "eval-pairs": { type: "string" },
  "eval-every": { type: "string" },
  backend: { type: "string" },
  workers: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

async function main(): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({ args: Deno.args, options: OPTIONS, allowPositionals: false });
  } catch (e) {
    fail(`${(e as Error).message} (see --help)`);
  }
  const v = parsed.values;
  if (v.help) {
    console.log(HELP);
    return;
  }
  const { configFromFlags } = await import("../model/train/train_flags.ts");
  const { parseBackendName, initBackend } = await import("../model/backend/backend.ts");
  const { runTraining } = await import("../model/train/train_run.ts");
  const { latestCheckpoint, loadCheckpoint } = await import("../model/train/checkpoint.ts");

  let out = v.out;
  let config;
  if (v.resume) {
    if (!out) fail("--resume needs --out <run folder>");
    const path = await latestCheckpoint(`${out}/checkpoints`);
    if (!path) fail(`--resume: no checkpoint in "${out}/checkpoints"`);
    // The run continues with the configuration it started with.
    const ck = await loadCheckpoint(path);
    ck.tensors.forEach((t) => t.dispose());
    config = ck.meta.config as import("../model/train/presets.ts").TrainConfig;
  } else {
    config = configFromFlags(v);
    const stamp = new Date().toISOString().replace(/[-:]/g, "").replace(/\..*/, "");
    out ??= `runs/${config.preset}-${stamp}`;
  }
  const backend = await initBackend({ backend: parseBackendName(v.backend ?? "auto") });
  console.log(`backend: ${backend.name} (${backend.detail})`);

  const abort = new AbortController();
  const onSigint = () => {
    if (abort.signal.aborted) Deno.exit(130); // second Ctrl-C: leave now
    console.error(
      "\ninterrupt: finishing the current step and saving a checkpoint (Ctrl-C again to quit)",
    );
    abort.abort();
  };
  Deno.addSignalListener("SIGINT", onSigint);
  const started = performance.now();
  const workers = v.workers === undefined ? undefined : Number(v.workers);
  const s = await runTraining({
    config,
    out: out!,
    resume: v.resume,
    signal: abort.signal,
    workers,
  });
  Deno.removeSignalListener("SIGINT", onSigint);
  const fmt = (x: number | null, d = 4) => (x === null ? "-" : x.toFixed(d));
  console.log(
    [
      "",
      `== ${s.stoppedBy === "done" ? "done" : s.stoppedBy} after ${s.step} steps in ${
        ((performance.now() - started) / 1000).toFixed(1)
      } s (${s.imagesPerSec.toFixed(1)} images/s on ${backend.name})`,
      `loss ${fmt(s.firstLoss)} -> ${fmt(s.lastLoss)}; training accuracy ${
        fmt(s.firstAccuracy)
      } -> ${fmt(s.lastAccuracy)}`,
      s.heldout
        ? `held-out verification: ${(100 * s.heldout.accuracy).toFixed(2)}% +- ${
          (100 * s.heldout.std).toFixed(2)
        } (AUC ${s.heldout.auc.toFixed(4)}, ${s.heldout.pairs} pairs of unseen identities)`
        : "held-out verification: not run",
      `checkpoint: ${s.checkpoint ?? "-"}`,
      `export: ${s.exportDir ? `${s.exportDir}/model.json` : "-"}`,
      `log: ${out}/log.txt, ${out}/log.jsonl`,
    ].join("\n"),
  );
  if (s.stoppedBy === "non-finite loss") fail(s.error ?? "non-finite loss");
  if (s.stoppedBy === "interrupted") Deno.exit(130);
}

try {
  await main();
  Deno.exit(0);
} catch (e) {
  fail((e as Error).message);
}
