/**
 * Loads tfjs-backend-wasm's multithreaded SIMD build under Deno, so XNNPACK uses several cores.
 *
 * The package's own loader cannot: under Deno it sees a Node-like runtime and reports
 * WASM_HAS_MULTITHREAD_SUPPORT = false; when forced, it hands node:worker_threads a blob: URL
 * (rejected), the pthread worker script assigns read-only globals (`location`), and the C++ side
 * caps the pool at os.cpus().length / 2 (1 thread on a 2-core machine). Here the Emscripten
 * factory is called directly with a real worker file (written once to the temp dir), and the core
 * count it sees is doubled while the module starts.
 */
import * as tf from "@tensorflow/tfjs-core";
import { BackendWasm, setThreadsCount } from "@tensorflow/tfjs-backend-wasm";
import { createRequire } from "node:module";
import os from "node:os";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";

const require = createRequire(import.meta.url);

/** Directory of the installed tfjs-backend-wasm package's Emscripten output. */
function wasmOutDir(): string {
  return join(dirname(require.resolve("@tensorflow/tfjs-backend-wasm/package.json")), "wasm-out");
}

/**
 * Writes the pthread worker script (atomically) into a folder of the temp dir that only this user
 * can write, and returns its path. The file is code every wasm worker runs, so a folder shared with
 * other users, or a file whose bytes differ from the package's, is never used as it is.
 */
function workerFile(out: string): string {
  const { wasmWorkerContents } = require(join(out, "tfjs-backend-wasm-threaded-simd.worker.js"));
  const source = (wasmWorkerContents as string)
    // The template literal holds "\n" escapes that must stay escapes in the file.
    .replace(/\n/g, "\\n")
    // Deno's worker global scope has getter-only properties (location): assign what can be.
    .replace(
      "Object.assign(global,",
      "(function(t,s){for(const k in s){try{t[k]=s[k]}catch(_){}}})(global,",
    );
  const uid = Deno.uid();
  const dir = join(os.tmpdir(), `arcstream-tfjs-wasm-4.22.0-${uid ?? "user"}`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = Deno.lstatSync(dir);
  if (!st.isDirectory || (uid !== null && st.uid !== uid) || ((st.mode ?? 0) & 0o022) !== 0) {
    throw new Error(
      `Cannot use "${dir}" for the wasm worker script: it must be a folder of this user that ` +
        `others cannot write (remove it)`,
    );
  }
  const path = join(dir, "pthread-worker.cjs");
  if (existsSync(path) && readFileSync(path, "utf8") === source) return path;
  const tmp = `${path}.${Deno.pid}.tmp`;
  writeFileSync(tmp, source, { mode: 0o600 });
  renameSync(tmp, path);
  return path;
}

/**
 * Re-registers the "wasm" backend to start the threaded build with `threads` threads (before
 * the wasm backend is next initialized; kernels registered for "wasm" apply unchanged). Returns a
 * function that puts the previous (single-threaded) registration back.
 */
export function useThreadedWasm(threads: number): () => void {
  if (!Number.isInteger(threads) || threads < 2 || threads > 8) {
    throw new RangeError(`wasm threads must be an integer in [2, 8], got ${threads}`);
  }
  const out = wasmOutDir();
  const worker = workerFile(out);
  const mainScript = join(out, "tfjs-backend-wasm-threaded-simd.js");
  const factory = require(mainScript);
  setThreadsCount(threads);
  // The engine's registry is not public API; keep the stock factory to restore on failure.
  const registry = (tf.engine() as unknown as {
    registryFactory: Record<string, { factory: () => tf.KernelBackend; priority: number }>;
  }).registryFactory;
  const previous = registry["wasm"];
  tf.removeBackend("wasm");
  tf.registerBackend("wasm", async () => {
    const realCpus = os.cpus;
    const realWorker = globalThis.Worker;
    // The C++ side starts min(threads, cores / 2) threads, assuming hyper-threading.
    const cpus = () => [...realCpus(), ...realCpus()];
    (os as { cpus: typeof os.cpus }).cpus = cpus;
    try {
      // deno-lint-ignore no-explicit-any
      const module: any = await factory({
        locateFile: (p: string) => (p.endsWith(".worker.js") ? worker : join(out, p)),
        mainScriptUrlOrBlob: mainScript,
      });
      const fn = (name: string, ret: string | null, args: string[]) =>
        module.cwrap(name, ret, args);
      module.tfjs = {
        init: fn("init", null, []),
        initWithThreadsCount: fn("init_with_threads_count", null, ["number"]),
        getThreadsCount: fn("get_threads_count", "number", []),
        registerTensor: fn("register_tensor", null, ["number", "number", "number"]),
        disposeData: fn("dispose_data", null, ["number"]),
        dispose: fn("dispose", null, []),
      };
      const backend = new BackendWasm(module);
      // The running pthreads hold a ref on the event loop; without this a script never exits.
      for (const w of module.PThread?.runningWorkers ?? []) w.unref?.();
      return backend;
    } finally {
      (os as { cpus: typeof os.cpus }).cpus = realCpus;
      // Emscripten's Node path replaces the global Worker with node:worker_threads' one; its 8
      // pthread workers exist by now, so Deno's Web Worker can come back for everyone else.
      globalThis.Worker = realWorker;
    }
  }, 2);
  return () => {
    setThreadsCount(1);
    tf.removeBackend("wasm");
    if (previous) tf.registerBackend("wasm", previous.factory, previous.priority);
  };
}
