/**
 * `deno task train-order --run DIR`: exports the exact sequence a training run feeds its network,
 * as NDJSON, so that a peer framework (scripts/torch_run.py) trains on the same batches: which
 * images, in which order, with which labels, mirrored or not. Made by the trainer's own code
 * (`listBatches`, what `trainBatches` batches a list with: seeded per-epoch shuffle + wraparound;
 * `batchFlips`: the flips drawn from (seed, step); `batchAugments`: the crop and tone draws of a run
 * with `--crop-scale`/`--jitter`), from the run's `run.json` config.
 */
import { resolve } from "node:path";
import { parseFlags, runTask, UsageError } from "./cli.ts";

const HELP = `Usage: deno task train-order --run DIR [--steps N] [--out FILE]

Writes the batches a run trains on, one JSON line each, after a header line:
  {"numClasses":C,"images":N,"batchSize":B,"steps":S,"seed":K,"flip":true}
  {"step":0,"epoch":0,"paths":["/abs/a.jpg",...],"labels":[3,...],"flips":[true,...]}
A run with --crop-scale/--jitter adds "augment" to the header and, per batch, "augments":
[{"crop":[f,u,v],"tone":[gain,shift]},...] (pipeline/decode/augment.ts applies them).
Read from DIR/run.json (written when a run starts, so the run may still be going).
  --run DIR     a training run folder (deno task train --out DIR)
  --steps N     batches to write (default: the run's step count)
  --out FILE    where to write (default DIR/order.jsonl)
  -h, --help    this help

Example:
  deno task train --preset lfw-fold --steps 300 --data fold1/train.lst --out runs/a
  deno task train-order --run runs/a
  /usr/bin/python3 scripts/torch_run.py --like runs/a --out runs/a-torch`;

await runTask("train-order", async () => {
  const { flags } = parseFlags(Deno.args, {
    run: { type: "string" },
    steps: { type: "int", min: 1 },
    out: { type: "string" },
  }, { help: HELP });
  if (!flags.run) throw new UsageError("--run DIR is required");
  const { readRunJson } = await import("../model/train/run_folder.ts");
  const { loadTrainData } = await import("../model/train/train_data.ts");
  const { listBatches } = await import("../pipeline/batch/train_batches.ts");
  const { batchFlips } = await import("../pipeline/batch/decode_batch_stream.ts");
  const { batchAugments, checkAugment } = await import("../pipeline/decode/augment.ts");
  const { writeFileAtomic } = await import("../pipeline/atomic_write.ts");
  const run = await readRunJson(flags.run);
  if (!run) throw new Error(`"${flags.run}" has no run.json: start the run first`);
  const c = run.config;
  if (c.data === "-" || c.data.endsWith(".rec")) {
    throw new Error(`"${flags.run}" trains on ${c.data}: only image lists and folders export`);
  }
  const data = await loadTrainData(c.data, c.dataRoot, c.numClasses);
  const steps = flags.steps ?? c.steps;
  const header = {
    numClasses: data.numClasses,
    images: data.size,
    batchSize: c.batchSize,
    steps,
    seed: c.seed,
    flip: c.flip,
    ...(c.augment ? { augment: c.augment } : {}),
  };
  const augmented = checkAugment(c.augment);
  const lines = [JSON.stringify(header)];
  if (data.records instanceof ReadableStream) throw new Error(`"${c.data}" is not a list`);
  // The order trainBatches trains a list run on from its start (one implementation).
  const batches = listBatches(data.records, { batchSize: c.batchSize, seed: c.seed, steps });
  for (const b of batches) {
    lines.push(JSON.stringify({
      step: b.step,
      epoch: b.epoch,
      paths: b.records.map((r) => resolve(r.path ?? r.key)),
      labels: b.records.map((r) => r.label),
      flips: batchFlips(c.seed, b.step, b.records.length, c.flip),
      ...(augmented
        ? { augments: batchAugments(c.seed, b.step, b.records.length, c.augment) }
        : {}),
    }));
  }
  const out = flags.out ?? `${flags.run}/order.jsonl`;
  await writeFileAtomic(out, lines.join("\n") + "\n");
  console.error(`train-order: ${lines.length - 1} batches of ${c.batchSize} -> ${out}`);
});
