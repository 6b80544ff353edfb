/**
 * Chooses the TF.js backend once at start-up. Nothing else in arcstream names a backend.
 *
 * Order: tensorflow (tfjs-node-gpu / tfjs-node, when `deno task setup-gpu` installed it) > webgpu
 * (a real adapter; Deno's CPU "llvmpipe" fallback adapter is slower than wasm and is skipped) >
 * wasm (+ arcstream's training kernels, `wasm_kernels.ts`) > cpu. `--backend NAME` (the `backend`
 * option) or ARCSTREAM_BACKEND forces one; a forced backend that cannot start is an error that
 * says why, never a silent fallback.
 */
import * as tf from "@tensorflow/tfjs";
import { registerWasmKernels } from "./wasm_kernels.ts";
import { probeTensorflow, type TensorflowProbe } from "./backend_probe.ts";
import { probeWebGPU, type WebGPUProbe } from "./backend_probe.ts";
import { installOutOfMemoryGuard, WASM_HEAP_LIMIT_BYTES } from "./backend_memory.ts";

export {
  BackendOutOfMemoryError,
  explainOutOfMemory,
  isOutOfMemoryError,
  WASM_HEAP_LIMIT_BYTES,
} from "./backend_memory.ts";
export { probeTensorflow, probeWebGPU } from "./backend_probe.ts";
export type { TensorflowProbe, WebGPUProbe } from "./backend_probe.ts";

export type BackendName = "tensorflow" | "webgpu" | "wasm" | "cpu";
export const BACKEND_NAMES: readonly BackendName[] = ["tensorflow", "webgpu", "wasm", "cpu"];

export interface BackendInfo {
  name: BackendName;
  /** Human-readable detail, e.g. the WebGPU adapter or the wasm SIMD/threads state. */
  detail: string;
  /** Why each backend ranked above the chosen one was passed over (auto only). */
  skipped: string[];
  /** Largest total tensor memory the backend can address, or null when not known. */
  memoryLimitBytes: number | null;
}

export interface BackendOptions {
  /** Backend to force. Default: ARCSTREAM_BACKEND when set, else "auto". */
  backend?: BackendName | "auto";
  /**
   * Threads for the wasm backend's XNNPACK: 1 uses the single-threaded SIMD build, 2-8 the
   * multithreaded one, "auto" one per core (up to 8) when a core is free at start-up (1-minute
   * load average below the core count), else 1: spinning XNNPACK threads on fully busy cores lose
   * more than they gain (measured on 2 cores: an r50 step ran 1.5x faster on 2 threads at load
   * 1.2-1.7, 1.15x at 2.9, and slower in one run at 2.6-3.9). Default: ARCSTREAM_WASM_THREADS when set, else "auto".
   */
  wasmThreads?: number | "auto";
  /** Where warnings go (e.g. forcing WebGPU onto a fallback adapter). Default: console.warn. */
  warn?: (message: string) => void;
}

/** Parses a `--backend` value; throws a RangeError naming the valid choices. */
export function parseBackendName(value: string): BackendName | "auto" {
  const v = value.trim().toLowerCase();
  if (v === "auto" || (BACKEND_NAMES as readonly string[]).includes(v)) {
    return v as BackendName | "auto";
  }
  throw new RangeError(
    `Unknown backend "${value}": expected auto, ${BACKEND_NAMES.join(", ")}`,
  );
}

/** The "auto" rule: one thread per core (up to 8) while a core is free (load below the count). */
export function autoWasmThreads(cores: number, load: number): number {
  const n = Math.max(1, Math.min(8, Math.floor(cores)));
  return n > 1 && load < n ? n : 1;
}

/** Resolves a wasm thread count: an integer in [1, 8] or "auto" (see `wasmThreads`). */
export function parseWasmThreads(value: number | string): number {
  if (value === "auto") {
    const cores = Math.max(1, Math.min(8, navigator.hardwareConcurrency || 1));
    let load = 0;
    try {
      load = Deno.loadavg()[0];
    } catch {
      // No load figure (e.g. Windows): trust the core count.
    }
    return autoWasmThreads(cores, load);
  }
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 8) {
    throw new RangeError(`wasm threads must be "auto" or an integer in [1, 8], got "${value}"`);
  }
  return n;
}

let current: { key: string; info: BackendInfo } | null = null;

/** The backend chosen by the last `initBackend`, or null before it. */
export function currentBackend(): BackendInfo | null {
  return current?.info ?? null;
}

/**
 * Initializes and returns the chosen backend. Safe to call more than once.
 * @example
 * ```ts
 * import { initBackend } from "../mod.ts";
 *
 * const info = await initBackend({ backend: "wasm" }); // or "auto": the best this machine has
 * console.log(info);
 * ```
 */
export async function initBackend(options: BackendOptions = {}): Promise<BackendInfo> {
  const env = Deno.env.get("ARCSTREAM_BACKEND");
  const wanted = options.backend ?? (env ? parseBackendName(env) : "auto");
  if (wanted !== "auto") parseBackendName(wanted);
  const threads = parseWasmThreads(
    options.wasmThreads ?? Deno.env.get("ARCSTREAM_WASM_THREADS") ?? "auto",
  );
  const warn = options.warn ?? ((m: string) => console.warn(m));
  const key = `${wanted}/${threads}`;
  if (current && current.key === key && tf.getBackend() === current.info.name) return current.info;

  const info = wanted === "auto"
    ? await initAuto(threads)
    : await initForced(wanted, threads, warn);
  current = { key, info };
  return info;
}

/**
 * The "auto" rule on probe results: the backends to try, best first (tensorflow when tfjs-node
 * loads, webgpu on a real adapter, then wasm, then cpu), and why each one above wasm is passed
 * over.
 */
export function autoCandidates(
  tfNode: Pick<TensorflowProbe, "loadable" | "reason">,
  gpu: { adapter: { isFallbackAdapter: boolean } | null; reason: string },
): { order: BackendName[]; skipped: string[] } {
  const order: BackendName[] = [];
  const skipped: string[] = [];
  if (tfNode.loadable) order.push("tensorflow");
  else skipped.push(`tensorflow: ${tfNode.reason}`);
  if (gpu.adapter && !gpu.adapter.isFallbackAdapter) order.push("webgpu");
  else skipped.push(`webgpu: ${gpu.reason}`);
  order.push("wasm", "cpu");
  return { order, skipped };
}

async function initAuto(threads: number): Promise<BackendInfo> {
  const tfNode = probeTensorflow();
  const gpu = await probeWebGPU();
  const { order, skipped } = autoCandidates(tfNode, gpu);
  for (const name of order) {
    try {
      if (name === "tensorflow") return { ...(await initTensorflow(tfNode)), skipped };
      if (name === "webgpu") return { ...(await initWebGPU(gpu)), skipped };
      if (name === "wasm") return { ...(await initWasm(threads)), skipped };
      return { ...(await initCpu()), skipped };
    } catch (e) {
      if (name === "cpu") throw e;
      skipped.push(`${name}: ${(e as Error).message}`);
    }
  }
  throw new Error("no backend"); // unreachable: cpu either returns or throws above
}

async function initForced(
  name: BackendName,
  threads: number,
  warn: (m: string) => void,
): Promise<BackendInfo> {
  const fail = (why: string): never => {
    throw new Error(
      `Cannot use the ${name} backend (forced by --backend/ARCSTREAM_BACKEND): ${why}`,
    );
  };
  try {
    if (name === "tensorflow") {
      const probe = probeTensorflow();
      if (!probe.loadable) fail(probe.reason);
      return { ...(await initTensorflow(probe)), skipped: [] };
    }
    if (name === "webgpu") {
      const gpu = await probeWebGPU();
      if (!gpu.adapter) fail(gpu.reason);
      if (gpu.adapter!.isFallbackAdapter) {
        warn(
          `Warning: WebGPU adapter "${gpu.adapter!.description}" is a CPU fallback ` +
            `(isFallbackAdapter); expect it to be slower than --backend wasm.`,
        );
      }
      return { ...(await initWebGPU(gpu)), skipped: [] };
    }
    if (name === "wasm") return { ...(await initWasm(threads)), skipped: [] };
    return { ...(await initCpu()), skipped: [] };
  } catch (e) {
    if ((e as Error).message.startsWith("Cannot use the")) throw e;
    return fail((e as Error).message);
  }
}

type Chosen = Omit<BackendInfo, "skipped">;

async function setBackend(name: string): Promise<void> {
  const ok = await tf.setBackend(name);
  if (!ok) throw new Error(`tf.setBackend("${name}") failed to initialize it`);
  await tf.ready();
  quietCpuBanner();
}

/** tfjs-backend-cpu prints a "use tfjs-node" banner on first use under Node-like runtimes. */
function quietCpuBanner(): void {
  const cpu = tf.findBackend("cpu") as unknown as { firstUse?: boolean } | null;
  if (cpu) cpu.firstUse = false;
}

async function initTensorflow(probe: TensorflowProbe): Promise<Chosen> {
  // A variable specifier: `deno check`/`deno install` must not try to fetch the package.
  const specifier = `npm:${probe.packageName}@${probe.version}`;
  await import(specifier);
  await setBackend("tensorflow");
  return {
    name: "tensorflow",
    detail: `${probe.packageName} ${probe.version} (libtensorflow${probe.gpu ? ", CUDA" : ""})`,
    memoryLimitBytes: null,
  };
}

async function initWebGPU(gpu: WebGPUProbe): Promise<Chosen> {
  await import("@tensorflow/tfjs-backend-webgpu");
  await setBackend("webgpu");
  const a = gpu.adapter!;
  return {
    name: "webgpu",
    detail: `${a.description || a.vendor || "adapter"}${a.isFallbackAdapter ? " (fallback)" : ""}` +
      `, maxBufferSize ${a.limits.maxBufferSize ?? "?"}`,
    memoryLimitBytes: null,
  };
}

let wasmThreadsLoaded: number | null = null;

async function initWasm(threads: number): Promise<Chosen> {
  const wasm = await import("@tensorflow/tfjs-backend-wasm");
  const kernels = registerWasmKernels();
  let note = "";
  if (threads > 1 && wasmThreadsLoaded !== threads) {
    const { useThreadedWasm } = await import("./wasm_threads.ts");
    const stock = useThreadedWasm(threads);
    try {
      await setBackend("wasm");
      wasmThreadsLoaded = threads;
    } catch (e) {
      // The threaded build needs workers and a writable temp dir; without them, one thread.
      stock();
      note = ` (the ${threads}-thread build failed: ${(e as Error).message})`;
    }
  }
  await setBackend("wasm");
  installOutOfMemoryGuard(tf.backend());
  const simd = await tf.env().getAsync("WASM_HAS_SIMD_SUPPORT");
  return {
    name: "wasm",
    detail: `XNNPACK, SIMD ${simd ? "on" : "off"}, threads ${wasm.getThreadsCount()}, ` +
      `${kernels.length} arcstream kernels${note}`,
    memoryLimitBytes: WASM_HEAP_LIMIT_BYTES,
  };
}

async function initCpu(): Promise<Chosen> {
  await setBackend("cpu");
  return {
    name: "cpu",
    detail: "pure JavaScript (slow; for tests and reference)",
    memoryLimitBytes: null,
  };
}
