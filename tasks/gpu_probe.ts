/**
 * `deno task gpu-probe [--timeout 45] [--batch 8]`: one JSON object on stdout with the Deno
 * version, which TF.js backends start, the WebGPU adapter (isFallbackAdapter, description,
 * limits), and the time of a conv2d forward + backward at a fixed size on each backend that starts.
 *
 * Each backend is timed in its own child process with a deadline, so a driver that hangs costs
 * one timeout and never the whole probe (well under 2 minutes in all).
 */
import { parseFlags, runTask, UsageError } from "./cli.ts";
import type * as tfTypes from "@tensorflow/tfjs";

const HELP = `Usage: deno task gpu-probe [options]   (prints one JSON object)
  --timeout S     seconds allowed per backend (start + timing); all backends together
                  get at most 105 s (default 70)
  --batch N       batch of the timed conv: x [N, 56, 56, 64], filter [3, 3, 64, 64] (default 8)
  --backends L    comma-separated backends to time, in order (default wasm,tensorflow,webgpu)
  -h, --help      this help

Run it on the machine whose accelerator you want to know about; it installs nothing.`;

/** The timed op: conv2d 3x3 64->64 stride 1 'same' at 56x56, forward and both gradients. */
async function child(name: string, batch: number): Promise<void> {
  const tf = await import("@tensorflow/tfjs");
  const { initBackend } = await import("../model/backend/backend.ts");
  const warnings: string[] = [];
  const t0 = performance.now();
  const info = await initBackend({
    backend: name as "wasm",
    warn: (m) => warnings.push(m),
  });
  const initMs = performance.now() - t0;
  const x = tf.randomNormal([batch, 56, 56, 64], 0, 1, "float32", 1) as tfTypes.Tensor4D;
  const f = tf.randomNormal([3, 3, 64, 64], 0, 0.05, "float32", 2) as tfTypes.Tensor4D;
  const grads = tf.grads((x: tfTypes.Tensor, f: tfTypes.Tensor) =>
    tf.conv2d(x as tfTypes.Tensor4D, f as tfTypes.Tensor4D, 1, "same").square().mean()
  );
  const once = async () => {
    const t = performance.now();
    const [gx, gf] = grads([x, f]);
    await gx.data();
    await gf.data(); // reading back waits for the device
    tf.dispose([gx, gf]);
    return performance.now() - t;
  };
  try {
    await timeSteps(info, initMs, warnings, batch, once);
  } finally {
    tf.dispose([x, f]);
  }
}

/** Times `once` (first call apart: it includes shader compilation) and prints the child's JSON. */
async function timeSteps(
  info: { name: string; detail: string },
  initMs: number,
  warnings: string[],
  batch: number,
  once: () => Promise<number>,
): Promise<void> {
  const first = await once(); // includes shader compilation / operator creation
  // Up to 3 timed runs, fewer on a slow device (a CPU fallback adapter takes ~25 s per run).
  const times: number[] = [];
  const t1 = performance.now();
  while (times.length < 3 && performance.now() - t1 < 10_000) times.push(await once());
  times.sort((a, b) => a - b);
  const flops = 3 * 2 * batch * 56 * 56 * 64 * 64 * 9; // forward + 2 gradients
  console.log(JSON.stringify({
    backend: info.name,
    detail: info.detail,
    warnings,
    init_ms: Math.round(initMs),
    first_step_ms: Math.round(first),
    timed_runs: times.length,
    conv_fwd_bwd_ms: +times[times.length >> 1].toFixed(1),
    gflops: +(flops / times[times.length >> 1] / 1e6).toFixed(1),
  }));
}

async function timeBackend(name: string, batch: number, timeoutS: number) {
  const started = performance.now();
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        new URL(import.meta.url).pathname,
        "--child",
        name,
        "--batch",
        `${batch}`,
      ],
      signal: AbortSignal.timeout(timeoutS * 1000),
      stdin: "null",
    }).output();
    const stdout = new TextDecoder().decode(out.stdout).trim().split("\n").pop() ?? "";
    if (out.code === 0 && stdout.startsWith("{")) return { starts: true, ...JSON.parse(stdout) };
    const stderr = new TextDecoder().decode(out.stderr).trim().split("\n");
    const why = stderr.find((l) => /Error|Cannot use/.test(l)) ?? stderr.pop() ??
      `exit ${out.code}`;
    // deno-lint-ignore no-control-regex
    return { starts: false, error: why.replace(/\x1b\[[0-9;]*m/g, "").trim() };
  } catch (e) {
    const s = ((performance.now() - started) / 1000).toFixed(0);
    return { starts: false, error: `no answer within ${s} s (${(e as Error).name}); killed` };
  }
}

export async function main(args: string[]): Promise<void> {
  const { flags: values } = parseFlags(args, {
    timeout: { type: "number", above: 0, default: 70 },
    batch: { type: "int", min: 1, default: 8 },
    backends: { type: "string", default: "wasm,tensorflow,webgpu" },
    child: { type: "string" },
  }, { help: HELP });
  const { batch, timeout: timeoutS } = values;
  if (values.child) return await child(values.child, batch);

  const { probeTensorflow, probeWebGPU } = await import("../model/backend/backend_probe.ts");
  const names = values.backends!.split(",").map((s) => s.trim()).filter(Boolean);
  for (const n of names) {
    if (!["tensorflow", "webgpu", "wasm", "cpu"].includes(n)) {
      throw new UsageError(`--backends: unknown backend "${n}"`);
    }
  }
  // One budget for the adapter query and all backends, so the probe ends within ~2 minutes.
  const deadline = performance.now() + 105_000;
  const tensorflow = probeTensorflow();
  const gpu = await probeWebGPU(Math.min(15_000, timeoutS * 1000));
  const backends: Record<string, unknown> = {};
  for (const name of names) {
    const left = Math.floor((deadline - performance.now()) / 1000);
    if (name === "tensorflow" && !tensorflow.loadable) {
      backends[name] = { starts: false, error: tensorflow.reason };
    } else if (name === "webgpu" && !gpu.adapter) {
      backends[name] = { starts: false, error: gpu.reason };
    } else if (left < 5) {
      backends[name] = { starts: null, error: "not timed: the probe's 105 s budget ran out" };
    } else backends[name] = await timeBackend(name, batch, Math.min(timeoutS, left));
  }
  console.log(JSON.stringify(
    {
      probe: "gpu",
      deno: Deno.version,
      os: `${Deno.build.os} ${Deno.osRelease()} ${Deno.build.arch}`,
      cpus: navigator.hardwareConcurrency,
      webgpu_adapter: gpu.adapter ?? { error: gpu.reason },
      tensorflow_package: tensorflow,
      conv: `conv2d 3x3 64->64 'same', x [${batch}, 56, 56, 64], forward + dx + dW, ` +
        `median of up to 3 runs`,
      backends,
    },
    null,
    2,
  ));
}

if (import.meta.main) await runTask("gpu-probe", () => main(Deno.args));
