/**
 * The PyTorch side of `deno task bench train`: finds a Python with torch and runs
 * `bench/train_peer.py` on one case, in its own process (through `peer.ts`).
 */
import { findPeerPython, type PeerPython, runPeerScript } from "./peer.ts";

/** A Python that can `import torch` (`version`: torch's), or why none was found. */
export function findTorchPython(): Promise<PeerPython> {
  return findPeerPython(["torch"]);
}

export interface PeerOptions {
  network: string;
  batch: number;
  classes: number;
  inputSize: number;
  warmup: number;
  steps: number;
  threads: number;
}

/** Runs the peer script on one case; its JSON object, or `{error}` with its last stderr line. */
export async function measurePeer(
  python: string,
  o: PeerOptions,
): Promise<Record<string, unknown>> {
  return await runPeerScript(python, "train_peer.py", [
    "--network",
    o.network,
    "--batch",
    String(o.batch),
    "--classes",
    String(o.classes),
    "--input-size",
    String(o.inputSize),
    "--warmup",
    String(o.warmup),
    "--steps",
    String(o.steps),
    "--threads",
    String(o.threads),
  ]);
}
