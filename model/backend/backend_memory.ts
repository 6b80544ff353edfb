/**
 * Out-of-memory handling. The wasm backend's heap cannot grow past 4 GiB (wasm32), and
 * tfjs-backend-wasm 4.22 does not check `malloc`: a failed allocation returns 0 and the step goes
 * on to fail later as "memory access out of bounds" (or worse, wrong numbers). The guard makes the
 * failing allocation itself throw a clear error, which trainers turn into advice (a smaller
 * batch, or gradient accumulation with `--micro-batch`).
 */

/** Largest wasm32 heap Emscripten allows tfjs-backend-wasm (65535 pages of 64 KiB). */
export const WASM_HEAP_LIMIT_BYTES = 65535 * 65536;

const MB = 1024 * 1024;

/** Thrown when the backend cannot allocate memory for a tensor. */
export class BackendOutOfMemoryError extends RangeError {
  constructor(readonly requestedBytes: number, readonly heapBytes: number) {
    super(
      `Out of memory in the wasm backend: cannot allocate ${(requestedBytes / MB).toFixed(0)} MB ` +
        `(heap ${(heapBytes / MB).toFixed(0)} MB of at most ${
          (WASM_HEAP_LIMIT_BYTES / MB).toFixed(0)
        } MB)`,
    );
    this.name = "BackendOutOfMemoryError";
  }
}

interface WasmModuleLike {
  _malloc(bytes: number): number;
  HEAPU8: Uint8Array;
}

const guarded = new WeakSet<object>();

/** Makes the wasm backend's tensor allocations throw BackendOutOfMemoryError instead of returning 0. */
export function installOutOfMemoryGuard(backend: unknown): void {
  const wasm = (backend as { wasm?: WasmModuleLike }).wasm;
  if (!wasm || guarded.has(wasm)) return;
  guarded.add(wasm);
  // Emscripten's _malloc stub replaces itself with the raw export on first call: re-install.
  let inner = wasm._malloc;
  const guard = (bytes: number) => {
    // tfjs passes sizes as i32: 4 GiB and up would wrap around to a small allocation.
    if (bytes > WASM_HEAP_LIMIT_BYTES) throw new BackendOutOfMemoryError(bytes, wasm.HEAPU8.length);
    const ptr = inner.call(wasm, bytes);
    if (wasm._malloc !== guard) {
      inner = wasm._malloc;
      wasm._malloc = guard;
    }
    if (ptr === 0 && bytes > 0) throw new BackendOutOfMemoryError(bytes, wasm.HEAPU8.length);
    return ptr;
  };
  wasm._malloc = guard;
}

/** True for BackendOutOfMemoryError and for the ways a wasm heap overflow surfaces otherwise. */
export function isOutOfMemoryError(e: unknown): boolean {
  if (e instanceof BackendOutOfMemoryError) return true;
  const text = String((e as Error)?.message ?? e);
  return /out of memory|Aborted\(|Cannot enlarge memory|memory access out of bounds|Maximum memory size exceeded|Array buffer allocation failed/i
    .test(text);
}

/**
 * Turns an out-of-memory failure during a training step into an Error that says what to do; other
 * errors come back unchanged. `batchSize`/`microBatch` describe the step that failed.
 */
export function explainOutOfMemory(
  e: unknown,
  step: { batchSize: number; microBatch?: number },
): Error {
  if (!isOutOfMemoryError(e)) return e instanceof Error ? e : new Error(String(e));
  const per = step.microBatch ?? step.batchSize;
  const half = Math.max(1, Math.floor(per / 2));
  const err = new Error(
    `${(e as Error).message ?? e}. A training step on ${per} images at once does not fit ` +
      `(the wasm backend's heap stops at 4 GiB). Use gradient accumulation: --micro-batch ${half} ` +
      `keeps the batch of ${step.batchSize} but runs it ${
        Math.ceil(step.batchSize / half)
      } images ` +
      `at a time${per > 1 ? "" : " (already 1: use a smaller model or input)"}; the process must ` +
      `be restarted, since a wasm module that ran out of memory cannot be trusted.`,
  );
  err.name = "OutOfMemoryError";
  return err;
}
