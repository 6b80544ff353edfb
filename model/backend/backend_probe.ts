/**
 * Looks for backends without starting them: an installed tfjs-node(-gpu) with its native binding,
 * and the WebGPU adapter Deno offers. Neither probe installs or downloads anything.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export interface TensorflowProbe {
  /** True when a package and its native binding are both present. */
  loadable: boolean;
  /** Why it is not loadable (or where it was found). */
  reason: string;
  packageName: string;
  version: string;
  gpu: boolean;
}

/** The packages `deno task setup-gpu` installs, preferred first. */
export const TENSORFLOW_PACKAGES = ["@tensorflow/tfjs-node-gpu", "@tensorflow/tfjs-node"] as const;

/** node_modules folders to look in: the project's (beside deno.json), then the working dir's. */
function nodeModulesDirs(): string[] {
  const project = join(fileURLToPath(new URL("..", import.meta.url)), "node_modules");
  const cwd = join(Deno.cwd(), "node_modules");
  return project === cwd ? [project] : [project, cwd];
}

/**
 * Where a package can sit: node_modules/NAME, or (installed by `deno install --entrypoint`,
 * without a top-level link) Deno's node_modules/.deno/NAME@VERSION/node_modules/NAME.
 */
function packageDirs(dir: string, name: string): string[] {
  const dirs = [join(dir, name)];
  const store = join(dir, ".deno");
  if (existsSync(store)) {
    const prefix = `${name.replace("/", "+")}@`;
    for (const e of readdirSync(store)) {
      if (e.startsWith(prefix)) dirs.push(join(store, e, "node_modules", name));
    }
  }
  return dirs;
}

/** Finds `*.node` native bindings under a package's lib/ (tfjs-node: lib/napi-vN/tfjs_binding.node). */
function hasBinding(pkgDir: string): boolean {
  const lib = join(pkgDir, "lib");
  if (!existsSync(lib)) return false;
  for (const entry of readdirSync(lib, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    if (readdirSync(join(lib, entry.name)).some((f) => f.endsWith(".node"))) return true;
  }
  return false;
}

/** Is tfjs-node-gpu or tfjs-node installed and built? Reads files only. */
export function probeTensorflow(): TensorflowProbe {
  for (const dir of nodeModulesDirs()) {
    for (const name of TENSORFLOW_PACKAGES) {
      const pkgDir = packageDirs(dir, name).find((d) => existsSync(join(d, "package.json")));
      if (!pkgDir) continue;
      const manifest = join(pkgDir, "package.json");
      let version = "?";
      try {
        version = JSON.parse(readFileSync(manifest, "utf8")).version ?? "?";
      } catch {
        // A broken manifest reads as "not loadable" below.
      }
      const gpu = name.endsWith("-gpu");
      if (!hasBinding(pkgDir)) {
        return {
          loadable: false,
          packageName: name,
          version,
          gpu,
          reason: `${name} ${version} is installed in ${dir} but its native binding ` +
            `(lib/napi-v*/tfjs_binding.node) is missing: its install script could not download ` +
            `libtensorflow; rerun "deno task setup-gpu" where storage.googleapis.com is reachable`,
        };
      }
      return { loadable: true, packageName: name, version, gpu, reason: `found in ${dir}` };
    }
  }
  return {
    loadable: false,
    packageName: TENSORFLOW_PACKAGES[0],
    version: "4.22.0",
    gpu: true,
    reason: `neither ${TENSORFLOW_PACKAGES.join(" nor ")} is installed ` +
      `(run "deno task setup-gpu", or "deno task setup-gpu --cpu-only")`,
  };
}

export interface AdapterSummary {
  description: string;
  vendor: string;
  architecture: string;
  device: string;
  isFallbackAdapter: boolean;
  limits: Record<string, number>;
  features: string[];
}

export interface WebGPUProbe {
  adapter: AdapterSummary | null;
  /** Why WebGPU is not usable for auto selection, or a one-line adapter summary. */
  reason: string;
}

let cachedGpu: Promise<WebGPUProbe> | null = null;

/** Asks Deno's navigator.gpu for an adapter (once per process), giving up after `timeoutMs`. */
export function probeWebGPU(timeoutMs = 10_000): Promise<WebGPUProbe> {
  cachedGpu ??= probeOnce(timeoutMs);
  return cachedGpu;
}

/**
 * Deno's WebGPU (wgpu) opens the windowing libraries while it looks for adapters; without
 * XDG_RUNTIME_DIR they print `error: XDG_RUNTIME_DIR is invalid or not set` to stderr on every
 * run. A private (0700) folder per user keeps them quiet; nothing is written into it.
 */
function ensureRuntimeDir(): void {
  try {
    const dir = Deno.env.get("XDG_RUNTIME_DIR");
    if (dir && Deno.statSync(dir).isDirectory) return;
  } catch {
    // Set but missing: replace it below.
  }
  try {
    const tmp = Deno.env.get("TMPDIR") || "/tmp";
    const path = `${tmp}/arcstream-runtime-${Deno.uid() ?? "user"}`;
    Deno.mkdirSync(path, { recursive: true, mode: 0o700 });
    Deno.env.set("XDG_RUNTIME_DIR", path);
  } catch {
    // No env/write permission: the probe still works, only noisier.
  }
}

async function probeOnce(timeoutMs: number): Promise<WebGPUProbe> {
  // deno-lint-ignore no-explicit-any
  const gpu = (navigator as any).gpu;
  if (!gpu) return { adapter: null, reason: "this Deno has no navigator.gpu" };
  ensureRuntimeDir();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<"timeout">((
    r,
  ) => (timer = setTimeout(() => r("timeout"), timeoutMs)));
  try {
    const adapter = await Promise.race([
      gpu.requestAdapter({ powerPreference: "high-performance" }),
      timeout,
    ]);
    if (adapter === "timeout") {
      return {
        adapter: null,
        reason: `navigator.gpu.requestAdapter() gave no answer in ${timeoutMs} ms`,
      };
    }
    if (!adapter) return { adapter: null, reason: "navigator.gpu found no WebGPU adapter" };
    const info = adapter.info ?? {};
    const limits: Record<string, number> = {};
    for (const k in adapter.limits) limits[k] = adapter.limits[k];
    const summary: AdapterSummary = {
      description: String(info.description ?? ""),
      vendor: String(info.vendor ?? ""),
      architecture: String(info.architecture ?? ""),
      device: String(info.device ?? ""),
      isFallbackAdapter: Boolean(info.isFallbackAdapter ?? adapter.isFallbackAdapter),
      limits,
      features: [...(adapter.features ?? [])].map(String),
    };
    const reason = summary.isFallbackAdapter
      ? `only a CPU fallback adapter ("${summary.description}", isFallbackAdapter), slower than wasm`
      : `adapter "${summary.description}"`;
    return { adapter: summary, reason };
  } catch (e) {
    return {
      adapter: null,
      reason: `navigator.gpu.requestAdapter() failed: ${(e as Error).message}`,
    };
  } finally {
    clearTimeout(timer);
  }
}
