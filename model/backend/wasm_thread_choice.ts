/**
 * How many XNNPACK threads the wasm backend starts, and why: the caller's count (a task's threads
 * flag) > ARCSTREAM_WASM_THREADS > one per physical core (at most 8, the wasm backend's pool).
 * The flag's spelling comes from the caller (`flagName`): the command line stays in tasks/.
 *
 * The count is fixed for the whole process (the threaded build starts its pool once), so it must
 * not follow the load of the moment: the old rule (one thread when the 1-minute load average at
 * start-up was at or above the core count) made an LFW fold run started right after an alignment
 * job train 52 minutes on one thread of an otherwise idle 2-core machine. PyTorch's default is
 * every physical core too (`torch.get_num_threads()`); a user who shares the machine lowers it.
 */

/** The resolved count and the sentence that explains it (printed by train, bench, eval-lfw). */
export interface ThreadChoice {
  threads: number;
  why: string;
}

/** Everything the choice depends on, so that it can be tested with fixed inputs. */
export interface ThreadInputs {
  /** The caller's count (a task's threads flag), or undefined when not given. */
  flag?: number | string;
  /** How `flag` is spelled in `why` and in errors. Default: "wasmThreads" (the backend option). */
  flagName?: string;
  /** ARCSTREAM_WASM_THREADS, or undefined when unset. */
  env?: string;
  /** Physical cores this process may use (see `physicalCores`). */
  cores: number;
}

/** The wasm backend's thread pool holds at most 8 threads. */
export const MAX_WASM_THREADS = 8;

/** Parses a count in [1, 8]; "auto" gives null. Throws a RangeError naming where it came from. */
function parseCount(value: number | string, source: string): number | null {
  if (value === "auto") return null;
  const n = typeof value === "number" ? value : Number(value.trim());
  if (!Number.isInteger(n) || n < 1 || n > MAX_WASM_THREADS) {
    throw new RangeError(
      `${source} must be "auto" or an integer in [1, ${MAX_WASM_THREADS}], got "${value}"`,
    );
  }
  return n;
}

/** Applies the rule to fixed inputs (pure). */
export function chooseWasmThreads(input: ThreadInputs): ThreadChoice {
  const name = input.flagName ?? "wasmThreads";
  if (input.flag !== undefined) {
    const n = parseCount(input.flag, name);
    if (n !== null) return { threads: n, why: `${name} ${n}` };
  }
  if (input.env !== undefined && input.env.trim() !== "") {
    const n = parseCount(input.env, "ARCSTREAM_WASM_THREADS");
    if (n !== null) return { threads: n, why: `ARCSTREAM_WASM_THREADS=${n}` };
  }
  const cores = Math.max(1, Math.floor(input.cores));
  const threads = Math.min(MAX_WASM_THREADS, cores);
  const capped = cores > MAX_WASM_THREADS ? ` (the wasm pool's maximum)` : "";
  return {
    threads,
    why: `one per physical core: ${cores} core${cores === 1 ? "" : "s"}${capped}, as PyTorch; ` +
      `lower it with ${name} N or ARCSTREAM_WASM_THREADS`,
  };
}

/**
 * Physical cores in `/proc/cpuinfo` text: distinct (physical id, core id) pairs, so that
 * hyper-threads count once. Null when the text has no such fields (not Linux x86/arm with them).
 */
export function physicalCoresFromCpuinfo(text: string): number | null {
  const seen = new Set<string>();
  for (const block of text.split(/\n\s*\n/)) {
    const core = /^core id\s*:\s*(\d+)/m.exec(block);
    if (!core) continue;
    const socket = /^physical id\s*:\s*(\d+)/m.exec(block);
    seen.add(`${socket?.[1] ?? 0}/${core[1]}`);
  }
  return seen.size > 0 ? seen.size : null;
}

/**
 * Physical cores this process may use: the cpuinfo count, never more than the logical CPUs Deno
 * reports (its affinity / cgroup-limited count), which is also the answer where cpuinfo is absent.
 */
export function physicalCores(): number {
  const logical = Math.max(1, navigator.hardwareConcurrency || 1);
  let physical: number | null = null;
  try {
    physical = physicalCoresFromCpuinfo(Deno.readTextFileSync("/proc/cpuinfo"));
  } catch {
    // No /proc (macOS, Windows) or no read permission: the logical count.
  }
  return Math.min(logical, physical ?? logical);
}

/** The choice for this process: `flag` (undefined when not given), the env var, the cores. */
export function resolveWasmThreads(flag?: number | string, flagName?: string): ThreadChoice {
  return chooseWasmThreads({
    flag,
    flagName,
    env: Deno.env.get("ARCSTREAM_WASM_THREADS"),
    cores: physicalCores(),
  });
}
