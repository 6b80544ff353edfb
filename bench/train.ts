/**
 * `deno task bench train`: images/s of whole training steps (forward, ArcFace loss, backward,
 * momentum SGD) for each case of `BENCH_CASES` (r50 batch 4, r18 and mbf batch 32) on arcstream's
 * backend and, in the same run, in PyTorch (`bench/train_peer.py`) when a Python with torch
 * is found; prints one JSON object with the ratio arcstream / PyTorch per case.
 */
import { parseFlags, runTask, UsageError } from "../tasks/cli.ts";
import { BENCH_CASES, type BenchCase, measureArcstream } from "./train_cases.ts";
import { findTorchPython, measurePeer } from "./train_peer.ts";

const HELP = `Usage: deno task bench train [options]

Times whole training steps (forward + ArcFace s=64 m=0.5 loss + backward + momentum SGD) on
random 112x112 images, on arcstream and on PyTorch in the same run, and prints JSON.

  --cases LIST       comma-separated cases (default ${BENCH_CASES.map((c) => c.name).join(",")}):
                     ${BENCH_CASES.map((c) => `${c.name} batch ${c.batch}`).join(", ")}
  --batch-size N     override every case's batch
  --classes N        identities of the ArcFace head (default 1000)
  --warmup N         untimed steps before timing (default 1)
  --steps N          timed steps (default 3)
  --threads N        threads on both sides: wasm XNNPACK threads and torch.set_num_threads
                     (default 2)
  --micro-batch N    arcstream gradient-accumulation slice for every case (default: the case's,
                     16 for the batch-32 cases, which do not fit the 4 GiB wasm heap at once;
                     0: the whole batch)
  --small-steps N    also time the default training preset, arcstream only (default 0: skip)
  --no-peer          skip PyTorch
  --backend NAME     auto, tensorflow, webgpu, wasm, cpu (default auto)
  -h, --help         this text

PyTorch: ARCSTREAM_PEER_PYTHON, else python3, else /usr/bin/python3, whichever imports torch.
Without one, every ratio is null and "peer.reason" says why.
"ratios.<case>" is arcstream images/s divided by PyTorch images/s on the same case (above 1:
arcstream is faster). "cpuSecondsPerStep" is process CPU time (all threads) per step and
"coresBusy" CPU time / wall time: on a shared machine, compare CPU seconds as well as images/s.
"loadAverage" is the machine's 1-minute load before and after.`;

export async function main(args: string[]): Promise<void> {
  const { flags: v } = parseFlags(args, {
    cases: { type: "string", default: BENCH_CASES.map((c) => c.name).join(",") },
    "batch-size": { type: "int", min: 1 },
    classes: { type: "int", min: 2, default: 1000 },
    warmup: { type: "int", min: 0, default: 1 },
    steps: { type: "int", min: 1, default: 3 },
    threads: { type: "int", min: 1, max: 8, default: 2 },
    "micro-batch": { type: "int", min: 0 },
    "small-steps": { type: "int", min: 0, default: 0 },
    "no-peer": { type: "boolean" },
    backend: { type: "string", default: "auto" },
  }, { help: HELP });
  const cases: BenchCase[] = v.cases.split(",").map((name) => {
    const c = BENCH_CASES.find((k) => k.name === name.trim());
    if (!c) {
      throw new UsageError(
        `--cases: unknown case "${name}" (expected ${BENCH_CASES.map((k) => k.name).join(", ")})`,
      );
    }
    const batch = v["batch-size"] ?? c.batch;
    const microBatch = v["micro-batch"] ?? (batch === c.batch ? c.microBatch ?? 0 : 0);
    return { ...c, batch, microBatch };
  });
  const o = {
    classes: v.classes,
    inputSize: 112,
    warmup: v.warmup,
    steps: v.steps,
    dropout: 0.4,
  };
  const threads = v.threads;
  const smallSteps = v["small-steps"];
  const { initBackend, parseBackendName } = await import("../model/backend/backend.ts");
  const info = await initBackend({ backend: parseBackendName(v.backend), wasmThreads: threads });
  const peer = v["no-peer"]
    ? { python: null, reason: "skipped (--no-peer)" }
    : await findTorchPython();
  const load = () => +Deno.loadavg()[0].toFixed(2);
  const out: Record<string, unknown> = {
    backend: info.name,
    detail: info.detail,
    threads,
    conditions: { ...o, cores: navigator.hardwareConcurrency, loadAverage: [load()] },
    peer,
  };
  const ratios: Record<string, number | null> = {};
  const results: Record<string, unknown> = {};
  for (const c of cases) {
    results[c.name] = await runCase(c, o, threads, peer.python);
    const r = results[c.name] as { ratio: number | null };
    ratios[c.name] = r.ratio;
  }
  out.cases = results;
  out.ratios = ratios;
  if (peer.python === null) out.ratioReason = peer.reason;
  if (smallSteps > 0) out.small = await measureSmallPreset(smallSteps);
  const loads = (out.conditions as { loadAverage: number[] }).loadAverage;
  loads.push(load());
  const cores = navigator.hardwareConcurrency;
  if (Math.max(...loads) > cores) {
    out.warning = `load average up to ${Math.max(...loads)} on ${cores} cores: other jobs took ` +
      `the cores, so images/s and the ratios are not reliable (compare cpuSecondsPerStep, or rerun ` +
      `on a quiet machine)`;
  }
  console.log(JSON.stringify(out, null, 2));
}

/** One case on both sides (arcstream first, then the peer in its own process). */
async function runCase(
  c: BenchCase,
  o: Omit<Parameters<typeof measureArcstream>[1], "microBatch">,
  threads: number,
  python: string | null,
): Promise<{ arcstream: unknown; pytorch: unknown; ratio: number | null }> {
  let arcstream: { imagesPerSec?: number; error?: string };
  try {
    arcstream = await measureArcstream(c, { ...o, microBatch: c.microBatch ?? 0 });
  } catch (e) {
    // A network this checkout cannot build, or out of memory: the other cases still run.
    const { explainOutOfMemory } = await import("../model/backend/backend.ts");
    const err = explainOutOfMemory(e, {
      batchSize: c.batch,
      microBatch: c.microBatch || undefined,
    });
    arcstream = { error: err.message };
  }
  const pytorch = python === null ? null : await measurePeer(python, {
    network: c.name,
    batch: c.batch,
    classes: o.classes,
    inputSize: o.inputSize,
    warmup: o.warmup,
    steps: o.steps,
    threads,
  });
  const a = arcstream.imagesPerSec, p = (pytorch as { imagesPerSec?: number } | null)?.imagesPerSec;
  const ratio = a !== undefined && p !== undefined && p > 0 ? +(a / p).toFixed(3) : null;
  return { arcstream, pytorch, ratio };
}

/** The default training preset (small net, 64x64), arcstream only: what `deno task train` runs. */
async function measureSmallPreset(steps: number) {
  const { presetConfig, DEFAULT_PRESET } = await import("../model/train/presets.ts");
  const p = presetConfig(DEFAULT_PRESET);
  if (p.network.kind !== "iresnet") throw new Error(`${DEFAULT_PRESET} is not an IR-ResNet`);
  const m = await measureArcstream(
    {
      name: DEFAULT_PRESET,
      network: { depth: p.network.depth, width: p.network.width },
      batch: p.batchSize,
    },
    {
      classes: 25,
      inputSize: p.network.inputSize,
      embeddingSize: p.network.embeddingSize,
      warmup: 1,
      steps,
      microBatch: 0,
      dropout: p.network.dropout,
    },
  );
  return { preset: DEFAULT_PRESET, ...m };
}

if (import.meta.main) await runTask("bench train", () => main(Deno.args));
