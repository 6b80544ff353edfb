/**
 * The prepared device check (`.ci/gpu_check.sh` runs its bundle on a lent GPU machine; see
 * docs/gpu.md): reports the WebGPU adapter, times arcstream's WGSL kernels against
 * tfjs-backend-webgpu's own, `bench train`'s cases on webgpu (r50 batch 64 and 128, mbf batch 128)
 * with peak bytes, and the embedding throughput eval-lfw's forward pass gets, writing one JSON
 * object to `--out` after every stage (a run cut short keeps what it measured).
 * `--quick` shrinks every size for a rehearsal on llvmpipe.
 */
import { parseFlags, runTask } from "../tasks/cli.ts";
import { writeFileAtomic } from "../pipeline/atomic_write.ts";

const HELP = `Usage: deno run -A scripts/gpu_check.ts [--out FILE] [--quick] [--only LIST]
  --out FILE   where the JSON goes (default: $OUT/gpu_check.json, else gpu_check.json)
  --quick      tiny sizes (a rehearsal on a CPU adapter; the figures mean nothing)
  --only LIST  stages to run, comma-separated: kernels,train,embed (default all)
Exit status: 0 when every stage ran, 1 when the adapter did not come up or a stage failed.`;

type Report = Record<string, unknown>;

async function adapterStage(report: Report): Promise<boolean> {
  const { probeWebGPU } = await import("../model/backend/backend.ts");
  const p = await probeWebGPU(30_000);
  const a = p.adapter;
  report.adapter = a
    ? {
      ...a,
      shaderF16: a.features.includes("shader-f16"),
      timestampQuery: a.features.includes("timestamp-query"),
    }
    : null;
  report.adapterReason = p.reason;
  if (a?.isFallbackAdapter) {
    report.adapterProblem = "only a CPU fallback adapter: the GPU's Vulkan ICD is missing or " +
      "failed to load (see vulkan.txt: loader, VK_DRIVER_FILES, ICD files)";
  }
  return a !== null;
}

async function kernelsStage(report: Report, quick: boolean) {
  const tf = await import("@tensorflow/tfjs");
  const { compareWebGPUKernels } = await import("../bench/webgpu_kernels.ts");
  report.kernels = await compareWebGPUKernels(tf, quick ? 1 : 16, quick ? 1 : 5);
}

async function trainStage(report: Report, quick: boolean, save: () => Promise<void>) {
  const { BENCH_CASES, measureArcstream } = await import("../bench/train_cases.ts");
  const { explainOutOfMemory } = await import("../model/backend/backend.ts");
  const plan: [string, number][] = quick ? [["r18", 2], ["mbf", 2]] : [
    ["mbf", 128],
    ["r50", 64],
    ["r50", 128],
  ];
  const rows: unknown[] = [];
  report.train = rows;
  for (const [name, batch] of plan) {
    const c = BENCH_CASES.find((k) => k.name === name)!;
    const o = {
      classes: quick ? 100 : 10000,
      inputSize: quick ? 32 : 112,
      warmup: 1,
      steps: quick ? 1 : 3,
      microBatch: 0,
      dropout: 0.4,
    };
    try {
      rows.push(await measureArcstream({ ...c, batch }, o));
    } catch (e) {
      rows.push({
        network: name,
        batch,
        error: explainOutOfMemory(e, { batchSize: batch }).message,
      });
    }
    await save();
  }
}

/** Forward-only images/s of r50 / mbf at batch 128 (what eval-lfw's embedding runs, no decode). */
async function embedStage(report: Report, quick: boolean) {
  const tf = await import("@tensorflow/tfjs");
  const { buildNetwork, networkConfig } = await import("../model/nets/network.ts");
  const rows = [];
  for (const arch of ["mbf", "iresnet"] as const) {
    const size = quick ? 32 : 112, batch = quick ? 4 : 128;
    const model = buildNetwork(
      networkConfig(arch === "mbf" ? { arch, inputSize: size } : { depth: 50, inputSize: size }),
    );
    const x = tf.randomUniform([batch, size, size, 3], -1, 1, "float32", 1);
    try {
      const once = async () => {
        const t = performance.now();
        const y = model.predict(x) as typeof x;
        await y.data();
        y.dispose();
        return performance.now() - t;
      };
      await once();
      const ms = [await once(), await once(), await once()].sort((a, b) => a - b)[1];
      rows.push({
        net: arch === "mbf" ? "mbf" : "r50",
        batch,
        inputSize: size,
        imagesPerSec: +(batch * 1000 / ms).toFixed(1),
      });
    } finally {
      x.dispose();
      model.dispose();
    }
  }
  report.embed = rows;
}

async function main(args: string[]): Promise<number> {
  const { flags: v } = parseFlags(args, {
    out: { type: "string" },
    quick: { type: "boolean" },
    only: { type: "string", default: "kernels,train,embed" },
  }, { help: HELP });
  const outDir = Deno.env.get("OUT");
  const out = v.out ?? (outDir ? `${outDir}/gpu_check.json` : "gpu_check.json");
  const report: Report = { started: new Date().toISOString(), quick: !!v.quick };
  const save = () => writeFileAtomic(out, JSON.stringify(report, null, 2) + "\n");
  if (!(await adapterStage(report)) || (report.adapterProblem && !v.quick)) {
    await save();
    console.error(
      `gpu_check: ${report.adapterProblem ?? `no WebGPU adapter: ${report.adapterReason}`}`,
    );
    return 1;
  }
  const { initBackend } = await import("../model/backend/backend.ts");
  const info = await initBackend({ backend: "webgpu", warn: (m) => console.error(m) });
  report.backend = info.detail;
  await save();
  const stages = v.only.split(",").map((s) => s.trim());
  let failed = 0;
  for (const stage of stages) {
    const t = performance.now();
    try {
      if (stage === "kernels") await kernelsStage(report, !!v.quick);
      else if (stage === "train") await trainStage(report, !!v.quick, save);
      else if (stage === "embed") await embedStage(report, !!v.quick);
      else throw new Error(`unknown stage "${stage}"`);
    } catch (e) {
      failed++;
      report[`${stage}Error`] = (e as Error).message;
    }
    report[`${stage}Seconds`] = +((performance.now() - t) / 1000).toFixed(1);
    await save();
    console.error(`gpu_check: ${stage} done in ${report[`${stage}Seconds`]} s`);
  }
  return failed ? 1 : 0;
}

if (import.meta.main) await runTask("gpu_check", () => main(Deno.args));
