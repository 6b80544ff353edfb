/**
 * Chooses the TF.js backend once at start-up. Nothing else in arcstream names a backend.
 *
 * Order: tensorflow (tfjs-node-gpu / tfjs-node) > webgpu (real adapter) > wasm (+ the project's
 * training kernels) > cpu. `--backend NAME` or ARCSTREAM_BACKEND forces one.
 *
 * BOOTSTRAP VERSION: only wasm and cpu for now; the backend helper completes this file.
 */
import * as tf from "@tensorflow/tfjs";

export type BackendName = "tensorflow" | "webgpu" | "wasm" | "cpu";
export const BACKEND_NAMES: readonly BackendName[] = ["tensorflow", "webgpu", "wasm", "cpu"];

export interface BackendInfo {
  name: BackendName;
  /** Human-readable detail, e.g. the WebGPU adapter or the wasm SIMD/threads state. */
  detail: string;
}

export interface BackendOptions {
  /** Backend to force; default "auto" (or ARCSTREAM_BACKEND when set). */
  backend?: BackendName | "auto";
}

/** Initializes and returns the chosen backend. Safe to call more than once. */
export async function initBackend(options: BackendOptions = {}): Promise<BackendInfo> {
  const wanted = options.backend ?? (Deno.env.get("ARCSTREAM_BACKEND") as BackendName | undefined) ??
    "auto";
  if (wanted === "cpu") {
    await tf.setBackend("cpu");
    await tf.ready();
    return { name: "cpu", detail: "pure JS" };
  }
  await import("@tensorflow/tfjs-backend-wasm");
  const ok = await tf.setBackend("wasm");
  if (!ok) throw new Error("The wasm backend could not be initialized");
  await tf.ready();
  return { name: "wasm", detail: "XNNPACK" };
}
