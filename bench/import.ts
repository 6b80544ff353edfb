/**
 * `deno task bench import`: builds arcface_torch-shaped IResNet r50 and r100 `.pth` files (random
 * weights, written by arcstream's own torch.save writer, so no Python is needed) in a temp folder
 * and times `import-torch` on each in a fresh process, reporting seconds and peak RSS as JSON.
 */
import { join } from "node:path";
import { IRESNET_UNITS } from "../model/nets/iresnet.ts";
import type { TorchStateDict } from "../model/io/torch_checkpoint.ts";
import { parseFlags, UsageError } from "../tasks/cli.ts";

const HELP = `Usage: deno task bench import [--depths 50,100] [--backend NAME] [--keep DIR]

Writes an arcface_torch-shaped r<depth> state dict (width 1, embedding 512, 112 px) as a .pth,
then runs the import (read + map + write model.json and .arcs) in a child process per depth.
Prints {"results": [{depth, pthMB, parameters, seconds, peakRssMB}], ...}.
  --depths LIST   depths to time (default 50,100)
  --backend NAME  TF.js backend of the import (default wasm)
  --keep DIR      write the .pth files and imports under DIR instead of a deleted temp folder`;

/** arcface_torch's iresnet.py state dict keys and shapes at width 1. */
export function arcfaceTorchShapes(depth: number, emb = 512): [string, number[]][] {
  const out: [string, number[]][] = [];
  const bn = (p: string, c: number) => {
    for (const k of ["weight", "bias", "running_mean", "running_var"]) out.push([`${p}.${k}`, [c]]);
    out.push([`${p}.num_batches_tracked`, []]);
  };
  out.push(["conv1.weight", [64, 3, 3, 3]]);
  bn("bn1", 64);
  out.push(["prelu.weight", [64]]);
  let inplanes = 64;
  IRESNET_UNITS[depth].forEach((units, s) => {
    const p = 64 << s;
    for (let i = 0; i < units; i++) {
      const l = `layer${s + 1}.${i}`;
      bn(`${l}.bn1`, inplanes);
      out.push([`${l}.conv1.weight`, [p, inplanes, 3, 3]]);
      bn(`${l}.bn2`, p);
      out.push([`${l}.prelu.weight`, [p]]);
      out.push([`${l}.conv2.weight`, [p, p, 3, 3]]);
      bn(`${l}.bn3`, p);
      if (i === 0) {
        out.push([`${l}.downsample.0.weight`, [p, inplanes, 1, 1]]);
        bn(`${l}.downsample.1`, p);
      }
      inplanes = p;
    }
  });
  bn("bn2", 512);
  out.push(["fc.weight", [emb, 512 * 49]], ["fc.bias", [emb]]);
  bn("features", emb);
  return out;
}

/** A state dict of those shapes with small pseudo-random values (variances positive). */
function randomStateDict(depth: number): TorchStateDict {
  let s = 12345 + depth;
  const sd: TorchStateDict = new Map();
  for (const [key, shape] of arcfaceTorchShapes(depth)) {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    const base = key.endsWith("running_var") ? 1 : 0;
    for (let i = 0; i < data.length; i++) {
      s = (s * 1664525 + 1013904223) >>> 0;
      data[i] = base + (s / 4294967296 - 0.5) * 0.1;
    }
    sd.set(key, { shape, dtype: "float32", data });
  }
  return sd;
}

/** Child mode: import one file, print seconds and peak RSS (VmHWM) as JSON. */
async function child(file: string, out: string, backend: string): Promise<void> {
  const started = performance.now();
  const { initBackend, parseBackendName } = await import("../model/backend/backend.ts");
  await initBackend({ backend: parseBackendName(backend) });
  const { importTorchBackbone, writeImported } = await import("../model/io/torch_import.ts");
  const b = await importTorchBackbone(file);
  const read = (performance.now() - started) / 1000;
  await writeImported(b, out, file);
  const params = b.model.countParams();
  b.model.dispose();
  const status = await Deno.readTextFile("/proc/self/status").catch(() => "");
  const hwm = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? NaN) / 1024;
  // utime + stime (fields 14, 15 of /proc/self/stat, in clock ticks of 1/100 s on Linux).
  const stat = (await Deno.readTextFile("/proc/self/stat").catch(() => "")).split(") ")[1]?.split(
    " ",
  );
  const cpu = stat ? (Number(stat[11]) + Number(stat[12])) / 100 : NaN;
  console.log(JSON.stringify({
    seconds: (performance.now() - started) / 1000,
    readAndMapSeconds: read,
    cpuSeconds: cpu,
    peakRssMB: Math.round(hwm),
    parameters: params,
  }));
}

export async function main(args: string[]): Promise<void> {
  const { flags: v } = parseFlags(args, {
    depths: { type: "string", default: "50,100" },
    backend: { type: "string", default: "wasm" },
    keep: { type: "string" },
    child: { type: "string" }, // internal: the .pth a child process imports
    out: { type: "string" }, // internal: the child's output folder
  }, { help: HELP });
  if (v.child) {
    if (!v.out) throw new UsageError("--child needs --out DIR");
    return await child(v.child, v.out, v.backend);
  }
  const depths = v.depths.split(",").map(Number);
  for (const d of depths) {
    if (!(d in IRESNET_UNITS)) throw new UsageError(`--depths: no IR-ResNet depth ${d}`);
  }
  const { encodeTorchCheckpoint } = await import("../model/io/torch_save.ts");
  const dir = v.keep ?? await Deno.makeTempDir({ prefix: "bench_import_" });
  const results = [];
  try {
    for (const depth of depths) {
      const file = join(dir, `arcface_torch_r${depth}.pth`);
      const bytes = encodeTorchCheckpoint(randomStateDict(depth), { prefix: `r${depth}` });
      await Deno.writeFile(file, bytes);
      const p = new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          new URL("./bench.ts", import.meta.url).pathname,
          "import",
          "--child",
          file,
          "--out",
          join(dir, `import_r${depth}`),
          "--backend",
          v.backend,
        ],
        stdout: "piped",
        stderr: "inherit",
      });
      const r = await p.output();
      if (!r.success) throw new Error(`import of r${depth} failed (exit ${r.code})`);
      const lines = new TextDecoder().decode(r.stdout).trim().split("\n");
      results.push({
        depth,
        pthMB: Math.round(bytes.length / 2 ** 20),
        ...JSON.parse(lines[lines.length - 1]),
      });
    }
  } finally {
    if (!v.keep) await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
  console.log(JSON.stringify(
    {
      bench: "import",
      what: "import-torch of arcface_torch-shaped IResNet .pth files (random weights), one " +
        "child process each; seconds = wall clock, cpuSeconds = the child's user + system time",
      loadAverage: Number((await Deno.readTextFile("/proc/loadavg").catch(() => "")).split(" ")[0]),
      backend: v.backend,
      cores: navigator.hardwareConcurrency,
      results,
    },
    null,
    2,
  ));
}

if (import.meta.main) await main(Deno.args);
