/**
 * The PyTorch side of `deno task bench train`: finds a Python with torch and runs
 * `tasks/bench_train_peer.py` on one case, in its own process, reading its JSON line.
 */
import { fromFileUrl } from "@std/path/from-file-url";

/** A Python interpreter that can `import torch`, or why none was found. */
export type PeerPython = { python: string; torch: string } | { python: null; reason: string };

const PEER_SCRIPT = fromFileUrl(new URL("./bench_train_peer.py", import.meta.url));

async function run(cmd: string, args: string[]) {
  try {
    const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
    const dec = new TextDecoder();
    return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
  } catch (e) {
    // Not installed (NotFound) or not executable.
    return { code: -1, stdout: "", stderr: e instanceof Error ? e.message : String(e) };
  }
}

const lastLine = (s: string) => s.trim().split("\n").pop()?.trim() ?? "";

/**
 * ARCSTREAM_PEER_PYTHON when set (no fallback: the user chose it), else the first of `python3`,
 * `/usr/bin/python3` whose `import torch` works.
 */
export async function findPeerPython(
  env: string | undefined = Deno.env.get("ARCSTREAM_PEER_PYTHON"),
): Promise<PeerPython> {
  const candidates = env ? [env] : ["python3", "/usr/bin/python3"];
  const tried: string[] = [];
  for (const python of candidates) {
    const r = await run(python, ["-c", "import torch; print(torch.__version__)"]);
    if (r.code === 0) return { python, torch: lastLine(r.stdout) };
    const why = lastLine(r.stderr) || `exit status ${r.code}`;
    tried.push(`${python}: ${why}`);
  }
  const source = env ? "ARCSTREAM_PEER_PYTHON" : "python3, /usr/bin/python3";
  return { python: null, reason: `no Python with torch (${source}): ${tried.join("; ")}` };
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
  const args = [
    PEER_SCRIPT,
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
  ];
  const r = await run(python, args);
  if (r.code !== 0) {
    return { error: `PyTorch peer failed (exit ${r.code}): ${lastLine(r.stderr)}` };
  }
  try {
    return JSON.parse(lastLine(r.stdout));
  } catch {
    return { error: `PyTorch peer printed no JSON: ${lastLine(r.stdout).slice(0, 200)}` };
  }
}
